"""Station commands of ``liuhen``: init, demo, station, ingest; and what they share: running
the station on USB or simulated recorders, docking a mounted recorder or card, printing results.

Heavy modules are imported inside the functions, so ``liuhen --help`` loads no adapter.
"""

from __future__ import annotations

import shlex
import shutil
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli._common import DataDir, Store, errors, settings_for
from api.console import out
from api.http import labels
from api.stationlink import read_link

if TYPE_CHECKING:
    from api.compose import Station
    from api.settings import Settings
    from api.station import StationRun

app = typer.Typer()

SIMULATED_PASSWORD = b"123456"  # the simulator's recorders; real ones use LIUHEN_RECORDER_PASSWORD
CARD_START = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)  # simulated recordings: 08:30 CST


@app.command()
def init(data_dir: DataDir = None) -> None:
    """Create a new ledger in the data directory: station and log keys, keyring, database.
    Besides demo and station, the only command that creates one; an existing ledger is left
    as it is."""
    from api.compose import open_ledger

    with errors():
        settings = settings_for(data_dir, create=True)
        existed = settings.missing_ledger() is None
        ledger = open_ledger(settings)
        try:
            size = ledger.store.head().size
        finally:
            ledger.close()
    where = settings.data_dir
    if existed:
        out(f"{where} 中已有账本（{size} 条记录），未改动")
        return
    out(f"已在 {where} 新建账本：密钥在 {where / 'keys'}，公钥清单 {where / 'keyring.json'}")
    out("  请把 liuhen trust-root 的输出交给审计方保存（信任根）")


@app.command()
def demo(data_dir: DataDir = None, store: Store = None,
         recorders: Annotated[int, typer.Option(help="simulated recorders to dock")] = 3) -> None:
    """Dock simulated recorders on the embedded defaults (SQLite + local store under DATA),
    print what was ingested and the checkpoint, and verify one clip's bundle offline."""
    with errors():
        run_demo(settings_for(data_dir, store=store, create=True), recorders=recorders, out=out)


@app.command()
def station(
    data_dir: DataDir = None,
    store: Store = None,
    *,
    simulate: Annotated[int, typer.Option(help="dock N simulated recorders instead of USB")] = 0,
    simulate_e12: Annotated[int, typer.Option(
        help="with --simulate: also N simulated Android recorders speaking E12")] = 0,
    simulate_zzx: Annotated[int, typer.Option(
        help="with --simulate: also N simulated Android recorders speaking ZZX JSON")] = 0,
    once: Annotated[bool, typer.Option(help="exit when the docked recorders are done")] = False,
) -> None:
    """The docking-station daemon: watch the ports, dock recorders, ingest with live progress."""
    with errors():
        station_obj, run = station_run(settings_for(data_dir, store=store, create=True),
                                       simulate=simulate, once=once, out=out,
                                       simulate_e12=simulate_e12, simulate_zzx=simulate_zzx)
        try:
            print_results(station_obj, run, out)
        finally:
            station_obj.close()
        if run.errors or any(r.failed for r in run.results):
            raise typer.Exit(75)


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="a mounted recorder, SD card folder or card image")],
    serial: Annotated[str, typer.Option(help="the recorder's serial")],
    officer: Annotated[str, typer.Option(help="警号 of the officer the recorder belongs to")],
    data_dir: DataDir = None,
    store: Store = None,
) -> None:
    """Ingest a recorder that is already mounted, an SD card or a folder of recordings."""
    with errors():
        station_obj, run = ingest_path(settings_for(data_dir, store=store), path, serial=serial,
                                       officer=officer, out=out)
        try:
            print_results(station_obj, run, out)
        finally:
            station_obj.close()
        if any(r.failed for r in run.results):
            raise typer.Exit(75)


def _password(settings: Settings) -> bytes | None:
    return settings.recorder_password.encode() if settings.recorder_password else None


