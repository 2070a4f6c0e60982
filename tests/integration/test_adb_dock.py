"""Android recorders found through adb (devices/adb.py) with a stand-in ``adb`` CLI
(tests/support/fake_adb.py) in front of E12 simulators, and one station polling several
sources (devices/docking.DockSources). Integration, not unit: it runs the adb stand-in as a
process (and libfaketime, which ``make test-dates`` puts under the unit tests, breaks the
sleeps of a subprocess wait)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from devices.adb import AdbDockSource
from devices.docking import Docked, DockSources
from devices.sim.e12sim import E12Simulator
from evidence.errors import UnavailableError
from tests.unit.devices.conftest import RecorderFactory, clock, new_recorder  # noqa: F401

PASSWORD = b"123456"


class Adb:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.write({}, {})

    def write(self, devices: dict[str, str], ports: dict[str, int]) -> None:
        calls = self.calls if self.path.exists() else []
        self.path.write_text(json.dumps({"devices": devices, "ports": ports, "calls": calls}))

    @property
    def calls(self) -> list[list[str]]:
        calls: list[list[str]] = json.loads(self.path.read_text())["calls"]
        return calls

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "tests.support.fake_adb", str(self.path)]


@pytest.fixture
def adb(tmp_path: Path) -> Adb:
    return Adb(tmp_path / "adb.json")


@pytest.fixture
def sims(new_recorder: RecorderFactory) -> Iterator[list[E12Simulator]]:  # noqa: F811
    with ExitStack() as stack:
        yield [stack.enter_context(E12Simulator(new_recorder(i))) for i in range(2)]


def source(adb: Adb, sims: list[E12Simulator]) -> AdbDockSource:
    volumes = {s.recorder.serial: s.recorder.volume for s in sims}
    return AdbDockSource(storage=lambda serial: volumes[serial](serial), adb=adb.command,
                         send_timeout=1.0, read_timeout=0.5)


def test_ready_recorders_dock_once_with_an_e12_session(adb: Adb,
                                                       sims: list[E12Simulator]) -> None:
    first, second = sims
    adb.write({first.recorder.serial: "device", second.recorder.serial: "unauthorized"},
              {first.recorder.serial: first.port, second.recorder.serial: second.port})
    docks = source(adb, sims)
    docked = docks.poll()
    assert [d.serial for d in docked] == [first.recorder.serial]
    assert docks.not_ready == {second.recorder.serial: "unauthorized"}
    assert docked[0].port == f"adb:{first.recorder.serial}"
    driver = docked[0].driver
    driver.identify()
    assert driver.officer_info(PASSWORD).serial == first.recorder.serial
    driver.enable_mass_storage(PASSWORD)
    assert driver.list_recordings()  # the card, over the volume after SetMSDC
    driver.close()
    assert docks.poll() == []  # still there: not docked again
    assert ["-s", first.recorder.serial, "forward", "tcp:0", "tcp:9527"] in adb.calls


def test_a_recorder_that_leaves_and_returns_docks_again(adb: Adb,
                                                        sims: list[E12Simulator]) -> None:
    sim = sims[0]
    serial = sim.recorder.serial
    adb.write({serial: "device"}, {serial: sim.port})
    docks = source(adb, sims)
    assert len(docks.poll()) == 1
    adb.write({}, {})
    assert docks.poll() == []
    assert ["forward", "--remove", f"tcp:{sim.port}"] in adb.calls
    adb.write({serial: "device"}, {serial: sim.port})
    assert [d.serial for d in docks.poll()] == [serial]


def test_adb_missing_is_unavailable_and_named(tmp_path: Path) -> None:
    docks = AdbDockSource(storage=lambda _s: pytest.fail("no storage"),
                          adb=[str(tmp_path / "no-adb")])
    with pytest.raises(UnavailableError, match="adb 不可用 \\(devices\\)"):
        docks.poll()


class _Failing:
    def __init__(self) -> None:
        self.unsupported: set[str] = set()

    def poll(self) -> list[Docked]:
        raise UnavailableError("no USB backend: install libusb-1.0")


def test_one_failing_source_does_not_stop_the_others(adb: Adb,
                                                     sims: list[E12Simulator]) -> None:
    sim = sims[0]
    adb.write({sim.recorder.serial: "device"}, {sim.recorder.serial: sim.port})
    both = DockSources([_Failing(), source(adb, sims)])
    assert [d.serial for d in both.poll()] == [sim.recorder.serial]
    assert "libusb" in str(both.errors[0])
    alone = DockSources([_Failing()])
    with pytest.raises(UnavailableError, match="libusb"):
        alone.poll()
