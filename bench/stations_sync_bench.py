"""Station logs accepted by a bureau (ledger/stations.py): entries per second pushed by 8
stations at once into a bureau on PostgreSQL (signature and both roots verified, entries and
checkpoint stored, a ``station_checkpoint`` entry group-committed to the bureau's log), beside a
bare executemany of the same rows (station, index, data, both leaf hashes) through the same
driver, the storage floor this builds on."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

import psycopg

from api.compose import utc_now
from bench.common import make_entries, report
from evidence.ids import Origin, StationId
from evidence.records import TreeHead
from integrity import merkle
from integrity.notes import sign_checkpoint
from ledger.appending import LedgerWriter
from ledger.stations import BureauStations, station_origin
from storage.group_commit import GroupCommitter
from storage.ledger_store import SqlLedgerStore
from storage.stations import SqlStationRegistry
from tests.support.keys import signer

BUREAU = Origin("liuhen.bench-bureau/ledger/v1")
STATIONS = 8
PER_STATION = 4_000
BATCH = 500
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _database() -> str:
    name = f"liuhen_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return name


def _drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def _pushes(sid: str, datas: list[bytes]) -> list[tuple[int, list[bytes], bytes]]:
    """The station's pushes: (start, entries, its checkpoint note at start + len)."""
    log = signer(f"{sid}-log", "log")
    origin = Origin(station_origin(BUREAU, sid))
    leaves = [merkle.leaf_hash(d) for d in datas]
    sm3 = [merkle.leaf_hash(d, tree_hash=merkle.SM3) for d in datas]
    out = []
    for start in range(0, len(datas), BATCH):
        end = start + BATCH
        cp = sign_checkpoint(origin, TreeHead(end, merkle.root(leaves[:end])), [log],
                             sm3=TreeHead(end, merkle.root(sm3[:end], tree_hash=merkle.SM3)))
        out.append((start, datas[start:end], cp.note))
    return out


def _bureau_rate(name: str, datas: list[bytes]) -> float:
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    store = SqlLedgerStore.open(url, origin=BUREAU, clock=utc_now)
    committer = GroupCommitter(store, signers=[signer("bureau", "station")])
    writer = LedgerWriter(appender=committer, checkpoints=store, station=StationId("bureau"),
                          clock=utc_now)
    bureau = BureauStations(SqlStationRegistry(store.engine), writer=writer,
                            bureau_origin=BUREAU, clock=lambda: datetime.now(UTC),
                            find=store.find)
    ids = [f"pcs-{i}" for i in range(STATIONS)]
    for sid in ids:
        bureau.register(sid, origin=station_origin(BUREAU, sid),
                        keys=[signer(f"{sid}-log", "log").public,
                              signer(f"{sid}-station", "station").public])
        bureau.approve(sid, actor="bench")
    pushes = {sid: _pushes(sid, datas) for sid in ids}

    def station(sid: str) -> None:
        for start, entries, note in pushes[sid]:
            bureau.push(sid, start=start, entries=entries, note=note)

    threads = [threading.Thread(target=station, args=(sid,)) for sid in ids]
    begin = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - begin
    committer.close()
    store.close()
    return STATIONS * len(datas) / elapsed


def _bare_rate(name: str, datas: list[bytes]) -> float:
    rows = [(f"pcs-{s}", i, d, merkle.leaf_hash(d), merkle.leaf_hash(d, tree_hash=merkle.SM3))
            for s in range(STATIONS) for i, d in enumerate(datas)]
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as conn:
        conn.execute("create table e (station_id text, idx bigint, data bytea, leaf bytea, "
                     "sm3 bytea, primary key (station_id, idx))")
        conn.commit()
        begin = time.perf_counter()
        for i in range(0, len(rows), BATCH):
            with conn.cursor() as cur:
                cur.executemany("insert into e values (%s, %s, %s, %s, %s)", rows[i:i + BATCH])
            conn.commit()
        return len(rows) / (time.perf_counter() - begin)


def run() -> None:
    datas = make_entries(PER_STATION)
    rates, bares = [], []
    for _ in range(3):
        name = _database()
        try:
            rates.append(_bureau_rate(name, datas))
            bares.append(_bare_rate(name, datas))
        finally:
            _drop(name)
    rates.sort()
    bares.sort()
    report(f"bureau accepts station entries, {STATIONS} stations at once (PostgreSQL)",
           rates[1], "entries/s", peer="bare executemany of the same rows",
           peer_value=bares[1])
