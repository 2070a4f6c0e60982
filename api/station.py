"""``liuhen station``: watch the ports, dock recorders, ingest — with live progress.

One worker per docked recorder, at most ``max_docks`` at once; checkpoints are published at most
once a second while entries are pending. On a terminal the progress is a live table (files,
bytes, MB/s, ETA per recorder); otherwise plain log lines.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from api.compose import Station, utc_now
from api.console import printable
from api.station_board import BoardProgress, Heartbeat
from evidence.errors import LiuhenError, UnavailableError
from ingest.context import IngestContext
from ingest.derivation import MediaRun, derive_pending
from ingest.media import MediaPolicy
from ingest.ports import DeviceEvents, DockedRecorder, DockSource, StationBoard
from ingest.ports import Progress as ProgressPort
from ingest.station import Dock, DockResult
from ingest.uploads import drain_uploads
from ledger.forwarding import SyncResult
from ledger.publishing import Publisher

log = logging.getLogger("liuhen.station")

SYNC_INTERVAL_S = 30.0
"""Between store-and-forward passes to the bureau while it is reachable."""


class _MediaQuarters:
    """Which quarter of each clip's encode was last reported: one line per quarter is enough to
    see a long transcode move without flooding the log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}

    def crossed(self, sha256: str, done_ms: int, total_ms: int) -> int | None:
        quarter = min(4, done_ms * 4 // total_ms) if total_ms else 0
        with self._lock:
            if self._seen.get(sha256, -1) >= quarter:
                return None
            self._seen[sha256] = quarter
        return quarter


def describe_file(state: str, note: str) -> str:
    """What happened to one file, in the words a person needs: a file is stored and verified as
    received whatever its content; a zero-byte or unplayable one is also quarantined, with the
    reason (the original stays stored and ledgered)."""
    if state in ("verified", "released"):
        return f"已按原样存储并校验，已隔离：{note}" if note else "已按原样存储并校验"
    if state == "failed":
        return f"失败：{note}"
    waiting = {"committed": "已入账，等待存储", "stored": "已存储，等待校验"}.get(state, state)
    return f"{waiting}（{note}）" if note else waiting


class LogProgress:
    """Plain log lines, for journald and pipes."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self._out = out
        self._media = _MediaQuarters()

    def dock_started(self, serial: str, *, files: int, total_bytes: int) -> None:
        self._out(f"[{serial}] 已接入：{files} 个文件，待采集 {total_bytes / 1e6:.1f} MB")

    def advanced(self, serial: str, nbytes: int) -> None:
        pass  # log lines report per file, not per chunk

    def file_done(self, serial: str, path: str, state: str, note: str = "") -> None:
        self._out(f"[{serial}] {path}: {describe_file(state, note)}")

    def dock_finished(self, serial: str, *, ok: bool, summary: str) -> None:
        self._out(f"[{serial}] {'完成' if ok else '失败 FAILED'}：{summary}")

    def media(self, sha256: str, action: str, *, done_ms: int, total_ms: int) -> None:
        quarter = self._media.crossed(sha256, done_ms, total_ms)
        if quarter is not None:
            self._out(f"[媒体处理] {sha256[:16]}… {action} {quarter * 25}%")


class RichProgress:
    """A live table on a terminal: per recorder files, bytes, MB/s and ETA."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self.view = Progress(TextColumn("[bold]{task.fields[serial]}"), BarColumn(),
                             DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                             TextColumn("{task.fields[files]}"), console=console)
        self._tasks: dict[str, TaskID] = {}
        self._files: dict[str, tuple[int, int]] = {}
        self._media = _MediaQuarters()

    def _print(self, text: str) -> None:
        # Device names are data, not rich markup and not terminal control sequences.
        self.view.console.print(printable(text), markup=False, highlight=False)

    def dock_started(self, serial: str, *, files: int, total_bytes: int) -> None:
        self._files[serial] = (0, files)
        # The columns render their fields as markup: escape it, after the control characters.
        self._tasks[serial] = self.view.add_task("", total=max(total_bytes, 1),
                                                 serial=escape(printable(serial)),
                                                 files=f"0/{files} files")

    def advanced(self, serial: str, nbytes: int) -> None:
        self.view.advance(self._tasks[serial], nbytes)

    def file_done(self, serial: str, path: str, state: str, note: str = "") -> None:
        done, total = self._files[serial]
        self._files[serial] = (done + 1, total)
        self.view.update(self._tasks[serial], files=f"{done + 1}/{total} files")
        if note:
            self._print(f"[{serial}] {path}: {describe_file(state, note)}")

    def dock_finished(self, serial: str, *, ok: bool, summary: str) -> None:
        task = self._tasks.get(serial)
        if task is not None:
            text = escape(printable(summary))
            self.view.update(task, files=text if ok else f"FAILED: {text}")

    def media(self, sha256: str, action: str, *, done_ms: int, total_ms: int) -> None:
        quarter = self._media.crossed(sha256, done_ms, total_ms)
        if quarter is not None:
            self._print(f"[media] {sha256[:16]}… {action} {quarter * 25}%")


