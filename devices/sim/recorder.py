"""Simulated recorders: drifting clocks, faults, the GA/T 947.4 transport and a pyusb backend."""

from __future__ import annotations

import array
import errno
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import usb.backend
import usb.core

from devices.dirvolume import DirectoryVolume
from devices.docking import UsbDockSource
from devices.driver import CHINA_STANDARD_TIME, Recording
from devices.gat947 import Gat947Status
from devices.imagevolume import ImageVolume
from devices.sim.cards import (
    Media,
    card_layout,
    write_directory_card,
    write_exfat_image,
    write_fat_image,
)
from devices.stream import RawSource
from devices.volume import Volume
from devices.zfy import ZfyInfo
from evidence.ids import DeviceSerial, OfficerNo
from evidence.records import Officer

# --------------------------------------------------------------------------------------------------
# The drifting clock
# --------------------------------------------------------------------------------------------------


class DriftingClock:
    """A recorder's RTC: ``base() + offset``, drifting ``drift_ppm`` since it was last set."""

    def __init__(
        self,
        base: Callable[[], datetime],
        *,
        offset: timedelta = timedelta(),
        drift_ppm: float = 0.0,
    ) -> None:
        self._base = base
        self._offset = offset
        self._drift = drift_ppm
        self._set_at = base()

    def now(self) -> datetime:
        true_now = self._base()
        drift = (true_now - self._set_at) * (self._drift / 1e6)
        return true_now + self._offset + drift

    def set(self, moment: datetime) -> None:
        self._set_at = self._base()
        self._offset = moment - self._set_at


# --------------------------------------------------------------------------------------------------
# Faults on storage
# --------------------------------------------------------------------------------------------------


class _FailingSource:
    """Delivers ``budget`` bytes, then ``OSError(EIO)`` as when the cable is pulled."""

    def __init__(self, inner: RawSource, budget: int, on_fail: Callable[[], None]) -> None:
        self._inner = inner
        self._budget = budget
        self._on_fail = on_fail

    def readinto(self, buffer: memoryview, /) -> int | None:
        if self._budget <= 0:
            self._on_fail()
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        got = self._inner.readinto(buffer[: self._budget])
        self._budget -= got or 0
        return got

    def close(self) -> None:
        self._inner.close()


class SimulatedVolume:
    """The recorder's volume, failing the way an unplugged USB disk does."""

    def __init__(self, inner: Volume, recorder: SimulatedRecorder) -> None:
        self._inner = inner
        self._recorder = recorder

    @property
    def description(self) -> str:
        return f"simulated {self._recorder.serial}: {self._inner.description}"

    def _check(self) -> None:
        if not self._recorder.plugged:
            raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))

    def recordings(self) -> list[Recording]:
        self._check()
        return self._inner.recordings()

    def open_raw(self, recording: Recording) -> RawSource:
        self._check()
        source = self._inner.open_raw(recording)
        budget = self._recorder.fail_read_after
        return source if budget is None else _FailingSource(source, budget, self._recorder.unplug)

    def remove(self, recording: Recording) -> None:
        self._check()
        self._inner.remove(recording)

    def close(self) -> None:
        self._inner.close()


# --------------------------------------------------------------------------------------------------
# The recorder (GA/T 947.4 transport) and its USB face
# --------------------------------------------------------------------------------------------------

VENDOR_ID = 0x2E8A  # a made-up maker id (not a real recorder vendor)


