"""`make bench`: every figure beside a peer or physical limit measured in the same run."""

from __future__ import annotations

import sys

from bench import (
    access_bench,
    api_bench,
    cli_bench,
    export_bench,
    guomi_hash,
    integrity_bench,
    ledger_bench,
    media_bench,
    pages_bench,
    proof_bench,
    s3_bench,
    sm2_bench,
    sm4_bench,
    station_bench,
    stations_sync_bench,
    supervision_bench,
    tiles_bench,
    timestamp_bench,
    transports_bench,
    uploads_bench,
)


def main() -> None:
    which = set(sys.argv[1:])
    for name, module in (("ledger", ledger_bench), ("integrity", integrity_bench),
                         ("proofs", proof_bench), ("station", station_bench),
                         ("media", media_bench), ("s3", s3_bench), ("api", api_bench),
                         ("cli", cli_bench), ("sm2", sm2_bench),
                         ("timestamps", timestamp_bench), ("access", access_bench),
                         ("guomi", guomi_hash), ("sm4", sm4_bench),
                         ("stations", stations_sync_bench), ("supervision", supervision_bench),
                         ("pages", pages_bench), ("transports", transports_bench),
                         ("tiles", tiles_bench), ("uploads", uploads_bench),
                         ("export", export_bench)):
        if not which or name in which:
            module.run()
    if not which or "dock" in which:  # 8 recorders with SM3 + SM4 on, beside the crypto bound
        station_bench.run_dock()


if __name__ == "__main__":
    main()