@dataclass
class StationRun:
    results: list[DockResult] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    media: MediaRun = field(default_factory=MediaRun)
    """The media stage's totals over every batch of this run."""

    def add_media(self, batch: MediaRun) -> None:
        self.media.derived += batch.derived
        self.media.quarantined += batch.quarantined
        self.media.skipped += batch.skipped


def derive_media(station: Station, ctx: IngestContext, *, progress: ProgressPort,
                 out: Callable[[str], None]) -> MediaRun:
    """One pass of the media stage (playback copies, thumbnails, the media verdict) over every
    verified original still waiting for it: what ``liuhen station`` runs in its media queue and
    ``liuhen ingest`` after its dock. A failure is logged and retried on the next pass."""
    if station.media is None:
        return MediaRun()
    settings = station.ledger.settings
    try:
        done = derive_pending(ctx, tools=station.media,
                              policy=MediaPolicy(proxy=settings.media_proxy),
                              workdir=settings.data_dir / "media-work", progress=progress)
    except LiuhenError as exc:
        log.warning("media stage: %s (retried)", exc)
        return MediaRun()
    if done.derived or done.quarantined:
        out(f"媒体处理（本批）：生成 {done.derived} 个播放副本，{done.quarantined} 个被 "
            "ffprobe/ffmpeg 拒绝而隔离")
    return done


def port_group(port: str) -> str:
    """The port a limit counts docks on: a USB bus (``1-3`` → ``1``: its recorders share the
    bus's bandwidth), or a network transport (``adb:SERIAL``, ``e12:HOST:PORT`` → ``adb``,
    ``e12``)."""
    return port.split(":", 1)[0].split("-", 1)[0]