@dataclass
class SimulatedRecorder:
    """One body-worn recorder: identity, officer, password, clock, storage, faults."""

    serial: str
    id_code: str
    zfy: ZfyInfo
    password: bytes
    clock: DriftingClock
    storage: Path
    storage_kind: str = "directory"  # directory | fat12 | fat16 | fat32 | fat32-mbr | exfat
    product_id: int = 0x0947
    manufacturer: str = "深圳市留痕电子有限公司"
    product: str = "执法记录仪 DSJ-LH1"
    resolution: tuple[int, int] = (1920, 1080)
    battery_percent: int = 87
    msc_mode: bool = False  # False: GA/T 947.4 session interface; True: mass storage
    plugged: bool = True
    fail_read_after: int | None = None
    fail_time_set: bool = False
    fail_msdc: bool = False
    on_reenumerate: Callable[[SimulatedRecorder], None] | None = None
    session_open: bool = field(default=False, init=False)
    calls: list[str] = field(default_factory=list, init=False)

    # -- faults ---------------------------------------------------------------------------------
    def unplug(self) -> None:
        self.plugged = False
        self.session_open = False

    def _gone(self) -> None:
        if not self.plugged:
            raise OSError(errno.ENODEV, "recorder unplugged")

    # -- GA/T 947.4 transport ---------------------------------------------------------------------
    def init_device(self, id_code: str) -> int:
        self.calls.append("Init_Device")
        self._gone()
        self.session_open = id_code == self.id_code
        return Gat947Status.CONNECT_OK if self.session_open else Gat947Status.CONNECT_FAILED

    def uninit_device(self) -> None:
        self.calls.append("UnInit_Device")
        self.session_open = False

    def get_id_code(self) -> str:
        self.calls.append("GetIDCode")
        self._gone()
        return self.id_code

    def _authorised(self, password: bytes) -> bool:
        self._gone()
        return self.session_open and password == self.password

    def get_zfy_info(self, password: bytes) -> tuple[int, bytes]:
        self.calls.append("GetZFYInfo")
        if not self._authorised(password):
            return Gat947Status.PASSWORD_FAILED, b""
        return Gat947Status.PASSWORD_OK, self.zfy.pack()

    def write_zfy_info(self, info: bytes, password: bytes) -> int:
        self.calls.append("WriteZFYInfo")
        if not self._authorised(password):
            return Gat947Status.PASSWORD_FAILED
        self.zfy = ZfyInfo.unpack(info)
        return Gat947Status.PASSWORD_OK

    def sync_dev_time(self, password: bytes, wall_clock: datetime) -> int:
        self.calls.append("SyncDevTime")
        if not self._authorised(password):
            return Gat947Status.PASSWORD_FAILED
        if self.fail_time_set:
            return Gat947Status.TIME_SET_FAILED
        self.clock.set(wall_clock.replace(tzinfo=CHINA_STANDARD_TIME).astimezone(UTC))
        return Gat947Status.TIME_SET_OK

    def set_msdc(self, password: bytes) -> int:
        self.calls.append("SetMSDC")
        if not self._authorised(password):
            return Gat947Status.PASSWORD_FAILED
        if self.fail_msdc:
            return Gat947Status.MSDC_FAILED
        if not self.msc_mode:
            self.msc_mode = True
            if self.on_reenumerate is not None:
                self.on_reenumerate(self)
        return Gat947Status.MSDC_OK

    def read_device_resolution(self) -> tuple[int, int]:
        self._gone()
        return self.resolution

    def read_device_battery_dump_energy(self) -> int:
        self._gone()
        return self.battery_percent

    def read_dev_time(self) -> datetime:
        self.calls.append("ReadDevTime")
        self._gone()
        return self.clock.now().astimezone(CHINA_STANDARD_TIME).replace(tzinfo=None)

    # -- storage ----------------------------------------------------------------------------------
    def volume(self, _serial: DeviceSerial | None = None) -> SimulatedVolume:
        """The volume the recorder presents (the ``storage`` opener of ``Gat947Driver``)."""
        self._gone()
        inner: Volume
        if self.storage_kind == "directory":
            inner = DirectoryVolume(self.storage)
        else:
            inner = ImageVolume.from_path(self.storage)
        return SimulatedVolume(inner, self)


# --- USB descriptors and the pyusb backend -------------------------------------------------------


