"""Page server time at many clips (issue 16 item 8: every page ≤ 200 ms at 1M clips): each page
fetched one request at a time by a signed-in admin from ``liuhen serve`` in a second process,
beside ``GET /api/health`` (no database) fetched the same way in the same run — what the HTTP
stack alone costs here. Medians of RUNS requests per page.

The catalogue is built as a station's group commit writes it (``acquired`` entries appended in
batches, then folded). 1M clips take ~10 minutes to build and fold on this 2-core machine, so
the default is N = 200,000 (about a minute); ``LIUHEN_BENCH_PAGES_N`` sets another size."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx

from api.compose import accounts, open_ledger, services
from api.settings import Settings
from bench.common import add_bureau, report, unit_code
from evidence.bodies import AcquiredBody
from evidence.ids import StationId
from evidence.records import Entry, EntryKind
from integrity.entry import encode_entry

N = int(os.environ.get("LIUHEN_BENCH_PAGES_N", "200000"))
BATCH = 20_000
UNITS = 20
OFFICERS = 400
CASES = 300
RUNS = 15
AT = datetime(2026, 6, 1, tzinfo=UTC)
PASSWORD = "bench password 1"  # noqa: S105 - a throwaway bench account



def _build(data: Path) -> str:
    """N clips from OFFICERS officers in UNITS units, CASES cases; returns a mid-list SHA-256."""
    ledger = open_ledger(Settings(data_dir=data))
    try:
        people = accounts(ledger)
        add_bureau(people, units=UNITS, officers=OFFICERS)
        people.add_user("900000", name="管理员", unit="110000000000", roles=["admin"],
                        password=PASSWORD, actor="bench")
        for start in range(0, N, BATCH):
            datas = []
            for i in range(start, min(N, start + BATCH)):
                officer = f"{100000 + i % OFFICERS}"
                body = AcquiredBody(device=f"ZFY{i % 800:05d}", name_on_device=f"{i}.MP4",
                                    size=1, officer=officer, unit_no=unit_code(i % UNITS),
                                    clock_offset_ms=0, device_mtime=AT,
                                    capture_time=AT + timedelta(seconds=i * 7))
                datas.append((encode_entry(Entry(kind=EntryKind.ACQUIRED, subject=f"{i:064x}",
                                                 body=body.to_body(), station=StationId("b"),
                                                 actor=officer, at=AT)), "acquired",
                              f"{i:064x}"))
            ledger.store.append_batch(datas, signers=ledger.stations)
        ledger.catalogue.catch_up()
        from api.compose import make_blob_store

        cw = services(ledger, make_blob_store(ledger.settings), refresh_s=60)
        for c in range(CASES):
            cw.cases.open_case(f"B-{c:05d}", title=f"案件{c}", unit_no=unit_code(c % UNITS),
                               major=False, actor="bench")
        cw.cases.record_step("B-00000", code="chafeng", started_at=AT,
                             ended_at=AT + timedelta(hours=1), officer="100000", actor="bench")
    finally:
        ledger.close()
    return f"{N // 2:064x}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


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
    print(f"-- page server time, {N:,} clips (SQLite), one client, median of {RUNS}", flush=True)
    with tempfile.TemporaryDirectory(prefix="liuhen-bench-pages-") as tmp:
        data = Path(tmp) / "data"
        start = time.perf_counter()
        mid = _build(data)
        print(f"   (catalogue built in {time.perf_counter() - start:.0f} s)", flush=True)
        port = _free_port()
        env = {**os.environ, "LIUHEN_DATA_DIR": str(data)}
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("liuhen")), "serve", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/api/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            with httpx.Client(base_url=base, timeout=60) as client:
                signed = client.post("/ui/signin", data={"officer_no": "900000",
                                                         "password": PASSWORD})
                if signed.status_code not in (200, 303):
                    raise SystemExit(f"sign-in failed: {signed.status_code}")
                pages = {
                    "clip list, first page (all clips, with total)": "/ui/clips",
                    "clip list, a page in the middle (keyset)": f"/ui/clips?after={mid}",
                    "clip list by 警号": "/ui/clips?officer=100007",
                    "clip list sorted by device, middle page": f"/ui/clips?order=device"
                                                                f"&after={mid}",
                    "clip list, one unit's subtree": f"/ui/clips?unit={unit_code(3)}",
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
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    run()
