"""Station commands of the ``liuhen`` CLI: station, ingest, verify, demo.

Heavy modules are imported inside the commands, so ``verify-bundle`` stays database-free.
"""

from __future__ import annotations

import shutil
import signal
import stat
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api.compose import Station
    from api.settings import Settings
    from api.station import StationRun
    from devices.docking import UsbDockSource
    from devices.massstorage import MassStorageDriver
    from evidence.ids import DeviceSerial

SIMULATED_PASSWORD = b"123456"  # the simulator's recorders; real ones use LIUHEN_RECORDER_PASSWORD
CARD_START = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)  # simulated recordings: 08:30 CST


def _password(settings: Settings) -> bytes | None:
    return settings.recorder_password.encode() if settings.recorder_password else None


def simulated_source(workdir: Path, count: int, *, ffmpeg: str) -> UsbDockSource:
    """``count`` simulated recorders (directory, FAT32 and exFAT cards where the tools exist),
    their clips made by ``ffmpeg``: the binary the media stage uses, so they play."""
    from devices.sim.cards import media_library
    from devices.sim.recorder import make_fleet, simulated_dock_source

    kinds = ["directory"]
    if shutil.which("mkfs.vfat") and shutil.which("mcopy"):
        kinds.append("fat32")
    if shutil.which("mkfs.exfat"):
        kinds.append("exfat")
    media = media_library(workdir / "media", ffmpeg=ffmpeg)
    bus, recorders = make_fleet(count, workdir=workdir, media=media,
                                base_clock=lambda: datetime.now(UTC),
                                storage_kinds=tuple(kinds), card_start=CARD_START)
    return simulated_dock_source(recorders, bus)


def station_run(settings: Settings, *, simulate: int, once: bool,
                out: Callable[[str], None]) -> tuple[Station, StationRun]:
    """Run the station (simulated recorders or USB); returns it still open, with the run."""
    from api.compose import open_station
    from api.station import run_station
    from devices.docking import UsbDockSource
    from devices.hotplug import HotplugSource, PyudevHotplugSource
    from evidence.errors import UnavailableError
    from ingest.media.tools import INSTALL_HINT

    station = open_station(settings)
    try:
        if simulate:
            if station.media is None:
                raise UnavailableError(f"模拟执法记录仪需要 ffmpeg 生成视频：{INSTALL_HINT}")
            source = simulated_source(settings.data_dir / "simulator", simulate,
                                      ffmpeg=station.media.ffmpeg)
            password: bytes | None = SIMULATED_PASSWORD
        else:
            # Real USB: GA/T 947.4 recorders need their vendor's transport, which no Linux
            # package provides; mass-storage recorders are ingested with `liuhen ingest`.
            source = UsbDockSource(transport_for=lambda _serial: None, vendor_ids=frozenset())
            password = _password(settings)
        hotplug: HotplugSource | None = None
        if not simulate and not once:
            try:
                hotplug = PyudevHotplugSource()
            except UnavailableError as exc:
                out(f"hot-plug: {exc}; scanning USB every second instead")
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            run = run_station(station, source, password=password, once=once, out=out, stop=stop,
                              hotplug=hotplug)
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
                reasons[sha] = catalogue.clip(sha).quarantine_reason
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


def _recorder_at(path: Path, *, serial: DeviceSerial) -> MassStorageDriver:
    """A folder, a card image or a (read-only) card block device; anything else (a FIFO, a
    socket, a character device) is refused before it is opened: a FIFO would block for ever."""
    from devices.dirvolume import special_kind
    from devices.massstorage import MassStorageDriver
    from evidence.errors import NotFoundError, PolicyViolationError

    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise NotFoundError(f"{path} 不存在") from exc
    if stat.S_ISDIR(mode):
        return MassStorageDriver.from_directory(path, serial=serial)
    if stat.S_ISREG(mode) or stat.S_ISBLK(mode):
        return MassStorageDriver.from_image(path, serial=serial)
    raise PolicyViolationError(f"{path} 是{special_kind(mode)}，不是文件夹、卡镜像或磁盘：拒绝读取")