@dataclass(frozen=True)
class _DeviceDescriptor:
    idVendor: int
    idProduct: int
    bus: int
    address: int
    port_number: int
    bLength: int = 18
    bDescriptorType: int = 0x01
    bcdUSB: int = 0x0200
    bDeviceClass: int = 0x00  # "see the interfaces": why find() needs custom_match
    bDeviceSubClass: int = 0x00
    bDeviceProtocol: int = 0x00
    bMaxPacketSize0: int = 64
    bcdDevice: int = 0x0100
    iManufacturer: int = 1
    iProduct: int = 2
    iSerialNumber: int = 3
    bNumConfigurations: int = 1
    speed: int = 3  # usb.util.SPEED_HIGH
    port_numbers: tuple[int, ...] = ()


@dataclass(frozen=True)
class _ConfigurationDescriptor:
    bLength: int = 9
    bDescriptorType: int = 0x02
    wTotalLength: int = 9 + 9 + 7 + 7
    bNumInterfaces: int = 1
    bConfigurationValue: int = 1
    iConfiguration: int = 0
    bmAttributes: int = 0x80  # bus powered
    bMaxPower: int = 250  # 500 mA
    extra_descriptors: tuple[int, ...] = ()


@dataclass(frozen=True)
class _InterfaceDescriptor:
    bInterfaceClass: int
    bInterfaceSubClass: int
    bInterfaceProtocol: int
    bLength: int = 9
    bDescriptorType: int = 0x04
    bInterfaceNumber: int = 0
    bAlternateSetting: int = 0
    bNumEndpoints: int = 2
    iInterface: int = 0
    extra_descriptors: tuple[int, ...] = ()


@dataclass(frozen=True)
class _EndpointDescriptor:
    bEndpointAddress: int
    bLength: int = 7
    bDescriptorType: int = 0x05
    bmAttributes: int = 0x02  # bulk
    wMaxPacketSize: int = 512
    bInterval: int = 0
    bRefresh: int = 0
    bSynchAddress: int = 0
    extra_descriptors: tuple[int, ...] = ()


@dataclass
class _Attached:
    recorder: SimulatedRecorder
    bus: int
    address: int
    port: int


