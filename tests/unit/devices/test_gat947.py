"""The GA/T 947.4 session against the simulated recorder (DESIGN.md §6 station sequence)."""

from __future__ import annotations

import hashlib
from datetime import UTC, timedelta

import pytest

from devices.driver import RecorderDriver
from devices.gat947 import Gat947Driver
from devices.sim.cards import Media
from devices.sim.clock import ManualClock
from devices.sim.recorder import expected_files
from devices.sim.usbbus import SimulatedUsbBackend
from devices.usbscan import find_mass_storage
from devices.zfy import ZfyInfo
from evidence.errors import NotFoundError, PolicyViolationError, UnavailableError, VerificationError
from evidence.ids import DeviceSerial, OfficerNo
from evidence.records import Officer
from tests.unit.devices.conftest import START, RecorderFactory

PASSWORD = b"123456"
WRONG = b"654321"


def test_station_sequence(
    bus: SimulatedUsbBackend, new_recorder: RecorderFactory, clock: ManualClock, media: Media
) -> None:
    recorder = new_recorder(0, clock_offset=timedelta(seconds=-95), drift_ppm=40.0)
    bus.plug(recorder)
    assert find_mass_storage(backend=bus) == []  # session mode: no disk yet
    usb_serial = DeviceSerial("LH00001")
    driver = Gat947Driver(recorder, usb_serial=usb_serial, storage=recorder.volume)
    assert isinstance(driver, RecorderDriver)

    # identify → password + ZFY info (GetZFYInfo is the standard's password check) → read clock
    # (record the offset before syncing) → sync → MSDC → list and read
    device = driver.identify()
    assert (device.serial, device.id_code, device.officer) == (usb_serial, "LHZF1", None)
    device = driver.officer_info(PASSWORD)
    assert device.serial == "LH00001"
    assert device.officer == Officer(
        OfficerNo("010203"), "张伟", "110105000000", "北京市公安局朝阳分局"
    )

    clock.advance(timedelta(days=10))  # 40 ppm over 10 days: +34.56 s on top of the -95 s offset
    observed = driver.read_clock()
    assert observed.tzinfo is not None
    assert observed - clock() == timedelta(seconds=-95 + 34.56)

    driver.sync_clock(PASSWORD, clock())
    assert driver.read_clock() == clock()
    clock.advance(timedelta(days=1))
    assert driver.read_clock() - clock() == timedelta(seconds=3.456)  # drift continues after sync

    driver.enable_mass_storage(PASSWORD)
    assert [d.serial for d in find_mass_storage(backend=bus)] == ["LH00001"]  # re-enumerated
    recordings = driver.list_recordings()
    expected = expected_files(recorder, media, START)
    assert {r.path for r in recordings} == set(expected)
    for recording in recordings:
        with driver.open_recording(recording) as stream:
            digest = hashlib.sha256(stream.read()).hexdigest()
        assert digest == hashlib.sha256(expected[recording.path]).hexdigest()

    assert driver.resolution() == (1920, 1080)
    assert driver.battery_percent() == 87
    driver.close()
    first_calls = ["GetIDCode", "Init_Device", "GetZFYInfo", "ReadDevTime", "SyncDevTime"]
    assert recorder.calls[:5] == first_calls
    assert recorder.calls[-2:] == ["SetMSDC", "UnInit_Device"]
    assert not recorder.session_open


def test_wrong_password_is_status_4_and_refused(new_recorder: RecorderFactory) -> None:
    recorder = new_recorder(0)
    driver = Gat947Driver(recorder, storage=recorder.volume)
    driver.identify()
    status, data = recorder.get_zfy_info(WRONG)
    assert (status, data) == (4, b"")
    with pytest.raises(PolicyViolationError, match="refused the password"):
        driver.officer_info(WRONG)
    with pytest.raises(PolicyViolationError, match="refused the password"):
        driver.sync_clock(WRONG, START)
    with pytest.raises(PolicyViolationError, match="refused the password"):
        driver.enable_mass_storage(WRONG)
    assert not recorder.msc_mode
    with pytest.raises(PolicyViolationError, match="mass storage is not enabled"):
        driver.list_recordings()