def ingest_path(settings: Settings, path: Path, *, serial: str, officer: str,
                out: Callable[[str], None]) -> tuple[Station, StationRun]:
    """Dock a mounted recorder, SD card folder or card image, then take its files through the
    media stage, as the station does; returns the station still open, with the run."""
    from api.compose import open_station
    from api.station import LogProgress, StationRun, derive_media
    from evidence.identity import canonical_officer_no
    from evidence.ids import DeviceSerial
    from evidence.records import Assignment
    from ingest.station import Dock

    officer = canonical_officer_no(officer, pattern=settings.officer_no_pattern)
    driver = _recorder_at(path, serial=DeviceSerial(serial))
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


def verify_clip(settings: Settings, ref: str, out: Callable[[str], None]) -> None:
    """Is this clip in the ledger, and is its stored original intact? Raises when not."""
    from api.compose import open_station
    from evidence.errors import NotFoundError
    from evidence.ids import Sha256Hex, is_sha256_hex
    from integrity.entry import decode_entry
    from integrity.hashing import sha256_stream

    path = Path(ref)
    if path.is_file():
        with path.open("rb") as fh:
            sha, _ = sha256_stream(fh)
        out(f"{path.name}: SHA-256 {sha}")
    elif is_sha256_hex(ref):
        sha = Sha256Hex(ref)
    else:
        raise NotFoundError(f"{ref!r} is neither a file nor a lowercase SHA-256")
    station = open_station(settings)
    try:
        entries = [(row.index, decode_entry(row.data)) for row in station.ledger.store.find(sha)]
        acquired = [(i, e) for i, e in entries if e.kind.value == "acquired"]
        if not acquired:
            raise NotFoundError(f"no `acquired` entry for {sha} in this ledger")
        for index, e in acquired:
            body = e.body
            out(f"  ledger entry {index}: acquired {body.get('name_on_device')} from "
                f"{body.get('device')} (警号 {body.get('officer')}) at {e.at.isoformat()}")
        objects = [r.object for r in station.repo.by_sha256(sha) if r.object is not None]
        if not objects:
            raise NotFoundError(f"{sha} is ledgered but no stored object is recorded yet")
        obj = objects[0]
        checked = station.blobs.verify(obj, rehash=True)
        out(f"  stored {checked.store} {checked.key} version {checked.version_id}: "
            f"{checked.size} bytes re-hashed OK, {checked.lock_mode} until "
            f"{checked.retain_until.date()}")
        for index, e in entries:
            if e.kind.value == "quarantined":
                out(f"  quarantined (entry {index}): {e.body.get('reason')}")
        out("clip verified: in the ledger and intact in storage")
    finally:
        station.close()


def fixity_check(settings: Settings, *, rehash: bool, out: Callable[[str], None]) -> int:
    """Verify every stored object recorded by this station; returns how many failed."""
    from api.compose import open_station
    from evidence.errors import NotFoundError, VerificationError

    station = open_station(settings)
    try:
        seen: set[tuple[str, str, str]] = set()
        bad = checked = 0
        for row in station.repo.all_files():
            obj = row.object
            if obj is None or (obj.store, obj.key, obj.version_id) in seen:
                continue
            seen.add((obj.store, obj.key, obj.version_id))
            try:
                station.blobs.verify(obj, rehash=rehash)
                checked += 1
            except (VerificationError, NotFoundError) as exc:
                bad += 1
                out(f"FIXITY FAILED {obj.key} (version {obj.version_id}, {row.serial} "
                    f"{row.path}): {exc}")
        out(f"fixity: {checked} objects OK, {bad} failed" + (" (re-hashed)" if rehash else ""))
        return bad
    finally:
        station.close()