def run_station(station: Station, source: DockSource, *, password: bytes | None,
                once: bool, out: Callable[[str], None], poll_s: float = 1.0,
                stop: threading.Event | None = None,
                hotplug: DeviceEvents | None = None,
                sync: Callable[[], SyncResult] | None = None,
                sync_wait: Callable[[], float] = lambda: 0.0,
                board: StationBoard | None = None) -> StationRun:
    """Dock every recorder the source reports. ``once``: return when the recorders present at
    start are done; otherwise run until ``stop`` is set (Ctrl-C in the CLI).

    The USB scan every ``poll_s`` is the truth; a ``hotplug`` source (udev) only ends the wait
    early when a device arrives, so a missed event costs at most one poll interval.

    ``sync`` (a station joined to a bureau): one store-and-forward pass, run in its own thread
    every ``SYNC_INTERVAL_S`` and retried with backoff (1 s doubling to 5 min) while the bureau
    is unreachable; docking never waits for it (docs/station.md §Sync). ``sync_wait``: seconds
    until the next upload window opens (0 inside one, or with no windows): the thread waits
    that long before a pass (``Schedule.wait_s`` on the station's clock)."""
    interactive = sys.stdout.isatty()
    rich_view = RichProgress(Console()) if interactive else None
    progress: ProgressPort = rich_view or LogProgress(out)
    heartbeat = None
    if board is not None:  # the 采集站 dashboard (api/station_board.py)
        progress = BoardProgress(progress, board, station=station.ledger.settings.station_id,
                                 clock=utc_now)
        heartbeat = Heartbeat(board, progress, disk=station.ledger.settings.data_dir,
                              clock=utc_now)
        heartbeat.start()
    ctx = station.context(progress)
    ledger = station.ledger
    run = StationRun()
    stop = stop or threading.Event()
    finished = threading.Event()

    # At most one checkpoint a second while entries are pending (DESIGN.md §4); each is also
    # written outside the database and anchored with the configured TSAs.
    publisher = Publisher(lambda: ledger.publish(actor="station"), interval_s=1.0)
    docking: set[str] = set()

    def upload_queue() -> None:
        # Files left at committed/stored by a store outage are retried with exponential backoff
        # (1 s doubling to 60 s); copying from recorders never waits for this.
        delay = 1.0
        while not finished.wait(delay):
            try:
                done, waiting = drain_uploads(ctx, skip_serials=frozenset(docking))
            except LiuhenError as exc:
                log.warning("upload queue: %s", exc)
                done, waiting = 0, 1
            if done:
                out(f"upload queue: {done} files stored and verified, {waiting} waiting")
            delay = 1.0 if done or not waiting else min(delay * 2, 60.0)

    uploader = threading.Thread(target=upload_queue, name="uploads", daemon=True)
    uploader.start()

    def media_stage() -> None:
        # Playback copies and thumbnails in their own queue (one worker): copying from
        # recorders never waits on encoding (DESIGN.md §3 step 4).
        while not finished.wait(1.0):
            media_once()

    def media_once() -> None:
        run.add_media(derive_media(station, ctx, progress=progress, out=out))

    media = threading.Thread(target=media_stage, name="media", daemon=True)
    media.start()

    def forward() -> None:
        delay = 0.0
        while sync is not None and not finished.wait(delay):
            if (closed := sync_wait()) > 0:  # outside the upload windows: wait for the next
                log.info("sync: outside the upload windows; next pass in %.0f s", closed)
                delay = closed
                continue
            try:
                result = sync()
            except UnavailableError as exc:
                delay = min(max(delay * 2, 1.0), 300.0)
                log.warning("sync: %s; retrying in %.0f s", exc, delay)
                continue
            except LiuhenError as exc:  # refused by the bureau: say so, keep docking
                out(f"同步被局端拒绝 sync refused: {exc}")
                delay = SYNC_INTERVAL_S
                continue
            if result.entries:
                out(f"同步：局端已持有 {result.acknowledged} 条（+{result.entries}） "
                    "sync: entries held by the bureau")
            delay = SYNC_INTERVAL_S

    forwarder = threading.Thread(target=forward, name="sync", daemon=True)
    forwarder.start()

    def work(docked: DockedRecorder) -> DockResult:
        docking.add(docked.serial)
        try:
            return Dock(docked.driver, ctx=ctx, password=password).run()
        finally:
            docking.discard(docked.serial)

    def collect(serial: str, future: Future[DockResult]) -> None:
        try:
            run.results.append(future.result())
        except LiuhenError as exc:
            run.errors[serial] = f"{type(exc).__name__}: {exc}"
            out(f"[{serial}] 接入失败 dock failed：{exc}")

    if rich_view is not None:
        rich_view.view.start()
    try:
        with ThreadPoolExecutor(max_workers=ledger.settings.max_docks,
                                thread_name_prefix="dock") as pool:
            running: dict[str, Future[DockResult]] = {}
            ports: dict[str, str] = {}  # serial → its port group, while it docks
            waiting: list[DockedRecorder] = []
            per_port = ledger.settings.max_docks_per_port
            while not stop.is_set():
                for docked in source.poll():
                    out(f"[{docked.serial}] 记录仪接入端口 {docked.port}")
                    waiting.append(docked)
                for docked in list(waiting):
                    group = port_group(docked.port)
                    if per_port and sum(g == group for g in ports.values()) >= per_port:
                        continue  # the port is busy: its next recorder waits its turn
                    waiting.remove(docked)
                    ports[docked.serial] = group
                    running[docked.serial] = pool.submit(work, docked)
                for serial in [s for s, f in running.items() if f.done()]:
                    ports.pop(serial, None)
                    collect(serial, running.pop(serial))
                if once and not running and not waiting:
                    break
                if once:
                    stop.wait(0.05)
                elif hotplug is not None:
                    hotplug.poll(timeout_s=poll_s)  # returns early on a udev event
                else:
                    stop.wait(poll_s)
            for serial, future in running.items():
                collect(serial, future)
        for serial in sorted(source.unsupported):
            out(f"[{serial}] 不支持：没有此记录仪的 GA/T 947.4 传输 "
                "(no transport for this recorder)")
    finally:
        if rich_view is not None:
            rich_view.view.stop()
        finished.set()
        uploader.join()
        media.join()
        forwarder.join()
        if once:
            media_once()  # a one-shot run leaves nothing for a media queue that is not running
        publisher.stop()  # the last entries get a checkpoint before we return
        if once and sync is not None and sync_wait() > 0:
            out("不在上传时段内，本次未同步 (outside the upload windows: not synced)")
        elif once and sync is not None:
            try:  # a one-shot run also forwards what it docked, when the bureau is there
                sync()
            except LiuhenError as exc:
                out(f"同步未完成 sync not done: {exc}")
        if heartbeat is not None:
            heartbeat.stop()
    return run

