"""The 采集站 dashboard's data (api/station_board.py, storage/station_board.py,
api/http/pages_stations.py): heartbeats and docks upserted in the bureau's database; a
station's progress reported at its start and end and at most once a second between; the board
marks a station silent past STALE, a disk nearly full, and a dock's rate and ETA."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from api.compose import Station, services
from api.http.pages_stations import STALE, board
from api.station_board import BoardProgress
from evidence.records import DockReport
from storage.station_board import SqlStationBoard

T0 = datetime(2026, 11, 24, 8, tzinfo=UTC)
GB = 1 << 30


class _Quiet:
    def dock_started(self, serial: str, *, files: int, total_bytes: int) -> None: ...
    def advanced(self, serial: str, nbytes: int) -> None: ...
    def file_done(self, serial: str, path: str, state: str, note: str = "") -> None: ...
    def dock_finished(self, serial: str, *, ok: bool, summary: str) -> None: ...
    def media(self, sha256: str, action: str, *, done_ms: int, total_ms: int) -> None: ...


class _Recording:
    def __init__(self) -> None:
        self.docks: list[DockReport] = []

    def heartbeat(self, station: str, *, at: datetime, free_bytes: int, total_bytes: int,
                  docking: int) -> None: ...

    def dock(self, report: DockReport) -> None:
        self.docks.append(report)


def test_heartbeats_and_docks_are_upserted(station: Station) -> None:
    b = SqlStationBoard(station.ledger.store.engine)
    b.heartbeat("st-1", at=T0, free_bytes=5 * GB, total_bytes=100 * GB, docking=1)
    b.heartbeat("st-1", at=T0 + timedelta(seconds=5), free_bytes=4 * GB, total_bytes=100 * GB,
                docking=0)
    b.heartbeat("st-2", at=T0, free_bytes=80 * GB, total_bytes=100 * GB, docking=0)
    (one, two) = b.stations()
    assert (one.station, one.free_bytes, one.reported_at) == ("st-1", 4 * GB,
                                                              T0 + timedelta(seconds=5))
    assert two.station == "st-2"
    first = DockReport(station="st-1", serial="LH1", started_at=T0, updated_at=T0, files=4,
                       files_done=0, bytes_total=400_000_000, bytes_done=0, state="copying")
    b.dock(first)
    b.dock(replace(first, updated_at=T0 + timedelta(seconds=10), files_done=2,
                   bytes_done=100_000_000))
    (dock,) = b.docks(since=T0)
    assert (dock.files_done, dock.bytes_done) == (2, 100_000_000)  # one row, updated

    cw = services(station.ledger, station.blobs)
    shown = board(cw, T0 + timedelta(seconds=20))
    rows = {s.report.station: s for s in shown["stations"]}
    assert rows["st-1"].low_disk and not rows["st-2"].low_disk  # 4 GB of 100 GB free
    assert not rows["st-1"].stale
    (running,) = shown["docking"]
    assert round(running.mb_s, 1) == 10.0 and running.eta_s == 30 and running.percent == 25
    later = board(cw, T0 + STALE + timedelta(seconds=6))
    assert all(s.stale for s in later["stations"])  # neither has reported since


def test_progress_is_reported_at_start_end_and_at_most_once_a_second() -> None:
    recorded = _Recording()
    clock = iter(T0 + timedelta(milliseconds=i) for i in range(10_000))
    progress = BoardProgress(_Quiet(), recorded, station="st-1", clock=lambda: next(clock))
    progress.dock_started("LH1", files=3, total_bytes=3_000)
    assert progress.docking == 1
    for _ in range(300):
        progress.advanced("LH1", 10)  # within the same second: not written
    for path in ("a", "b", "c"):
        progress.file_done("LH1", path, "stored")
    progress.dock_finished("LH1", ok=True, summary="3/3 verified")
    states = [(d.state, d.files_done, d.bytes_done) for d in recorded.docks]
    assert states[0] == ("copying", 0, 0)
    assert states[-1] == ("done", 3, 3_000)  # the end carries everything counted
    assert len(states) == 2  # nothing between: all within one second of the start
    assert progress.docking == 0
