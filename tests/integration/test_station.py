"""The station spine end to end: simulated recorders → verified, ledgered originals.

Every test runs on SQLite and on PostgreSQL (``ledger_url``), with the local write-once store.
"""

from __future__ import annotations

import hashlib
import os
import queue
import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.compose import Station
from api.station import run_station
from devices.massstorage import MassStorageDriver
from devices.sim.cards import Media
from devices.sim.device import SimulatedRecorder
from devices.sim.recorder import expected_files, make_fleet, simulated_dock_source
from evidence.errors import ConflictError, PolicyViolationError, UnavailableError
from evidence.ids import DeviceSerial
from evidence.records import Assignment, FileState
from ingest.station import Dock, DockResult
from ingest.uploads import drain_uploads
from integrity.entry import decode_entry
from ledger.audit import run_audit

PASSWORD = b"123456"
START = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


class Quiet:
    def dock_started(self, serial: str, *, files: int, total_bytes: int) -> None: ...
    def advanced(self, serial: str, nbytes: int) -> None: ...
    def file_done(self, serial: str, path: str, state: str, note: str = "") -> None: ...
    def dock_finished(self, serial: str, *, ok: bool, summary: str) -> None: ...
    def media(self, sha256: str, action: str, *, done_ms: int, total_ms: int) -> None: ...


def fleet(tmp_path: Path, media: Media, kinds: tuple[str, ...]) -> list[SimulatedRecorder]:
    for tool in ("mkfs.vfat", "mkfs.exfat"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: .ci/run installs dosfstools and exfatprogs")
    _, recorders = make_fleet(len(kinds), workdir=tmp_path / "cards", media=media,
                              base_clock=lambda: datetime.now(UTC), storage_kinds=kinds,
                              card_start=START)
    return recorders


def dock(station: Station, recorder: SimulatedRecorder, *, password: bytes = PASSWORD,
         release: str = "mark") -> DockResult:
    from devices.gat947 import Gat947Driver

    ctx = station.context(Quiet())
    ctx.policy = type(ctx.policy)(retention_days=180, release=release)
    driver = Gat947Driver(recorder, usb_serial=DeviceSerial(recorder.serial),
                          storage=recorder.volume)
    return Dock(driver, ctx=ctx, password=password).run()


def ledger_kinds(station: Station) -> list[tuple[str, str, dict[str, object]]]:
    return [(e.kind.value, e.subject, e.body) for e in
            (decode_entry(r.data) for r in station.ledger.store.entries())]


def test_dock_three_recorders_every_file_verified_once(
        station: Station, tmp_path: Path, media: Media) -> None:
    recorders = fleet(tmp_path, media, ("directory", "fat32", "exfat"))
    for recorder in recorders:
        result = dock(station, recorder)
        assert result.failed == {} and result.released
        assert result.verified == result.files == len(expected_files(recorder, media, START))
        assert result.clock_offset_ms is not None and -96_000 < result.clock_offset_ms < -94_000
    entries = ledger_kinds(station)
    for recorder in recorders:
        files = expected_files(recorder, media, START)
        rows = {r.path: r for r in station.repo.files(recorder.serial)}
        assert set(rows) == set(files)
        for path, data in files.items():
            row = rows[path]
            sha = hashlib.sha256(data).hexdigest()
            assert row.sha256 == sha and row.state is FileState.RELEASED
            # exactly one `acquired` and one `stored` entry for this file of this recorder
            acquired = [b for k, s, b in entries if k == "acquired" and s == sha
                        and b["device"] == recorder.serial and b["name_on_device"] == path]
            assert len(acquired) == 1
            assert acquired[0]["officer"] == recorder.zfy.officer.officer_no
            assert row.object is not None
            with station.blobs.open(row.object) as fh:
                assert hashlib.sha256(fh.read()).hexdigest() == sha
        clock = [b for k, s, b in entries if k == "clock_observed" and s == recorder.serial]
        assert len(clock) == 1 and clock[0]["synced"] is True
    assert sum(k == "stored" for k, _, _ in entries) == sum(k == "acquired"
                                                            for k, _, _ in entries)
    quarantined = [b for k, _, b in entries if k == "quarantined"]
    assert {b["reason"] for b in quarantined} == {
        "zero-byte file: nothing to recover; ledgered as received"}
    station.ledger.publish()
    report = run_audit(station.ledger.store, station.ledger.trust, deep=True)
    assert report.head.size == len(entries)


def test_redock_adds_nothing_but_a_clock_observation(
        station: Station, tmp_path: Path, media: Media) -> None:
    (recorder,) = fleet(tmp_path, media, ("directory",))
    dock(station, recorder)
    before = ledger_kinds(station)
    dock(station, recorder)
    after = ledger_kinds(station)
    assert [k for k, _, _ in after[len(before):]] == ["clock_observed"]


def test_wrong_password_reads_nothing(station: Station, tmp_path: Path, media: Media) -> None:
    (recorder,) = fleet(tmp_path, media, ("directory",))
    with pytest.raises(PolicyViolationError, match="password"):
        dock(station, recorder, password=b"654321")
    assert station.repo.files(recorder.serial) == []
    assert station.ledger.store.size() == 0


def test_unplug_mid_read_then_redock_resumes_exactly_once(
        station: Station, tmp_path: Path, media: Media) -> None:
    (recorder,) = fleet(tmp_path, media, ("fat32",))
    recorder.fail_read_after = 40_000  # the first clip is bigger: unplugged inside it
    with pytest.raises(UnavailableError, match="DCIM/100MEDIA/"):
        dock(station, recorder)
    rows = station.repo.files(recorder.serial)
    assert rows and all(r.state is not FileState.RELEASED for r in rows)
    assert any(r.last_error and r.attempts == 1 for r in rows)
    assert not list((station.ledger.settings.data_dir / "staging").glob("*.part"))
    recorder.fail_read_after = None
    recorder.plugged = True
    result = dock(station, recorder)
    assert result.failed == {} and result.released
    acquired = [s for k, s, b in ledger_kinds(station) if k == "acquired"]
    assert len(acquired) == len(expected_files(recorder, media, START))


class RefuseOne:
    """An object store that refuses one file (as a full bucket or a bad key would)."""

    def __init__(self, real: object, sha256: str) -> None:
        self._real, self._sha = real, sha256

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)

    def put(self, key: str, source: Path, **kw: object) -> object:
        if kw["sha256"] == self._sha:
            raise ConflictError(f"refusing {key}")
        return self._real.put(key, source, **kw)  # type: ignore[attr-defined]  # the real store


