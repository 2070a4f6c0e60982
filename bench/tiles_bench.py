"""Tiles figures (issue 18): publishing a whole log as C2SP tlog-tiles (entries/s, goal ≥ 10,000)
beside reading the same entries from the store; the audit from tiles alone beside the database
audit of the same log (goal ≤ 1.5×); proofs from tiles through the bounded cache beside the
store's in-memory levels. ``LIUHEN_BENCH_TILES_N`` sets the log size (default 200,000, under a
minute here; 1,000,000 took 5.5 minutes, most of it the database audit run three times)."""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from api.compose import utc_now
from bench.common import make_entries, median_time, report
from evidence.ids import Origin
from integrity.trust import TrustRoot
from ledger.audit import run_audit
from ledger.publishing import publish_checkpoint
from ledger.tiles import TileProofs, audit_tiles, publish_tiles
from storage.ledger_store import SqlLedgerStore
from storage.tilestore import LocalTileStore
from tests.support.keys import signer

ORIGIN = Origin("liuhen.bench/tiles/v1")
BUILD_BATCH = 50_000  # append_batch size while building the ledger: setup, not measured
PICKS = 1_000  # proofs per timed run


def run() -> None:
    n = int(os.environ.get("LIUHEN_BENCH_TILES_N", "200000"))
    station, log = signer("station-01", "station"), signer("liuhen.bench/tiles/log", "log")
    trust = TrustRoot(origin=ORIGIN, keys=(log.public, station.public))
    with tempfile.TemporaryDirectory(prefix="liuhen-tiles-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        with SqlLedgerStore.open(url, origin=ORIGIN, clock=utc_now) as store:
            datas = make_entries(n)
            for i in range(0, n, BUILD_BATCH):
                store.append_batch([(d, "acquired", f"{i + j:064x}")
                                    for j, d in enumerate(datas[i:i + BUILD_BATCH])],
                                   signers=[station])
            del datas
            publish_checkpoint(store, origin=ORIGIN, signers=[log], now=utc_now())
            checkpoint = store.latest_checkpoint()
            assert checkpoint is not None
            root = Path(tmp) / "log"

            def publish() -> None:
                shutil.rmtree(root, ignore_errors=True)
                publish_tiles(LocalTileStore(root), store, checkpoint)

            def read_entries() -> None:
                for _ in store.entry_rows(0, n):
                    pass

            publish_s = median_time(publish)
            report(f"tile publishing of {n:,} entries (entries/s)", n / publish_s, "/s",
                   peer="reading the same entries from SQLite", peer_value=n / median_time(
                       read_entries), goal=">= 10,000/s")
            tiles = LocalTileStore(root)
            tiles_s = median_time(lambda: audit_tiles(tiles, trust))
            db_s = median_time(lambda: run_audit(store, trust))
            report(f"audit from tiles alone at {n:,} (SHA-256 + SM3 trees)", tiles_s, "s",
                   peer="database audit (liuhen audit), same log", peer_value=db_s,
                   goal="<= 1.5x the database audit")
            rng = random.Random(5)  # noqa: S311 - picks proof indices, not secrets
            picks = [rng.randrange(n) for _ in range(PICKS)]
            proofs = TileProofs(tiles)
            store.inclusion_proof(0, n)  # load the store's levels first: not timed

            def from_tiles() -> None:
                for i in picks:
                    proofs.inclusion_proof(i, n)

            def from_levels() -> None:
                for i in picks:
                    store.inclusion_proof(i, n)

            start = time.perf_counter()
            from_tiles()  # cold: every tile read once
            cold_us = (time.perf_counter() - start) / PICKS * 1e6
            report("inclusion proof from tiles, warm cache (per proof)",
                   median_time(from_tiles) / PICKS * 1e6, "us",
                   peer="from the store's in-memory levels",
                   peer_value=median_time(from_levels) / PICKS * 1e6)
            print(f"   (first pass, cache cold: {cold_us:,.0f} us per proof; cache holds "
                  f"{proofs.held_bytes / 1e6:,.1f} MB of at most {proofs.cache_bytes / 1e6:,.0f}"
                  " MB)", flush=True)