def station_run(settings: Settings, *, simulate: int, once: bool,
                out: Callable[[str], None], simulate_e12: int = 0,
                simulate_zzx: int = 0) -> tuple[Station, StationRun]:
    """Run the station (simulated recorders or USB); returns it still open, with the run."""
    from api.compose import (
        dock_sources,
        hotplug_events,
        open_station,
        simulated_recorders,
        station_board,
        sync_once,
        sync_schedule,
        utc_now,
    )
    from api.station import run_station
    from evidence.errors import UnavailableError
    from ingest.media.tools import INSTALL_HINT
    from ingest.ports import DeviceEvents, DockSource

    station = open_station(settings)
    try:
        if simulate:
            if station.media is None:
                raise UnavailableError(f"模拟执法记录仪需要 ffmpeg 生成视频：{INSTALL_HINT}")
            source: DockSource = simulated_recorders(
                settings.data_dir / "simulator", simulate, ffmpeg=station.media.ffmpeg,
                card_start=CARD_START, e12=simulate_e12, zzx=simulate_zzx)
            password: bytes | None = SIMULATED_PASSWORD
        else:
            # Real USB: GA/T 947.4 recorders need their vendor's transport, which no Linux
            # package provides; mass-storage recorders are ingested with `liuhen ingest`.
            source = dock_sources(settings)
            password = _password(settings)
        hotplug: DeviceEvents | None = None
        if not simulate and not once:
            try:
                hotplug = hotplug_events()
            except UnavailableError as exc:
                out(f"hot-plug: {exc}; scanning USB every second instead")
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            link = read_link(settings.data_dir)
            schedule = sync_schedule(settings)
            run = run_station(station, source, password=password, once=once, out=out, stop=stop,
                              hotplug=hotplug, board=station_board(station.ledger),
                              sync=None if link is None else lambda: sync_once(settings, link),
                              sync_wait=(lambda: 0.0) if schedule is None
                              else lambda: schedule.wait_s(utc_now()))
        except KeyboardInterrupt:
            stop.set()
            raise
        finally:
            signal.signal(signal.SIGTERM, previous)
    except BaseException:
        station.close()
        raise
    return station, run


def print_results(station: Station, run: StationRun, out: Callable[[str], None]) -> None:
    """Per recorder what a person needs: how many files are stored and verified as received,
    which of them are quarantined and why (at docking, or by the media stage since), which
    failed; then the media stage's totals over the whole run."""
    catalogue = station.ledger.catalogue
    catalogue.catch_up()
    reasons: dict[str, str | None] = {}
    for r in sorted(run.results, key=lambda r: r.serial):
        quarantined: list[tuple[str, str]] = []
        for path, sha in sorted(r.contents.items()):
            if sha not in reasons:
                clip = catalogue.clip(sha)
                reasons[sha] = (f"{labels.quarantine(clip)}（{clip.quarantine_reason}）"
                                if clip.quarantine_reason else None)
            why = reasons[sha]
            if why:
                quarantined.append((path, why))
        offset = "未知" if r.clock_offset_ms is None else f"{r.clock_offset_ms:+d} ms"
        out(f"  {r.serial}（警号 {r.officer_no}）：{r.files} 个文件中 {r.verified} 个已按原样存储"
            f"并校验，其中 {len(quarantined)} 个已隔离；{len(r.failed)} 个失败；时钟偏差 {offset}；"
            + ("已释放" if r.released else "未释放"))
        for path, why in quarantined:
            out(f"    隔离 {path}：{why}")
        for path, why in sorted(r.failed.items()):
            out(f"    失败 {path}：{why}")
    for serial, why in sorted(run.errors.items()):
        out(f"  {serial}：{why}")
    if station.media is None:
        out("媒体处理：本机没有 ffmpeg，未生成播放副本")
    else:
        out(f"媒体处理（合计）：生成 {run.media.derived} 个播放副本，{run.media.quarantined} 个被 "
            "ffprobe/ffmpeg 拒绝而隔离")


def ingest_path(settings: Settings, path: Path, *, serial: str, officer: str,
                out: Callable[[str], None]) -> tuple[Station, StationRun]:
    """Dock a mounted recorder, SD card folder or card image, then take its files through the
    media stage, as the station does; returns the station still open, with the run."""
    from api.compose import open_station, recorder_at
    from api.station import LogProgress, StationRun, derive_media
    from evidence.identity import canonical_officer_no
    from evidence.ids import DeviceSerial
    from evidence.records import Assignment
    from ingest.station import Dock

    officer = canonical_officer_no(officer, pattern=settings.officer_no_pattern)
    driver = recorder_at(path, serial=DeviceSerial(serial))
    station = open_station(settings)
    try:
        progress = LogProgress(out)
        ctx = station.context(progress)
        who = station.repo.assignment(serial)
        if who is None or who.officer_no != officer:
            who = Assignment(serial=serial, id_code="", officer_no=officer, officer_name="",
                             unit_no="", unit_name="")
        run = StationRun(results=[Dock(driver, ctx=ctx, password=None, assignment=who).run()])
        run.add_media(derive_media(station, ctx, progress=progress, out=out))
        station.ledger.publish(actor="ingest")
    except BaseException:
        station.close()
        raise
    return station, run