class SimulatedUsbBackend(usb.backend.IBackend):  # type: ignore[misc]
    """A pyusb backend whose bus holds simulated recorders (``usb.core.find(backend=...)``)."""

    LANGID_EN_US = 0x0409

    def __init__(self) -> None:
        super().__init__()
        self._attached: list[_Attached] = []
        self._next_address = 2  # address 1 is the root hub on real buses

    # -- the bus ----------------------------------------------------------------------------------
    def plug(self, recorder: SimulatedRecorder, *, port: int | None = None) -> None:
        recorder.plugged = True
        recorder.on_reenumerate = self._reenumerate
        port = port if port is not None else len(self._attached) + 1
        self._attached.append(_Attached(recorder, bus=1, address=self._next_address, port=port))
        self._next_address += 1

    def unplug(self, recorder: SimulatedRecorder) -> None:
        recorder.unplug()
        self._attached = [a for a in self._attached if a.recorder is not recorder]

    def _reenumerate(self, recorder: SimulatedRecorder) -> None:
        """After SetMSDC a recorder drops off the bus and returns as mass storage, new address."""
        port = next(a.port for a in self._attached if a.recorder is recorder)
        self._attached = [a for a in self._attached if a.recorder is not recorder]
        self.plug(recorder, port=port)

    # -- IBackend ---------------------------------------------------------------------------------
    def enumerate_devices(self) -> Iterator[_Attached]:
        yield from list(self._attached)

    def get_parent(self, dev: _Attached) -> None:
        return None

    def get_device_descriptor(self, dev: _Attached) -> _DeviceDescriptor:
        return _DeviceDescriptor(
            idVendor=VENDOR_ID,
            idProduct=dev.recorder.product_id,
            bus=dev.bus,
            address=dev.address,
            port_number=dev.port,
            port_numbers=(dev.port,),
        )

    def get_configuration_descriptor(self, dev: _Attached, config: int) -> _ConfigurationDescriptor:
        if config >= 1:
            raise IndexError("configuration index out of range")
        return _ConfigurationDescriptor()

    def get_interface_descriptor(
        self, dev: _Attached, intf: int, alt: int, config: int
    ) -> _InterfaceDescriptor:
        # IndexError past the last interface/alternate: pyusb iterates until it sees one.
        if config >= 1 or intf >= 1 or alt >= 1:
            raise IndexError("interface index out of range")
        if dev.recorder.msc_mode:
            return _InterfaceDescriptor(0x08, 0x06, 0x50)  # mass storage, SCSI, bulk-only
        return _InterfaceDescriptor(0xFF, 0x00, 0x00)  # vendor-specific GA/T 947.4 session

    def get_endpoint_descriptor(
        self, dev: _Attached, ep: int, intf: int, alt: int, config: int
    ) -> _EndpointDescriptor:
        if config >= 1 or intf >= 1 or alt >= 1 or ep >= 2:
            raise IndexError("endpoint index out of range")
        return _EndpointDescriptor(0x81 if ep == 0 else 0x02)  # bulk IN, bulk OUT

    def open_device(self, dev: _Attached) -> _Attached:
        if dev not in self._attached:
            raise usb.core.USBError("No such device", error_code=-4, errno=errno.ENODEV)
        return dev

    def close_device(self, dev_handle: _Attached) -> None:
        return None

    def set_configuration(self, dev_handle: _Attached, config_value: int) -> None:
        return None

    def get_configuration(self, dev_handle: _Attached) -> int:
        return 1

    def claim_interface(self, dev_handle: _Attached, intf: int) -> None:
        return None

    def release_interface(self, dev_handle: _Attached, intf: int) -> None:
        return None

    def ctrl_transfer(  # noqa: PLR0917 - IBackend's positional signature
        self,
        dev_handle: _Attached,
        bmRequestType: int,
        bRequest: int,
        wValue: int,
        wIndex: int,
        data: array.array[int],
        timeout: int,
    ) -> int:
        if dev_handle not in self._attached:
            raise usb.core.USBError("No such device", error_code=-4, errno=errno.ENODEV)
        is_get_string = bmRequestType == 0x80 and bRequest == 0x06 and wValue >> 8 == 0x03
        if not is_get_string:
            raise usb.core.USBError("Pipe error", error_code=-9, errno=errno.EPIPE)
        descriptor = self._string_descriptor(dev_handle.recorder, wValue & 0xFF)
        count = min(len(descriptor), len(data))
        data[:count] = array.array("B", descriptor[:count])
        return count

    def _string_descriptor(self, recorder: SimulatedRecorder, index: int) -> bytes:
        if index == 0:
            body = struct.pack("<H", self.LANGID_EN_US)
        else:
            strings = {1: recorder.manufacturer, 2: recorder.product, 3: recorder.serial}
            if index not in strings:
                raise usb.core.USBError("Pipe error", error_code=-9, errno=errno.EPIPE)
            body = strings[index].encode("utf-16-le")
        return bytes([2 + len(body), 0x03]) + body


# --------------------------------------------------------------------------------------------------
# Ready-made fleets
# --------------------------------------------------------------------------------------------------

OFFICERS = (
    Officer(OfficerNo("010203"), "张伟", "110105000000", "北京市公安局朝阳分局"),
    Officer(OfficerNo("020417"), "李娜", "310104000000", "上海市公安局徐汇分局"),
    Officer(OfficerNo("036512"), "欧阳建国", "440305000000", "深圳市公安局南山分局"),
)


def fixed_clock(moment: datetime) -> Callable[[], datetime]:
    """A base clock standing still at ``moment`` (tests move it with ``ManualClock``)."""
    return lambda: moment


class ManualClock:
    """The true time, advanced by hand."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


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