def test_release_deletes_only_after_every_file_is_verified(
        station: Station, tmp_path: Path, media: Media) -> None:
    (recorder,) = fleet(tmp_path, media, ("directory",))
    card = recorder.storage
    files = expected_files(recorder, media, START)
    avi = "DCIM/100MEDIA/20261124_083500_LH00001_010203.AVI"
    refused = hashlib.sha256(files[avi]).hexdigest()
    real = station.blobs
    station.blobs = RefuseOne(real, refused)  # type: ignore[assignment]  # a partial stand-in
    result = dock(station, recorder, release="delete")
    assert not result.released
    assert set(result.failed) == {p for p, d in files.items()
                                  if hashlib.sha256(d).hexdigest() == refused}
    assert all((card / p).exists() for p in files)  # one file unverified: nothing deleted
    assert not [k for k, _, _ in ledger_kinds(station) if k == "released"]
    station.blobs = real
    result = dock(station, recorder, release="delete")
    assert result.released and result.failed == {}
    assert not any((card / p).exists() for p in files)
    released = [b for k, _, b in ledger_kinds(station) if k == "released"]
    assert len(released) == len(files) and all(b["mode"] == "delete" for b in released)


def test_hostile_names_never_become_host_paths(
        station: Station, tmp_path: Path) -> None:
    card = tmp_path / "card"
    deep = card / ("长目录名" * 20) / ("x" * 200) / ("y" * 100)
    deep.mkdir(parents=True)
    names = {
        card / "..\\..\\etc\\passwd.MP4": b"backslashes",
        card / "-rf --no-preserve-root.MP4": b"dash",
        card / "new\nline.MP4": b"newline",
        deep / "长文件名.MP4": b"300+ characters of path",
        card / "empty.MP4": b"",
    }
    for path, data in names.items():
        path.write_bytes(data)
    gbk = os.fsencode(card) + b"/" + "执法记录.MP4".encode("gbk")  # not valid UTF-8
    with open(gbk, "wb") as fh:
        fh.write(b"gbk name")
    outside = tmp_path / "outside.MP4"
    outside.write_bytes(b"secret")
    (card / "link.MP4").symlink_to(outside)
    driver = MassStorageDriver.from_directory(card, serial=DeviceSerial("SD0001"))
    ctx = station.context(Quiet())
    who = Assignment(serial="SD0001", id_code="", officer_no="000777", officer_name="",
                     unit_no="", unit_name="")
    result = Dock(driver, ctx=ctx, password=None, assignment=who).run()
    assert result.failed == {} and result.verified == result.files == 6  # the symlink is skipped
    staged = list((station.ledger.settings.data_dir / "staging").iterdir())
    assert staged == []  # every staging file was named by row id and removed once verified
    bodies = [b for k, _, b in ledger_kinds(station) if k == "acquired"]
    by_name = {b["name_on_device"]: b for b in bodies}
    assert "..\\..\\etc\\passwd.MP4" in by_name and "new\nline.MP4" in by_name
    long_name = next(n for n in by_name if str(n).endswith("长文件名.MP4"))
    assert len(str(long_name)) > 300
    gbk_entry = next(b for b in bodies if "name_bytes_hex" in b)
    assert bytes.fromhex(str(gbk_entry["name_bytes_hex"])) == "执法记录.MP4".encode("gbk")
    assert "\ufffd" in str(gbk_entry["name_on_device"])  # shown with replacement characters
    assert not any(b.get("name_on_device") == "link.MP4" for b in bodies)