def liuhen_command() -> str:
    """How to run ``liuhen`` from this shell: the bare name when it is on PATH, else the full
    path of the console script beside this interpreter (``make demo`` does not activate
    .venv, so ``.venv/bin`` is usually not on PATH)."""
    here = Path(sys.executable).with_name("liuhen")
    on_path = shutil.which("liuhen")
    if on_path is not None and (not here.exists() or Path(on_path).samefile(here)):
        return "liuhen"
    if here.exists():
        return shlex.quote(str(here.absolute()))
    return "liuhen"


def run_demo(settings: Settings, *, recorders: int, out: Callable[[str], None]) -> None:
    """Dock ``recorders`` simulated recorders once; print what was stored, the checkpoint, one
    clip's bundle verified offline and the audit; then the command that verifies that clip."""
    from integrity.bundle import verify_bundle
    from integrity.notes import verify_note
    from ledger.audit import run_audit
    from ledger.files import write_atomic
    from ledger.proofs import export_bundle

    out(f"liuhen demo in {settings.data_dir.resolve()}: docking {recorders} simulated recorders")
    station, run = station_run(settings, simulate=recorders, once=True, out=out)
    try:
        print_results(station, run, out)
        ledger = station.ledger
        head = ledger.store.head()
        latest = ledger.store.latest_checkpoint()
        out(f"ledger: {head.size} entries; checkpoint size "
            f"{latest.head.size if latest else 0} root "
            f"{latest.head.root.hex() if latest else '-'}")
        if latest is not None:
            _, signed = verify_note(latest.note, [k for k in ledger.trust.keys if k.role == "log"],
                                    size=latest.head.size)
            out("  检查点签名 checkpoint signed with: "
                + ", ".join(f"{k.algorithm.upper()} ({k.key_id})" for k in signed))
        if latest is not None and latest.sm3 is not None:
            out(f"  SM3 树 (SM3 tree, the checkpoint's sm3 line): root {latest.sm3.root.hex()}")
        playable = {c.sha256 for c in ledger.catalogue.all_clips()
                    if c.playback is not None and not c.quarantine_reason}
        rows = [r for r in station.repo.all_files() if r.object is not None and r.size > 0
                and r.sha256 in playable]
        if not rows:
            out("no playable clip was stored; nothing to export")
            return
        row = rows[0]
        sample = station.blobs.verify(row.object) if row.object is not None else None
        if sample is not None and sample.sealing is not None:
            seal = sample.sealing
            out(f"静态加密 {seal.algorithm}（KEK {seal.kek_id}）：对象存储只保存密文；"
                f"{row.path} 明文 SHA-256 {sample.sha256[:16]}…，存储密文 SHA-256 "
                f"{seal.sealed_sha256[:16]}…，{seal.sealed_size} 字节")
            out(f"encrypted at rest ({seal.algorithm}): the object store holds ciphertext only")
        bundle = export_bundle(ledger.store, ledger.trust, str(row.acquired_index))
        path = settings.data_dir / "demo.bundle.json"
        write_atomic(path, bundle)
        report = verify_bundle(bundle, trust=ledger.trust, clip_sha256=row.sha256)
        out(f"clip {row.path}: SHA-256 {row.sha256}  SM3 {row.sm3 or '-'}")
        out(f"bundle for {row.path} ({row.serial}): {path}, {len(bundle)} bytes; verified "
            f"offline: entry {report.index} under checkpoint {report.checkpoint.head.size}"
            + (" in both trees (SHA-256, SM3)" if report.sm3_checked else ""))
        audit = run_audit(ledger.store, ledger.trust,
                          external=[ledger.latest_note_path.read_bytes()])
        out(f"audit OK: {audit.head.size} entries, {audit.commits} commits, "
            f"{audit.checkpoints} checkpoints; SHA-256 and SM3 trees rebuilt")
        out(f"next: {liuhen_command()} verify {row.sha256} --data-dir "
            f"{shlex.quote(str(settings.data_dir))}")
    finally:
        station.close()