@pytest.mark.parametrize("password", [b"12345", b"1234567", "123456"])
def test_password_must_be_six_bytes(new_recorder: RecorderFactory, password: object) -> None:
    driver = Gat947Driver(new_recorder(0))
    driver.identify()
    with pytest.raises(PolicyViolationError, match="exactly 6 bytes"):
        driver.officer_info(password)  # type: ignore[arg-type]  # wrong on purpose: refused


def test_calls_before_identify_are_refused(new_recorder: RecorderFactory) -> None:
    driver = Gat947Driver(new_recorder(0))
    with pytest.raises(PolicyViolationError, match="identify"):
        driver.officer_info(PASSWORD)
    with pytest.raises(PolicyViolationError, match="identify"):
        driver.read_clock()


def test_connect_failed_is_unavailable(new_recorder: RecorderFactory) -> None:
    recorder = new_recorder(0)

    class WrongModel:
        def __getattr__(self, name: str) -> object:
            return getattr(recorder, name)

        def get_id_code(self) -> str:
            return "XXXX9"  # Init_Device with another model's code: status 2

    with pytest.raises(UnavailableError, match="Init_Device failed \\(status 2\\)"):
        Gat947Driver(WrongModel()).identify()  # type: ignore[arg-type]  # forwards by __getattr__


def test_malformed_id_code_is_refused(new_recorder: RecorderFactory) -> None:
    recorder = new_recorder(0)
    recorder.id_code = "AB"
    with pytest.raises(VerificationError, match="GetIDCode"):
        Gat947Driver(recorder).identify()


def test_time_set_and_msdc_failures(new_recorder: RecorderFactory) -> None:
    recorder = new_recorder(0, storage_kind="directory")
    recorder.fail_time_set = recorder.fail_msdc = True
    driver = Gat947Driver(recorder)
    driver.identify()
    with pytest.raises(UnavailableError, match="SyncDevTime failed \\(status 6\\)"):
        driver.sync_clock(PASSWORD, START)
    with pytest.raises(UnavailableError, match="SetMSDC failed \\(status 8\\)"):
        driver.enable_mass_storage(PASSWORD)


def test_naive_now_is_refused(new_recorder: RecorderFactory) -> None:
    driver = Gat947Driver(new_recorder(0))
    driver.identify()
    with pytest.raises(PolicyViolationError, match="timezone-aware"):
        driver.sync_clock(PASSWORD, START.replace(tzinfo=None))


def test_sync_clock_sets_china_wall_time(new_recorder: RecorderFactory, clock: ManualClock) -> None:
    recorder = new_recorder(0)
    driver = Gat947Driver(recorder)
    driver.identify()
    driver.sync_clock(PASSWORD, clock().astimezone(UTC))
    wall = recorder.read_dev_time()
    assert wall.tzinfo is None
    assert (wall.hour, wall.minute) == (9, 30)  # 01:30 UTC is 09:30 in China


def test_unplugged_recorder_is_unavailable(new_recorder: RecorderFactory) -> None:
    recorder = new_recorder(0)
    driver = Gat947Driver(recorder)
    driver.identify()
    recorder.unplug()
    with pytest.raises(UnavailableError, match="recorder unplugged"):
        driver.officer_info(PASSWORD)


def test_write_officer_info(new_recorder: RecorderFactory) -> None:
    recorder = new_recorder(0)
    driver = Gat947Driver(recorder)
    driver.identify()
    officer = Officer(OfficerNo("099001"), "司马光", "110105000000", "北京市公安局朝阳分局")
    driver.write_officer_info(PASSWORD, ZfyInfo(DeviceSerial("LH00001"), officer))
    assert driver.officer_info(PASSWORD).officer == officer
    with pytest.raises(PolicyViolationError):
        driver.write_officer_info(WRONG, ZfyInfo(DeviceSerial("LH00001"), officer))


def test_msdc_without_storage_opener(new_recorder: RecorderFactory) -> None:
    driver = Gat947Driver(new_recorder(0))
    driver.identify()
    driver.enable_mass_storage(PASSWORD)
    with pytest.raises(NotFoundError, match="no storage opener"):
        driver.list_recordings()
