"""Unplugging: mid-read, before listing, mid-session (DESIGN.md §6 simulator faults)."""

from __future__ import annotations

import pytest

from devices.gat947 import Gat947Driver
from devices.massstorage import MassStorageDriver
from evidence.errors import UnavailableError
from tests.unit.devices.conftest import RecorderFactory

CLIP = "DCIM/100MEDIA/20240501_093000_LH00001_010203.MP4"


@pytest.mark.parametrize("kind", ["directory", "fat32", "exfat"])
def test_unplug_mid_read_names_the_file(new_recorder: RecorderFactory, kind: str) -> None:
    recorder = new_recorder(0, storage_kind=kind)
    recorder.fail_read_after = 4096
    driver = MassStorageDriver(recorder.volume(), serial=recorder.zfy.serial)
    recording = next(r for r in driver.list_recordings() if r.path == CLIP)
    with driver.open_recording(recording) as stream:
        assert len(stream.read(1000)) == 1000
        with pytest.raises(
            UnavailableError, match=f"{CLIP}.*at byte 4096.*Input/output error"
        ) as caught:
            stream.read()
    assert isinstance(caught.value.__cause__, OSError)
    assert not recorder.plugged  # the I/O error was the cable coming out
    with pytest.raises(UnavailableError, match="listing"):
        driver.list_recordings()


def test_readinto_reports_the_same(new_recorder: RecorderFactory) -> None:
    recorder = new_recorder(0)
    recorder.fail_read_after = 0
    driver = MassStorageDriver(recorder.volume(), serial=recorder.zfy.serial)
    recording = next(r for r in driver.list_recordings() if r.path == CLIP)
    buffer = bytearray(65536)
    with (
        driver.open_recording(recording) as stream,
        pytest.raises(UnavailableError, match="at byte 0"),
    ):
        stream.readinto(buffer)


def test_unplug_before_listing(new_recorder: RecorderFactory) -> None:
    recorder = new_recorder(0, storage_kind="fat16")
    driver = MassStorageDriver(recorder.volume(), serial=recorder.zfy.serial)
    recorder.unplug()
    with pytest.raises(UnavailableError, match="LH00001 failed while listing"):
        driver.list_recordings()


def test_unplug_before_opening(new_recorder: RecorderFactory) -> None:
    recorder = new_recorder(0)
    driver = MassStorageDriver(recorder.volume(), serial=recorder.zfy.serial)
    recording = driver.list_recordings()[0]
    recorder.unplug()
    with pytest.raises(UnavailableError, match="failed opening"):
        driver.open_recording(recording)


def test_unplug_after_msdc_through_the_session_driver(new_recorder: RecorderFactory) -> None:
    recorder = new_recorder(0, storage_kind="fat32-mbr")
    driver = Gat947Driver(recorder, storage=recorder.volume)
    driver.identify()
    driver.enable_mass_storage(b"123456")
    recordings = driver.list_recordings()
    recorder.fail_read_after = 100
    with driver.open_recording(recordings[0]) as stream, pytest.raises(UnavailableError):
        stream.read()
    with pytest.raises(UnavailableError):
        driver.read_clock()
