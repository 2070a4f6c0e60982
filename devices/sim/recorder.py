"""Ready-made simulated recorders: recorder number N with its card, a fleet docked on one bus,
what a card holds, and a dock source over the bus (``liuhen demo``, tests, benchmarks)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from devices.docking import UsbDockSource
from devices.sim.cards import (
    Media,
    card_layout,
    write_directory_card,
    write_exfat_image,
    write_fat_image,
)
from devices.sim.clock import DriftingClock
from devices.sim.device import SimulatedRecorder
from devices.sim.usbbus import VENDOR_ID, SimulatedUsbBackend
from devices.volume import Volume
from devices.zfy import ZfyInfo
from evidence.ids import DeviceSerial, OfficerNo
from evidence.records import Officer

OFFICERS = (
    Officer(OfficerNo("010203"), "张伟", "110105000000", "北京市公安局朝阳分局"),
    Officer(OfficerNo("020417"), "李娜", "310104000000", "上海市公安局徐汇分局"),
    Officer(OfficerNo("036512"), "欧阳建国", "440305000000", "深圳市公安局南山分局"),
)

_FAT_KINDS = {  # storage kind: (FAT bits, image MiB); FAT32 needs >= 65,525 clusters
    "fat12": (12, 1),
    "fat16": (16, 16),
    "fat32": (32, 40),
    "fat32-mbr": (32, 40),
}


def make_recorder(
    index: int,
    *,
    workdir: Path,
    media: Media,
    base_clock: Callable[[], datetime],
    storage_kind: str = "directory",
    clock_offset: timedelta = timedelta(seconds=-95),
    drift_ppm: float = 40.0,
    password: bytes = b"123456",
    card_start: datetime | None = None,
) -> SimulatedRecorder:
    """Recorder number ``index`` (0-based) with its card written under ``workdir``.

    ``card_start`` fixes the recordings' times (default: the base clock now). A card that already
    exists under ``workdir`` is kept as it is, so a station restarted over the same workdir sees
    the same recorder (what it released stays released).
    """
    serial = f"LH{index + 1:05d}"
    officer = OFFICERS[index % len(OFFICERS)]
    files = card_layout(
        serial=serial, officer_no=officer.officer_no, media=media,
        start=card_start or base_clock(),
    )
    target = workdir / f"{serial}-{storage_kind}"
    image = target.with_suffix(".img")
    if storage_kind == "directory" and target.exists():
        storage = target
    elif storage_kind != "directory" and image.exists():
        storage = image
    elif storage_kind == "directory":
        storage = write_directory_card(target, files)
    elif storage_kind in _FAT_KINDS:
        bits, size_mib = _FAT_KINDS[storage_kind]
        storage = write_fat_image(
            target.with_suffix(".img"),
            files,
            fat_bits=bits,
            size_mib=size_mib,
            mbr=storage_kind.endswith("mbr"),
        )
    elif storage_kind == "exfat":
        storage = write_exfat_image(
            target.with_suffix(".img"), [f for f in files if not f.short_name_only]
        )
    else:
        raise ValueError(f"unknown storage kind {storage_kind!r}")
    return SimulatedRecorder(
        serial=serial,
        id_code="LHZF1",
        zfy=ZfyInfo(serial=DeviceSerial(serial), officer=officer),
        password=password,
        clock=DriftingClock(base_clock, offset=clock_offset, drift_ppm=drift_ppm),
        storage=storage,
        storage_kind=storage_kind,
    )


def make_fleet(
    count: int,
    *,
    workdir: Path,
    media: Media,
    base_clock: Callable[[], datetime],
    storage_kinds: tuple[str, ...] = ("directory",),
    card_start: datetime | None = None,
) -> tuple[SimulatedUsbBackend, list[SimulatedRecorder]]:
    """``count`` recorders docked on one simulated bus, storage kinds taken in turn."""
    bus = SimulatedUsbBackend()
    recorders = [
        make_recorder(
            i,
            workdir=workdir,
            media=media,
            base_clock=base_clock,
            storage_kind=storage_kinds[i % len(storage_kinds)],
            card_start=card_start,
        )
        for i in range(count)
    ]
    for recorder in recorders:
        bus.plug(recorder)
    return bus, recorders


def expected_files(recorder: SimulatedRecorder, media: Media, start: datetime) -> dict[str, bytes]:
    """What the card of ``recorder`` holds, path → bytes (exFAT cards have no GBK 8.3 name)."""
    files = card_layout(
        serial=recorder.serial, officer_no=recorder.zfy.officer.officer_no, media=media, start=start
    )
    skip_short = recorder.storage_kind == "exfat"
    return {f.path: f.data for f in files if not (skip_short and f.short_name_only)}


VolumeFor = Callable[[DeviceSerial], Volume]


def simulated_dock_source(recorders: list[SimulatedRecorder],
                          bus: SimulatedUsbBackend) -> UsbDockSource:
    """A dock source over the simulated bus: each simulated recorder is its own transport."""
    by_serial = {r.serial: r for r in recorders}

    def transport_for(serial: str) -> tuple[SimulatedRecorder, VolumeFor] | None:
        recorder = by_serial.get(serial)
        return None if recorder is None else (recorder, recorder.volume)

    return UsbDockSource(transport_for=transport_for, vendor_ids=frozenset({VENDOR_ID}),
                         backend=bus)
