"""Page server time at many clips (issue 16 item 8: every page ≤ 200 ms at 1M clips): each page
fetched one request at a time by a signed-in admin from ``liuhen serve`` in a second process,
beside ``GET /api/health`` (no database) fetched the same way in the same run — what the HTTP
stack alone costs here. Medians of RUNS requests per page. PostgreSQL, as a bureau runs it.

Units, accounts and cases go through the services (ledger entries, folded). The N clips are
written straight into the catalogue tables with ``COPY``, row for row what the fold writes for
an ``acquired`` entry (storage/catalogue_fold.py ``_acquired_row``), at catalogue indexes after
the ledger's: the pages read only the catalogue, and folding 1M signed entries would take most
of an hour here. N = 1,000,000 builds in a few minutes; ``LIUHEN_BENCH_PAGES_N`` sets another
size."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
from sqlalchemy import create_engine

from api.compose import accounts, make_blob_store, open_ledger, services
from api.settings import Settings
from bench.common import add_bureau, report, served, unit_code
from evidence.records import ClipQuery, ClipScope
from storage.catalogue import SqlCatalogue

N = int(os.environ.get("LIUHEN_BENCH_PAGES_N", "1000000"))
UNITS = 20
OFFICERS = 400
DEVICES = 800
CASES = 300
RUNS = 15
AT = datetime(2026, 6, 1, tzinfo=UTC)
PASSWORD = "bench password 1"  # noqa: S105 - a throwaway bench account
PG = "postgresql://postgres@127.0.0.1:5432"
CLIP_COLUMNS = ("sha256", "size", "device", "officer", "unit_no", "name_on_device",
                "captured_at", "station", "acquired_index", "acquired_at", "retention_class",
                "legal_hold")
ACQUISITION_COLUMNS = ("acquired_index", "sha256", "device", "officer", "unit_no",
                       "name_on_device", "captured_at", "station", "acquired_at")


def _copy_clips(database: str, first_index: int) -> None:
    """N clips, officer ``i % OFFICERS`` (in unit ``i % OFFICERS % UNITS``, as add_bureau puts
    them), recorder ``i % DEVICES``, one capture every 7 s, each docked an hour later."""
    with psycopg.connect(f"{PG}/{database}") as conn, conn.cursor() as cur:
        with cur.copy(f"COPY clips ({', '.join(CLIP_COLUMNS)}) FROM STDIN") as clips:
            for i in range(N):
                clips.write_row(_clip(i, first_index))
        with cur.copy(f"COPY clip_acquisitions ({', '.join(ACQUISITION_COLUMNS)}) "
                      "FROM STDIN") as acquisitions:
            for i in range(N):
                row = dict(zip(CLIP_COLUMNS, _clip(i, first_index), strict=True))
                acquisitions.write_row([row[c] for c in ACQUISITION_COLUMNS])
    with psycopg.connect(f"{PG}/{database}", autocommit=True) as conn:
        for table in ("clips", "clip_acquisitions"):  # what autovacuum does after a big load
            conn.execute(f"VACUUM ANALYZE {table}")


def _clip(i: int, first_index: int) -> tuple[object, ...]:
    officer = i % OFFICERS
    captured = AT + timedelta(seconds=i * 7)
    return (f"{i:064x}", 1, f"ZFY{i % DEVICES:05d}", f"{100000 + officer}",
            unit_code(officer % UNITS), f"{i}.MP4", captured, "b", first_index + i,
            captured + timedelta(hours=1), "standard", False)


def _url(database: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"


def _build(data: Path, database: str) -> str:
    """The bureau, CASES cases and N clips; returns a mid-list SHA-256."""
    ledger = open_ledger(Settings(data_dir=data, database_url=_url(database)))
    try:
        people = accounts(ledger)
        add_bureau(people, units=UNITS, officers=OFFICERS)
        people.add_user("900000", name="管理员", unit="110000000000", roles=["admin"],
                        password=PASSWORD, actor="bench")
        cw = services(ledger, make_blob_store(ledger.settings), refresh_s=60)
        for c in range(CASES):
            cw.cases.open_case(f"B-{c:05d}", title=f"案件{c}", unit_no=unit_code(c % UNITS),
                               major=False, actor="bench")
        cw.cases.record_step("B-00000", code="chafeng", started_at=AT,
                             ended_at=AT + timedelta(hours=1), officer="100000", actor="bench")
        ledger.catalogue.catch_up()
        first_index = ledger.store.size() + 1_000_000_000
    finally:
        ledger.close()
    _copy_clips(database, first_index)
    return f"{N // 2:064x}"


def _uncounted(database: str) -> dict[str, float]:
    """The clip list's total as its first request counts it (later pages of the same search
    reuse it until the catalogue moves on: cases/casework.py ``count_clips``): the catalogue's
    count query alone, median of RUNS, for the unfiltered list and one unit's subtree."""
    engine = create_engine(_url(database))
    try:
        catalogue = SqlCatalogue(engine)
        unit = frozenset({unit_code(3)})
        queries = {"total count, first request (all clips)": ClipQuery(),
                   "total count, first request (one unit's subtree)":
                       ClipQuery(within=ClipScope(units=unit, orphan_units=unit))}
        found = {}
        for name, query in queries.items():
            times = []
            for _ in range(RUNS):
                start = time.perf_counter()
                catalogue.count_clips(query)
                times.append((time.perf_counter() - start) * 1e3)
            found[name] = statistics.median(times)
        return found
    finally:
        engine.dispose()


