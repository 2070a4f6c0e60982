"""One station, several transports (issue 19): USB recorders on the simulated bus and Android
recorders speaking E12 on loopback, found through adb (a stand-in CLI), docked in one run; every
file of every recorder stored, verified and ledgered exactly once, the E12 recorders' clocks read
before they were synced. SQLite and PostgreSQL (``ledger_url``)."""

from __future__ import annotations

import sys
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.compose import Station
from api.station import run_station
from devices.adb import AdbDockSource
from devices.docking import DockSources
from devices.sim.cards import Media
from devices.sim.device import SimulatedRecorder
from devices.sim.e12sim import E12Simulator
from devices.sim.recorder import expected_files, make_recorder, simulated_dock_source
from devices.sim.usbbus import SimulatedUsbBackend
from integrity.entry import decode_entry
from tests.unit.devices.test_adb_dock import Adb

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
    adb = Adb(tmp_path / "adb.json")
    lines: list[str] = []
    with ExitStack() as stack:
        sims = [stack.enter_context(E12Simulator(r)) for r in android]
        adb.write({s.recorder.serial: "device" for s in sims},
                  {s.recorder.serial: s.port for s in sims})
        by_serial = {r.serial: r for r in android}
        e12 = AdbDockSource(storage=lambda serial: by_serial[serial].volume(serial),
                            adb=[sys.executable, "-m", "tests.support.fake_adb", str(adb.path)])
        run = run_station(station, DockSources([simulated_dock_source(usb, bus), e12]),
                          password=b"123456", once=True, out=lines.append)
    assert run.errors == {}
    assert {r.serial for r in run.results} == {"LH00001", "LH00002", "LH00003", "LH00004"}
    for result in run.results:
        assert result.failed == {} and result.released, result
        assert result.clock_offset_ms is not None and -96_000 <= result.clock_offset_ms <= -94_000
    for sim in sims:  # E12: the clock read (010) before it was set (006)
        assert sim.commands.index("E12CMDS010") < sim.commands.index("E12CMDS006")
    acquired = Counter((e.body["device"], e.body["name_on_device"]) for e in
                       (decode_entry(r.data) for r in station.ledger.store.entries())
                       if e.kind.value == "acquired")
    expected = {(r.serial, path) for r in usb + android
                for path in expected_files(r, media, START)}
    assert set(acquired) == expected and set(acquired.values()) == {1}
    assert any("[LH00003] 记录仪接入端口 adb:LH00003" in line for line in lines)
