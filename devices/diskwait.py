"""The volume a recorder presents after SetMSDC, found by its serial (DESIGN.md §6).

A recorder switched to mass storage re-enumerates as a USB disk; udev names it
``/dev/disk/by-id/usb-<vendor>_<model>_<SERIAL>-0:0`` (``-part1`` for its first partition). This
waits for that name, then opens the node read-only (``ImageVolume``; the udev rule of DESIGN.md
§6 sets it ``--setro`` first). A recorder that never shows its disk is ``UnavailableError``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from devices.imagevolume import ImageVolume
from evidence.errors import UnavailableError
from evidence.ids import DeviceSerial

BY_ID = Path("/dev/disk/by-id")
WAIT_S = 30.0


def find_disk(serial: str, *, by_id: Path = BY_ID) -> Path | None:
    """The by-id node of ``serial``'s disk: its first partition when it has one, else the
    whole disk (cards formatted without a partition table)."""
    if not by_id.is_dir():
        return None
    names = sorted(p.name for p in by_id.iterdir() if p.name.startswith("usb-"))
    for suffix in ("-0:0-part1", "-0:0"):
        for name in names:
            if name.endswith(f"_{serial}{suffix}"):
                return by_id / name
    return None


VolumeFor = Callable[[DeviceSerial], ImageVolume]


def disk_opener(*, by_id: Path = BY_ID, wait_s: float = WAIT_S, poll_s: float = 0.2,
                clock: Callable[[], float] = time.monotonic,
                sleep: Callable[[float], None] = time.sleep) -> VolumeFor:
    """``storage`` for a GA/T 947.4 driver: waits up to ``wait_s`` for the recorder's disk."""

    def open_volume(serial: DeviceSerial) -> ImageVolume:
        deadline = clock() + wait_s
        while (node := find_disk(serial, by_id=by_id)) is None:
            if clock() >= deadline:
                raise UnavailableError(f"记录仪 {serial} 切换为存储模式后 {wait_s:g} 秒内"
                                       f"未出现磁盘 (no disk in {by_id} for this serial)")
            sleep(poll_s)
        return ImageVolume.from_path(node.resolve())

    return open_volume