def _median_ms(client: httpx.Client, path: str) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - start) * 1e3)
        if r.status_code != 200:
            raise SystemExit(f"{path}: {r.status_code} {r.text[:300]}")
    return statistics.median(times)


def run() -> None:
    print(f"-- page server time, {N:,} clips (PostgreSQL), one client, median of {RUNS}",
          flush=True)
    database = f"liuhen_bench_pages_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        with tempfile.TemporaryDirectory(prefix="liuhen-bench-pages-") as tmp:
            _measure(Path(tmp) / "data", database)
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _measure(data: Path, database: str) -> None:
    start = time.perf_counter()
    mid = _build(data, database)
    print(f"   (catalogue built in {time.perf_counter() - start:.0f} s)", flush=True)
    env = {**os.environ, "LIUHEN_DATA_DIR": str(data), "LIUHEN_DATABASE_URL": _url(database)}
    with served(env) as base, httpx.Client(base_url=base, timeout=60) as client:
        signed = client.post("/ui/signin", data={"officer_no": "900000",
                                                 "password": PASSWORD})
        if signed.status_code not in (200, 303):
            raise SystemExit(f"sign-in failed: {signed.status_code}")
        pages = {
            "clip list, first page (all clips, with total)": "/ui/clips",
            "clip list, a page in the middle (keyset)": f"/ui/clips?after={mid}",
            "clip list by 警号": "/ui/clips?officer=100007",
            "clip list sorted by officer, middle page": f"/ui/clips?order=officer"
                                                        f"&after={mid}",
            "clip list sorted by device, middle page": f"/ui/clips?order=device"
                                                       f"&after={mid}",
            "clip list, one unit's subtree": f"/ui/clips?unit={unit_code(3)}",
            "clip list, one unit, last 30 days": f"/ui/clips?unit={unit_code(3)}"
                                                 "&preset=30d",
            "clip page": f"/ui/clips/{mid}",
            "case list, first page": "/ui/cases",
            "case page (timeline, suggestions)": f"/ui/cases/{quote('B-00000')}",
            "一人一档 (recorders, 14 days, cases)": "/ui/officers/100007",
            "采集站 dashboard": "/ui/stations",
        }
        for path in pages.values():  # warm: first reads load the database pages
            client.get(path)
        health = _median_ms(client, "/api/health")
        for name, path in pages.items():
            report(f"{name}, {N:,} clips", _median_ms(client, path), "ms",
                   peer="GET /api/health", peer_value=health, goal="<= 200 ms")
        for name, count in _uncounted(database).items():
            report(f"{name}, {N:,} clips", count, "ms", peer="GET /api/health",
                   peer_value=health, goal="<= 200 ms with the page")


if __name__ == "__main__":
    run()
