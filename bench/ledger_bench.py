"""Ledger store figures: appends/s with group commit on SQLite and batches on PostgreSQL, each
beside a bare executemany of the same rows through the same driver (and on PostgreSQL a bare
COPY, the floor this design builds on), receipt latency under concurrent appenders, and
``liuhen audit`` of a 1M-entry ledger in each database beside hashlib over the same bytes."""

from __future__ import annotations

import hashlib
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from api.compose import utc_now
from bench.common import make_entries, median_time, report
from evidence.ids import Origin
from integrity.audit import AuditReport
from integrity.merkle import leaf_hash
from integrity.trust import TrustRoot
from ledger.audit import run_audit
from ledger.publishing import publish_checkpoint
from storage.group_commit import GroupCommitter
from storage.ledger_store import SqlLedgerStore
from tests.support.keys import signer

ORIGIN = Origin("liuhen.bench/ledger/v1")
BATCH = 1_000
N = 100_000
AUDIT_N = 1_000_000
CHECKPOINT_EVERY = 100_000
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _items(datas: list[bytes]) -> list[tuple[bytes, str, str]]:
    return [(d, "acquired", f"{i:064x}") for i, d in enumerate(datas)]


def _store_rate(url: str, items: list[tuple[bytes, str, str]]) -> float:
    station = signer("station-01", "station")
    store = SqlLedgerStore.open(url, origin=ORIGIN, clock=utc_now)
    try:
        start = time.perf_counter()
        for i in range(0, len(items), BATCH):
            store.append_batch(items[i:i + BATCH], signers=[station])
        return len(items) / (time.perf_counter() - start)
    finally:
        store.close()


