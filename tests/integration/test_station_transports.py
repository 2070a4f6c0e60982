"""One station, several transports (issue 19): USB recorders on the simulated bus and Android
recorders speaking E12 and ZZX on loopback, found through adb (a stand-in CLI), docked in one
run; every
file of every recorder stored, verified and ledgered exactly once, the E12 recorders' clocks read
before they were synced. SQLite and PostgreSQL (``ledger_url``)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.compose import Station, open_station, simulated_recorders
from api.settings import Settings
from api.station import run_station
from devices.adb import AdbDockSource
from devices.docking import DockSources, Source
from devices.sim.cards import Media
from devices.sim.device import SimulatedRecorder
from devices.sim.e12sim import E12Simulator
from devices.sim.recorder import expected_files, make_recorder, simulated_dock_source
from devices.sim.usbbus import SimulatedUsbBackend
from devices.sim.zzxsim import ZzxSimulator
from ingest.media import find_ffmpeg
from integrity.entry import decode_entry
from tests.integration.test_adb_dock import Adb

START = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_usb_and_e12_recorders_dock_in_one_run(station: Station, tmp_path: Path,
                                               media: Media) -> None:
    def recorder(i: int) -> SimulatedRecorder:
        return make_recorder(i, workdir=tmp_path / "cards", media=media, card_start=START,
                             base_clock=lambda: datetime.now(UTC))

    usb = [recorder(0), recorder(1)]
    android = [recorder(2), recorder(3)]
    bus = SimulatedUsbBackend()
    for r in usb:
        bus.plug(r)
    by_serial = {r.serial: r for r in android}
    lines: list[str] = []
    with ExitStack() as stack:
        sims: list[E12Simulator | ZzxSimulator] = [
            stack.enter_context(E12Simulator(android[0])),
            stack.enter_context(ZzxSimulator(android[1]))]
        sources: list[Source] = [simulated_dock_source(usb, bus)]
        for sim, protocol in zip(sims, ("e12", "zzx"), strict=True):
            adb = Adb(tmp_path / f"adb-{protocol}.json")
            adb.write({sim.recorder.serial: "device"}, {sim.recorder.serial: sim.port})
            sources.append(AdbDockSource(
                storage=lambda serial: by_serial[serial].volume(serial), protocol=protocol,
                adb=[sys.executable, "-m", "tests.support.fake_adb", str(adb.path)]))
        run = run_station(station, DockSources(sources), password=b"123456", once=True,
                          out=lines.append)
    assert run.errors == {}
    assert {r.serial for r in run.results} == {"LH00001", "LH00002", "LH00003", "LH00004"}
    for result in run.results:
        assert result.failed == {} and result.released, result
        assert result.clock_offset_ms is not None and -96_000 <= result.clock_offset_ms <= -94_000
    e12, zzx = sims  # the clock read before it was set
    assert isinstance(e12, E12Simulator) and isinstance(zzx, ZzxSimulator)
    assert e12.commands.index("E12CMDS010") < e12.commands.index("E12CMDS006")
    assert zzx.functions.index("ReadDevTime") < zzx.functions.index("SyncDevTime")
    acquired = Counter((e.body["device"], e.body["name_on_device"]) for e in
                       (decode_entry(r.data) for r in station.ledger.store.entries())
                       if e.kind.value == "acquired")
    expected = {(r.serial, path) for r in usb + android
                for path in expected_files(r, media, START)}
    assert set(acquired) == expected and set(acquired.values()) == {1}
    assert any("[LH00003] 记录仪接入端口 adb:LH00003" in line for line in lines)


def test_the_station_command_docks_usb_e12_and_zzx_recorders(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from api.cli import main; main()", "station", "--simulate", "1",
         "--simulate-e12", "1", "--simulate-zzx", "1", "--once", "--data-dir",
         str(tmp_path / "data")], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert "[LH00002] 记录仪接入端口 e12:127.0.0.1:" in done.stdout
    assert "[LH00003] 记录仪接入端口 zzx:127.0.0.1:" in done.stdout
    for serial in ("LH00001", "LH00002", "LH00003"):
        assert re.search(rf"{serial}（警号 \d+）：10 个文件中 10 个已按原样存储并校验.*已释放",
                         done.stdout), done.stdout


def test_twenty_five_recorders_dock_at_once_without_a_lost_or_duplicated_file(
        tmp_path: Path, ledger_url: str) -> None:
    """9 USB, 8 E12 and 8 ZZX recorders (the simulators ``liuhen station --simulate`` uses), 25
    docks at once. The media stage is left out (it is tested elsewhere; 75 transcodes would
    only slow this down)."""
    station = open_station(Settings(data_dir=tmp_path / "data", database_url=ledger_url,
                                    max_docks=25))
    try:
        station.media = None
        source = simulated_recorders(tmp_path / "sim", 9, ffmpeg=find_ffmpeg().ffmpeg,
                                     card_start=START, e12=8, zzx=8)
        progress: list[str] = []
        run = run_station(station, source, password=b"123456", once=True, out=progress.append)
        assert run.errors == {}
        assert len(run.results) == 25
        assert all(r.failed == {} and r.verified == r.files >= 9 for r in run.results)
        acquired = Counter((e.body["device"], e.body["name_on_device"]) for e in
                           (decode_entry(r.data) for r in station.ledger.store.entries())
                           if e.kind.value == "acquired")
        assert len(acquired) == sum(r.files for r in run.results)
        assert set(acquired.values()) == {1}
        for serial in (f"LH{i:05d}" for i in range(1, 26)):  # progress for each, on the console
            assert any(line.startswith(f"[{serial}] 完成") for line in progress), serial
    finally:
        station.close()


def test_a_port_docks_one_recorder_at_a_time_when_limited(tmp_path: Path) -> None:
    """``LIUHEN_MAX_DOCKS_PER_PORT=1``: the three E12 recorders dock one after another, and so
    do the two ZZX ones, while the station's limit (8) would allow all five at once."""
    station = open_station(Settings(data_dir=tmp_path / "data", max_docks=8,
                                    max_docks_per_port=1))
    try:
        station.media = None
        source = simulated_recorders(tmp_path / "sim", 0, ffmpeg=find_ffmpeg().ffmpeg,
                                     card_start=START, e12=3, zzx=2)
        lines: list[str] = []
        run = run_station(station, source, password=b"123456", once=True, out=lines.append)
    finally:
        station.close()
    assert run.errors == {} and len(run.results) == 5
    ports = {m.group(1): m.group(2) for m in
             (re.match(r"\[(LH\d+)\] 记录仪接入端口 (\w+):", line) for line in lines) if m}
    assert sorted(ports.values()) == ["e12", "e12", "e12", "zzx", "zzx"]
    docking: dict[str, set[str]] = {"e12": set(), "zzx": set()}
    overlapped = False
    for line in lines:
        if m := re.match(r"\[(LH\d+)\] 已接入", line):
            group = docking[ports[m.group(1)]]
            assert not group, f"{m.group(1)} started beside {group}"
            group.add(m.group(1))
            overlapped |= all(docking.values())
        elif m := re.match(r"\[(LH\d+)\] (完成|失败)", line):
            docking[ports[m.group(1)]].discard(m.group(1))
    assert overlapped  # the two ports did dock at the same time: only each port was limited
