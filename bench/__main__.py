"""`make bench`: every figure beside a peer or physical limit measured in the same run."""

from __future__ import annotations

import sys

from bench import (
    access_bench,
    api_bench,
    cli_bench,
    guomi_hash,
    integrity_bench,
    ledger_bench,
    media_bench,
    pages_bench,
    proof_bench,
    s3_bench,
    sm2_bench,
    station_bench,
    timestamp_bench,
)


def main() -> None:
    which = set(sys.argv[1:])
    for name, module in (("ledger", ledger_bench), ("integrity", integrity_bench),
                         ("proofs", proof_bench), ("station", station_bench),
                         ("media", media_bench), ("s3", s3_bench), ("api", api_bench),
                         ("cli", cli_bench), ("sm2", sm2_bench),
                         ("timestamps", timestamp_bench), ("access", access_bench),
                         ("guomi", guomi_hash), ("pages", pages_bench)):
        if not which or name in which:
            module.run()


if __name__ == "__main__":
    main()
