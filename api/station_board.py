"""What ``liuhen station`` reports to the 采集站 dashboard (docs/web.md): a Progress that passes
every event on to the terminal's view and writes each dock's progress to the board (at most
once a second per recorder, and at its start and end), and a heartbeat thread with the staging
disk. Best effort: a board the database cannot take is logged, never fatal to a dock."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from evidence.errors import LiuhenError
from evidence.records import DockReport
from ingest.ports import Progress, StationBoard
from ledger.ports import Clock

log = logging.getLogger("liuhen.station")

REPORT_EVERY_S = 1.0
HEARTBEAT_S = 5.0


@dataclass
class _Dock:
    report: DockReport
    reported: float = 0.0


class BoardProgress:
    """ingest.ports.Progress: ``inner``'s view, and the board."""

    def __init__(self, inner: Progress, board: StationBoard, *, station: str,
                 clock: Clock) -> None:
        self.inner = inner
        self.board = board
        self.station = station
        self.clock = clock
        self._docks: dict[str, _Dock] = {}
        self._lock = threading.Lock()

    @property
    def docking(self) -> int:
        with self._lock:
            return sum(d.report.state == "copying" for d in self._docks.values())

    def _write(self, serial: str, *, force: bool = False, **changes: object) -> None:
        with self._lock:
            dock = self._docks.get(serial)
            if dock is None:
                return
            dock.report = replace(dock.report, updated_at=self.clock(), **changes)  # type: ignore[arg-type]
            now = time.monotonic()
            if not force and now - dock.reported < REPORT_EVERY_S:
                return
            dock.reported = now
            report = dock.report
        try:
            self.board.dock(report)
        except LiuhenError as exc:
            log.warning("dashboard: %s", exc)

    def dock_started(self, serial: str, *, files: int, total_bytes: int) -> None:
        self.inner.dock_started(serial, files=files, total_bytes=total_bytes)
        now = self.clock()
        with self._lock:
            self._docks[serial] = _Dock(DockReport(
                station=self.station, serial=serial, started_at=now, updated_at=now,
                files=files, files_done=0, bytes_total=total_bytes, bytes_done=0,
                state="copying"))
        self._write(serial, force=True)

    def advanced(self, serial: str, nbytes: int) -> None:
        self.inner.advanced(serial, nbytes)
        dock = self._docks.get(serial)
        if dock is not None:
            self._write(serial, bytes_done=dock.report.bytes_done + nbytes)

    def file_done(self, serial: str, path: str, state: str, note: str = "") -> None:
        self.inner.file_done(serial, path, state, note)
        dock = self._docks.get(serial)
        if dock is not None:
            self._write(serial, files_done=dock.report.files_done + 1)

    def dock_finished(self, serial: str, *, ok: bool, summary: str) -> None:
        self.inner.dock_finished(serial, ok=ok, summary=summary)
        self._write(serial, force=True, state="done" if ok else "failed", summary=summary)
        with self._lock:
            self._docks.pop(serial, None)

    def media(self, sha256: str, action: str, *, done_ms: int, total_ms: int) -> None:
        self.inner.media(sha256, action, done_ms=done_ms, total_ms=total_ms)


class Heartbeat:
    """A daemon thread that reports the station every HEARTBEAT_S until stopped, and once more
    as it stops."""

    def __init__(self, board: StationBoard, progress: BoardProgress, *, disk: Path,
                 clock: Clock) -> None:
        self.board, self.progress, self.disk, self.clock = board, progress, disk, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def beat(self) -> None:
        usage = shutil.disk_usage(self.disk)
        try:
            self.board.heartbeat(self.progress.station, at=self.clock(), free_bytes=usage.free,
                                 total_bytes=usage.total, docking=self.progress.docking)
        except LiuhenError as exc:
            log.warning("dashboard heartbeat: %s", exc)

    def _run(self) -> None:
        while True:
            self.beat()
            if self._stop.wait(HEARTBEAT_S):
                break

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.beat()