def _pg_store_rate(name: str, items: list[tuple[bytes, str, str]]) -> float:
    return _store_rate(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", items)


def _sqlite_bare_rate(path: Path, items: list[tuple[bytes, str, str]]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("pragma journal_mode=wal")
    conn.execute("pragma synchronous=full")
    conn.execute("create table e (idx integer primary key, data blob, leaf_hash blob, kind text, "
                 "subject text)")
    conn.execute("create index e_kind on e(kind)")
    conn.execute("create index e_subject on e(subject)")
    start = time.perf_counter()
    for i in range(0, len(items), BATCH):
        conn.execute("begin immediate")
        conn.executemany("insert into e values (?, ?, ?, ?, ?)",
                         [(i + j, d, leaf_hash(d), k, s)
                          for j, (d, k, s) in enumerate(items[i:i + BATCH])])
        conn.execute("commit")
    rate = len(items) / (time.perf_counter() - start)
    conn.close()
    return rate


def _pg_database() -> str:
    name = f"liuhen_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return name


def _pg_drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def _pg_bare_table(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """The ledger entries table as the store has it (primary key + two indexes), bare."""
    conn.execute("create table e (idx bigint primary key, data bytea, leaf_hash bytea, "
                 "kind text, subject text)")
    conn.execute("create index on e(kind)")
    conn.execute("create index on e(subject)")
    conn.commit()


def _pg_bare_rate(name: str, items: list[tuple[bytes, str, str]]) -> float:
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as conn:
        _pg_bare_table(conn)
        start = time.perf_counter()
        for i in range(0, len(items), BATCH):
            with conn.cursor() as cur:
                cur.executemany("insert into e values (%s, %s, %s, %s, %s)",
                                [(i + j, d, leaf_hash(d), k, s)
                                 for j, (d, k, s) in enumerate(items[i:i + BATCH])])
            conn.commit()
        return len(items) / (time.perf_counter() - start)


def _pg_bare_copy_rate(name: str, items: list[tuple[bytes, str, str]]) -> float:
    """What the store's COPY path can at best reach: the same COPY, nothing else per batch."""
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as conn:
        _pg_bare_table(conn)
        start = time.perf_counter()
        for i in range(0, len(items), BATCH):
            with conn.cursor() as cur, \
                    cur.copy("copy e from stdin (format binary)") as copy:
                copy.set_types(["int8", "bytea", "bytea", "text", "text"])
                for j, (d, k, s) in enumerate(items[i:i + BATCH]):
                    copy.write_row((i + j, d, leaf_hash(d), k, s))
            conn.commit()
        return len(items) / (time.perf_counter() - start)


def _latency(url: str, datas: list[bytes], *, threads: int = 32,
             seconds: float = 3.0) -> tuple[float, float, float]:
    """Receipt latencies (p50, p99 in ms) and appends/s with ``threads`` concurrent appenders."""
    station = signer("station-01", "station")
    store = SqlLedgerStore.open(url, origin=ORIGIN, clock=utc_now)
    committer = GroupCommitter(store, signers=[station])
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker(offset: int) -> None:
        mine = []
        i = offset
        while time.perf_counter() < stop:
            t = time.perf_counter()
            committer.append(datas[i % len(datas)], "acquired", f"{i:064x}")
            mine.append(time.perf_counter() - t)
            i += threads
        with lock:
            latencies.extend(mine)

    start = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    committer.close()
    store.close()
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return statistics.median(latencies) * 1e3, p99 * 1e3, len(latencies) / elapsed


def _build_ledger(url: str, datas: list[bytes]) -> SqlLedgerStore:
    """A ledger of ``datas`` as a station builds it: append_batch x BATCH, a log-signed
    checkpoint every CHECKPOINT_EVERY entries."""
    station, log = signer("station-01", "station"), signer("log", "log")
    store = SqlLedgerStore.open(url, origin=ORIGIN, clock=utc_now)
    for i in range(0, len(datas), BATCH):
        store.append_batch([(d, "acquired", f"{i + j:064x}")
                            for j, d in enumerate(datas[i:i + BATCH])], signers=[station])
        if (i + BATCH) % CHECKPOINT_EVERY == 0:
            publish_checkpoint(store, origin=ORIGIN, signers=[log], now=datetime.now(UTC))
    return store


def _store_audit(label: str, url: str, datas: list[bytes], hash_s: float) -> None:
    start = time.perf_counter()
    store = _build_ledger(url, datas)
    built_s = time.perf_counter() - start
    keys = [signer("station-01", "station").public, signer("log", "log").public]
    reports: list[AuditReport] = []
    try:
        stream_s = median_time(lambda: sum(1 for _ in store.entry_rows()))
        trust = TrustRoot(origin=ORIGIN, keys=tuple(keys), tsa_roots=())
        audit_s = median_time(lambda: reports.append(run_audit(store, trust)))
    finally:
        store.close()
    result = reports[-1]
    assert result.head.size == len(datas)
    report(f"full audit of 1M entries from the {label} store (liuhen audit)", audit_s, "s",
           peer="hashlib sha256 of the same bytes", peer_value=hash_s, goal="<= 2.5 s")
    report(f"  streaming 1M entries out of {label} (entry_rows)", stream_s, "s", goal="< 2 s")
    print(f"   ({result.commits:,} station commits and {result.checkpoints} checkpoints verified;"
          f" built with append_batch x{BATCH} in {built_s:.1f} s)", flush=True)


def _audit_figures() -> None:
    print(f"-- liuhen audit, {AUDIT_N:,} entries in each database", flush=True)
    datas = make_entries(AUDIT_N)

    def hashlib_only() -> None:
        sha = hashlib.sha256
        for d in datas:
            sha(d).digest()

    hash_s = median_time(hashlib_only)
    with tempfile.TemporaryDirectory() as tmp:
        _store_audit("SQLite", f"sqlite:///{tmp}/ledger.db", datas, hash_s)
    name = _pg_database()
    try:
        _store_audit("PostgreSQL", f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
                     datas, hash_s)
    finally:
        _pg_drop(name)


def run() -> None:
    print(f"-- ledger store, {N:,} entries in batches of {BATCH}", flush=True)
    datas = make_entries(N)
    items = _items(datas)
    rates, bare = [], []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            rates.append(_store_rate(f"sqlite:///{tmp}/ledger.db", items))
            bare.append(_sqlite_bare_rate(Path(tmp) / "bare.db", items))
    report("SQLite appends/s (group-commit batches)", statistics.median(rates), "/s",
           peer="bare sqlite3 executemany, same rows", peer_value=statistics.median(bare),
           goal=">= 50k/s")
    rates, bare = [], []
    copies: list[float] = []
    for _ in range(3):
        for rate_of, into in ((_pg_store_rate, rates), (_pg_bare_rate, bare),
                              (_pg_bare_copy_rate, copies)):
            name = _pg_database()
            try:
                into.append(rate_of(name, items))
            finally:
                _pg_drop(name)
    report("PostgreSQL appends/s (batches)", statistics.median(rates), "/s",
           peer="bare psycopg executemany, same rows", peer_value=statistics.median(bare),
           goal=">= 100k/s")
    report("  bare psycopg COPY (FORMAT BINARY), same rows", statistics.median(copies), "/s")
    with tempfile.TemporaryDirectory() as tmp:
        p50, p99, rate = _latency(f"sqlite:///{tmp}/ledger.db", datas)
    report("SQLite receipt latency p50, 32 appender threads", p50, "ms")
    report("SQLite receipt latency p99, 32 appender threads", p99, "ms", goal="<= 25 ms")
    report("  appends/s meanwhile (GroupCommitter)", rate, "/s")
    _audit_figures()
