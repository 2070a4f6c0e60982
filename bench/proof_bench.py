"""Proof figures at 1M entries, for "verify clip by hash" (p99 <= 50 ms, 50 clients): inclusion
proofs from the cached ``MerkleLevels`` beside the full recomputation they replace, at the newest
and at an older tree size; the cache's memory; its cold load from a SQLite ledger beside a bare
sqlite3 read of the same column; and store proof latency under 50 concurrent callers."""

from __future__ import annotations

import hashlib
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

from api.compose import utc_now
from bench.common import make_entries, median_time, report
from evidence.ids import Origin
from integrity import merkle
from storage.ledger_store import SqlLedgerStore
from tests.support.keys import signer

ORIGIN = Origin("liuhen.bench/proofs/v1")
N = 1_000_000
BUILD_BATCH = 50_000  # append_batch size while building the ledger: setup, not measured
PICKS = 1_000  # random leaf indices per timed run of cached proofs
THREADS = 50  # concurrent callers, as the API's goal states
CALLS_PER_THREAD = 200
STEADY_APPEND = 1_000  # one group commit's worth of new entries between two proofs


def _older_size() -> int:
    """A size well below N whose right edge is longest (most set bits): the costliest proofs."""
    return max(range(N // 2, N // 2 + 4096), key=int.bit_count)


def _pure(leaves: list[bytes]) -> None:
    rng = random.Random(11)  # noqa: S311 - picks proof indices, not secrets
    picks = [rng.randrange(N) for _ in range(PICKS)]
    levels = merkle.MerkleLevels(leaves)

    def cached() -> None:
        for i in picks:
            levels.inclusion_proof(i, N)

    cached_us = median_time(cached) / PICKS * 1e6
    full_us = median_time(lambda: merkle.inclusion_proof(leaves, picks[0])) * 1e6
    report("inclusion proof at 1M from MerkleLevels (per proof)", cached_us, "us",
           peer="full recomputation from the leaves", peer_value=full_us, goal="<< 50 ms")
    print(f"   ({full_us / cached_us:,.0f}x faster)", flush=True)

    old = _older_size()
    edge = [old - 1 - rng.randrange(64) for _ in range(PICKS)]  # leaves near its right edge

    def cached_old() -> None:
        for i in edge:
            levels.inclusion_proof(i, old)

    old_us = median_time(cached_old) / PICKS * 1e6
    report(f"  at older size {old:,} ({old.bit_count()} tiles), right-edge leaves", old_us, "us",
           peer="at 1M, random leaves", peer_value=cached_us)

    build_s = median_time(lambda: merkle.MerkleLevels(leaves))
    pair = leaves[0] + leaves[1]

    def hashlib_nodes() -> None:
        sha = hashlib.sha256
        for _ in range(N - 1):
            sha(b"\x01" + pair).digest()

    report("MerkleLevels build over 1M leaf hashes", build_s, "s",
           peer="hashlib sha256 of 1M-1 node inputs", peer_value=median_time(hashlib_nodes))
    report("  MerkleLevels memory at 1M (all levels)", levels.nbytes / 1e6, "MB",
           peer="the leaf hashes alone", peer_value=N * merkle.HASH_SIZE / 1e6, goal="~64 MB")


def _build(url: str, datas: list[bytes]) -> None:
    station = signer("station-01", "station")
    with SqlLedgerStore.open(url, origin=ORIGIN, clock=utc_now) as store:
        for i in range(0, len(datas), BUILD_BATCH):
            store.append_batch([(d, "acquired", f"{i + j:064x}")
                                for j, d in enumerate(datas[i:i + BUILD_BATCH])],
                               signers=[station])


def _cold_load(url: str, db: Path) -> None:
    def first_proof() -> None:
        with SqlLedgerStore.open(url, origin=ORIGIN, clock=utc_now) as store:
            start = time.perf_counter()
            store.inclusion_proof(N // 3, N)
            loads.append(time.perf_counter() - start)

    def bare_read() -> None:
        with sqlite3.connect(db) as conn:
            conn.execute("SELECT leaf_hash FROM ledger_entries ORDER BY idx").fetchall()

    loads: list[float] = []
    for _ in range(3):
        first_proof()
    report("cold proof cache: load 1M leaf hashes from SQLite + build", statistics.median(loads),
           "s", peer="bare sqlite3 SELECT leaf_hash, same file", peer_value=median_time(bare_read))
    print("   (OS page cache warm: the file was just written)", flush=True)


def _latencies(store: SqlLedgerStore, *, with_find: bool) -> list[float]:
    """Per-call seconds of ``THREADS`` threads, each making CALLS_PER_THREAD proofs at N (after
    ``find`` of the entry's subject when ``with_find``: the store's part of verify-by-hash)."""
    out: list[float] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - picks proof indices, not secrets
        mine = []
        for _ in range(CALLS_PER_THREAD):
            i = rng.randrange(N)
            start = time.perf_counter()
            if with_find:
                i = store.find(f"{i:064x}")[0].index
            store.inclusion_proof(i, N)
            mine.append(time.perf_counter() - start)
        with lock:
            out.extend(mine)

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.sort()
    return out


def _p99(seconds: list[float]) -> float:
    return seconds[int(len(seconds) * 0.99) - 1]


def _warm(url: str, datas: list[bytes]) -> None:
    with SqlLedgerStore.open(url, origin=ORIGIN, clock=utc_now) as store:
        store.inclusion_proof(0, N)  # load the cache
        rng = random.Random(5)  # noqa: S311 - picks proof indices, not secrets
        picks = [rng.randrange(N) for _ in range(PICKS)]

        def cached() -> None:
            for i in picks:
                store.inclusion_proof(i, N)

        warm_us = median_time(cached) / PICKS * 1e6
        before_s = median_time(lambda: merkle.inclusion_proof(store.leaf_hashes(N), picks[0]))
        report("store inclusion proof at 1M, warm cache (per proof)", warm_us, "us",
               peer="before the cache: read 1M leaf hashes + recompute", peer_value=before_s * 1e6)
        print(f"   ({before_s * 1e6 / warm_us:,.0f}x faster)", flush=True)

        alone = _latencies(store, with_find=False)
        report(f"  p99 of store proofs, {THREADS} threads", _p99(alone) * 1e3, "ms",
               peer="p50", peer_value=statistics.median(alone) * 1e3, goal="<= 50 ms")
        found = _latencies(store, with_find=True)
        report(f"  p99 of find(subject) + proof, {THREADS} threads", _p99(found) * 1e3, "ms",
               peer="p50", peer_value=statistics.median(found) * 1e3, goal="<= 50 ms")

        station = signer("station-01", "station")
        steady: list[float] = []
        for run in range(3):
            first = N + run * STEADY_APPEND
            store.append_batch([(d, "acquired", f"steady-{first + j}")
                                for j, d in enumerate(datas[:STEADY_APPEND])], signers=[station])
            size = first + STEADY_APPEND
            start = time.perf_counter()
            store.inclusion_proof(size - 1, size)
            steady.append(time.perf_counter() - start)
        report(f"  first proof after a {STEADY_APPEND:,}-entry commit (loads those)",
               statistics.median(steady) * 1e3, "ms", peer="store.size() alone",
               peer_value=median_time(store.size) * 1e3)


def run() -> None:
    print(f"-- proofs, {N:,} entries", flush=True)
    datas = make_entries(N)
    _pure([merkle.leaf_hash(d) for d in datas])
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "ledger.db"
        url = f"sqlite:///{db}"
        start = time.perf_counter()
        _build(url, datas)
        print(f"   (SQLite ledger built with append_batch x{BUILD_BATCH:,} in "
              f"{time.perf_counter() - start:.1f} s)", flush=True)
        _cold_load(url, db)
        _warm(url, datas)
