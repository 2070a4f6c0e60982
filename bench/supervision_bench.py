"""What supervision costs (docs/supervision.md): a week's alerts over N clips and N accesses
(500 officers in 50 units, most views of other officers' clips, so every rule is evaluated)
beside merely reading that week's accesses and clips from the catalogue (the rules' input);
and a week's statistics beside the same read. SQLite catalogue; medians."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.compose import accounts, open_ledger, services
from api.settings import Settings
from bench.common import add_bureau, median_time, report, unit_code
from evidence.bodies import AccessedBody, AcquiredBody
from evidence.ids import StationId
from evidence.records import Entry, EntryKind
from integrity.entry import encode_entry

N = 20_000
UNITS = 50
OFFICERS = 500
BATCH = 10_000
START = datetime(2026, 11, 23, tzinfo=UTC)
WEEK = timedelta(days=7)



def _entry(kind: EntryKind, subject: str, body: dict[str, object], actor: str,
           at: datetime) -> tuple[bytes, str, str]:
    return (encode_entry(Entry(kind=kind, subject=subject, body=body, station=StationId("b"),
                               actor=actor, at=at)), kind.value, subject)


def _build(data: Path) -> None:
    ledger = open_ledger(Settings(data_dir=data))
    try:
        people = accounts(ledger)
        add_bureau(people, units=UNITS, officers=OFFICERS)
        step = WEEK / N
        rows = []
        for i in range(N):
            officer = f"{100000 + i % OFFICERS}"
            captured = START + i * step
            body = AcquiredBody(device=f"ZFY{i % OFFICERS:05d}", name_on_device=f"{i}.MP4",
                                size=1, officer=officer, unit_no=unit_code(i % UNITS),
                                clock_offset_ms=0, device_mtime=captured,
                                capture_time=captured)
            rows.append(_entry(EntryKind.ACQUIRED, f"{i:064x}", body.to_body(), officer,
                               captured + timedelta(hours=(i % 30))))
        for i in range(N):
            viewer = f"{100000 + (i * 7) % OFFICERS}"
            view = AccessedBody(action="play", variant="playback", purpose="办案",
                                role="officer", case=None)
            rows.append(_entry(EntryKind.ACCESSED, f"{(i * 13) % N:064x}", view.to_body(),
                               viewer, START + i * step))
        for i in range(0, len(rows), BATCH):
            ledger.store.append_batch(rows[i:i + BATCH], signers=ledger.stations)
        ledger.catalogue.catch_up()
    finally:
        ledger.close()


def run() -> None:
    with tempfile.TemporaryDirectory(prefix="liuhen-bench-supervision-") as tmp:
        data = Path(tmp) / "data"
        _build(data)
        ledger = open_ledger(Settings(data_dir=data))
        try:
            from api.compose import make_blob_store

            cw = services(ledger, make_blob_store(ledger.settings), refresh_s=60)
            end = START + WEEK + timedelta(days=2)

            def read() -> None:
                ledger.catalogue.accesses_between(START, end)
                ledger.catalogue.clips_acquired_between(START, end)

            bare = median_time(read, runs=5)
            found = cw.alerts.compute(START, end)
            alerts = median_time(lambda: cw.alerts.compute(START, end), runs=5)
            report(f"a week's alerts, {N:,} clips + {N:,} views ({len(found):,} alerts)",
                   alerts * 1e3, "ms", peer="reading their input", peer_value=bare * 1e3)
            stats = median_time(lambda: cw.statistics.compute(START, end), runs=5)
            report(f"a week's statistics, {OFFICERS} officers, {UNITS} units", stats * 1e3,
                   "ms", peer="reading the alerts' input", peer_value=bare * 1e3)
        finally:
            ledger.close()


if __name__ == "__main__":
    run()
