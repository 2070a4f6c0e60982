"""Finding the disk a recorder presents after SetMSDC by its serial (devices/diskwait.py), with
a folder standing in for /dev/disk/by-id and a FAT card image as the node."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.diskwait import disk_opener, find_disk
from evidence.errors import UnavailableError
from evidence.ids import DeviceSerial
from tests.unit.devices.conftest import RecorderFactory


def test_the_first_partition_is_preferred_and_other_serials_ignored(tmp_path: Path) -> None:
    for name in ("usb-LH_DSJ_LH00011-0:0", "usb-LH_DSJ_LH00001-0:0",
                 "usb-LH_DSJ_LH00001-0:0-part1", "ata-disk_LH00001"):
        (tmp_path / name).touch()
    assert find_disk("LH00001", by_id=tmp_path) == tmp_path / "usb-LH_DSJ_LH00001-0:0-part1"
    assert find_disk("LH00002", by_id=tmp_path) is None
    assert find_disk("LH00001", by_id=tmp_path / "absent") is None


def test_waits_for_the_disk_then_opens_it_read_only(tmp_path: Path,
                                                    new_recorder: RecorderFactory) -> None:
    recorder = new_recorder(0, storage_kind="fat16")
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    polls: list[float] = []

    def sleep(seconds: float) -> None:  # the disk appears at the third poll
        polls.append(seconds)
        if len(polls) == 3:
            (by_id / "usb-LH_DSJ_LH00001-0:0").symlink_to(recorder.storage)

    volume = disk_opener(by_id=by_id, sleep=sleep)(DeviceSerial("LH00001"))
    try:
        assert len(polls) == 3 and volume.recordings()
    finally:
        volume.close()


def test_a_disk_that_never_appears_is_unavailable(tmp_path: Path) -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    opener = disk_opener(by_id=tmp_path, wait_s=2.0, clock=lambda: now[0], sleep=sleep)
    with pytest.raises(UnavailableError, match="2 秒内未出现磁盘"):
        opener(DeviceSerial("LH00001"))
    assert 2.0 <= now[0] <= 2.2 + 1e-9  # gave up at the first poll past the deadline