def test_station_refuses_an_unassigned_bare_disk(station: Station, tmp_path: Path) -> None:
    (tmp_path / "card").mkdir()
    (tmp_path / "card" / "a.MP4").write_bytes(b"x")
    driver = MassStorageDriver.from_directory(tmp_path / "card", serial=DeviceSerial("SD9"))
    with pytest.raises(PolicyViolationError, match="not assigned"):
        Dock(driver, ctx=station.context(Quiet()), password=None).run()


class Outage:
    """The object store is down."""

    url = "file:///down"

    def put(self, *a: object, **k: object) -> None:
        raise UnavailableError("store down")


def test_store_outage_keeps_copying_and_the_upload_queue_finishes(
        station: Station, tmp_path: Path, media: Media) -> None:
    (recorder,) = fleet(tmp_path, media, ("directory",))
    real = station.blobs
    station.blobs = Outage()  # type: ignore[assignment]  # a store that only fails
    result = dock(station, recorder)
    files = expected_files(recorder, media, START)
    # Every file was still copied and ledgered; none is stored, so nothing is released.
    assert result.waiting == len(files) and not result.released and result.failed == {}
    rows = station.repo.files(recorder.serial)
    assert {r.state for r in rows} == {FileState.COMMITTED}
    assert sum(k == "acquired" for k, _, _ in ledger_kinds(station)) == len(files)
    ctx = station.context(Quiet())
    assert drain_uploads(ctx) == (0, len(files))  # still down: stops at the first failure
    station.blobs = real
    done, waiting = drain_uploads(station.context(Quiet()))
    assert (done, waiting) == (len(files), 0)
    assert {r.state for r in station.repo.files(recorder.serial)} == {FileState.VERIFIED}
    assert sum(k == "stored" for k, _, _ in ledger_kinds(station)) == len(files)
    result = dock(station, recorder)  # the next dock releases the recorder
    assert result.released


def test_lost_staging_is_reacquired_from_the_recorder(
        station: Station, tmp_path: Path, media: Media) -> None:
    (recorder,) = fleet(tmp_path, media, ("directory",))
    ctx = station.context(Quiet())
    real = station.blobs
    station.blobs = Outage()  # type: ignore[assignment]  # a store that only fails
    assert dock(station, recorder).waiting > 0  # files stop at `committed`
    station.blobs = real
    shutil.rmtree(ctx.staging)
    done, waiting = drain_uploads(station.context(Quiet()))
    assert done == 0 and waiting > 0  # without the recorder the queue cannot re-read them
    result = dock(station, recorder)  # re-docked: read again, hashes match the ledger
    assert result.failed == {} and result.released
    rows = station.repo.files(recorder.serial)
    assert all(r.state is FileState.RELEASED for r in rows)
    assert len([1 for k, _, _ in ledger_kinds(station) if k == "acquired"]) == len(rows)


class Wake:
    """A hot-plug source whose events the test injects (these machines run no udevd)."""

    def __init__(self) -> None:
        self.events: queue.Queue[str] = queue.Queue()

    def poll(self, timeout_s: float) -> list[str]:
        try:
            return [self.events.get(timeout=timeout_s)]
        except queue.Empty:
            return []

    def close(self) -> None: ...


def test_daemon_docks_a_recorder_plugged_later_woken_by_hotplug(
        station: Station, tmp_path: Path, media: Media) -> None:
    bus, recorders = make_fleet(1, workdir=tmp_path / "cards", media=media,
                                base_clock=lambda: datetime.now(UTC), card_start=START)
    bus.unplug(recorders[0])
    source = simulated_dock_source(recorders, bus)
    wake, stop = Wake(), threading.Event()
    lines: list[str] = []
    daemon = threading.Thread(target=run_station, args=(station, source), kwargs={
        "password": PASSWORD, "once": False, "out": lines.append, "poll_s": 60.0, "stop": stop,
        "hotplug": wake})  # a 60 s scan interval: only the hot-plug event can wake it sooner
    daemon.start()
    try:
        time.sleep(0.5)
        plugged = time.monotonic()
        bus.plug(recorders[0])
        wake.events.put("add")
        while not any("完成：" in line for line in lines):
            assert time.monotonic() - plugged < 30, lines
            time.sleep(0.1)
    finally:
        stop.set()
        wake.events.put("stop")
        daemon.join(timeout=60)
    assert any("[LH00001] 记录仪接入端口" in line for line in lines)
    assert all(r.state is FileState.RELEASED for r in station.repo.files("LH00001"))
