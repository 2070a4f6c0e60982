"""USB discovery over the simulated pyusb backend, through the real ``usb.core.find``."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pytest
import usb.core

from devices.sim.cards import Media
from devices.sim.device import SimulatedRecorder
from devices.sim.recorder import make_fleet
from devices.sim.usbbus import VENDOR_ID, SimulatedUsbBackend
from devices.usbscan import UsbDeviceInfo, find_mass_storage, has_mass_storage_interface
from evidence.errors import UnavailableError
from tests.unit.devices.conftest import START, RecorderFactory, require_tools


def test_three_docked_recorders_are_found_by_interface(
    bus: SimulatedUsbBackend, new_recorder: RecorderFactory
) -> None:
    recorders = [new_recorder(i) for i in range(3)]
    for recorder in recorders:
        recorder.msc_mode = True
        bus.plug(recorder)

    found = list(usb.core.find(find_all=True, backend=bus, custom_match=has_mass_storage_interface))

    assert [d.serial_number for d in found] == ["LH00001", "LH00002", "LH00003"]
    assert all(
        d.bDeviceClass == 0 for d in found
    )  # device-level class says nothing: see interfaces
    assert not list(usb.core.find(find_all=True, backend=bus, bDeviceClass=0x08))
    assert find_mass_storage(backend=bus) == [
        UsbDeviceInfo(
            bus=1, address=2 + i, vendor_id=VENDOR_ID, product_id=0x0947, serial=f"LH0000{i + 1}"
        )
        for i in range(3)
    ]


def test_descriptors_look_like_hardware(
    bus: SimulatedUsbBackend, new_recorder: RecorderFactory
) -> None:
    recorder = new_recorder(0)
    recorder.msc_mode = True
    bus.plug(recorder)
    device = usb.core.find(backend=bus)
    assert device is not None
    configuration = device.get_active_configuration()
    interfaces = list(configuration)
    assert len(interfaces) == 1  # the iteration ended: IndexError past the last interface
    interface = interfaces[0]
    assert (
        interface.bInterfaceClass,
        interface.bInterfaceSubClass,
        interface.bInterfaceProtocol,
    ) == (
        0x08,
        0x06,
        0x50,
    )
    endpoints = [(e.bEndpointAddress, e.bmAttributes & 0x03) for e in interface]
    assert endpoints == [(0x81, 0x02), (0x02, 0x02)]  # bulk IN, bulk OUT
    assert device.manufacturer == "深圳市留痕电子有限公司"
    assert device.product == "执法记录仪 DSJ-LH1"
    assert device.serial_number == "LH00001"


def test_session_mode_recorders_are_not_mass_storage(
    bus: SimulatedUsbBackend, new_recorder: RecorderFactory
) -> None:
    bus.plug(new_recorder(0))  # vendor-specific GA/T 947.4 interface until SetMSDC
    assert list(usb.core.find(find_all=True, backend=bus))
    assert find_mass_storage(backend=bus) == []


def test_unplugged_recorder_disappears(
    bus: SimulatedUsbBackend, new_recorder: RecorderFactory
) -> None:
    first, second = new_recorder(0), new_recorder(1)
    for recorder in (first, second):
        recorder.msc_mode = True
        bus.plug(recorder)
    bus.unplug(first)
    assert [d.serial for d in find_mass_storage(backend=bus)] == ["LH00002"]


class _BrokenBus(SimulatedUsbBackend):
    def enumerate_devices(self) -> NoReturn:
        raise usb.core.USBError("Access denied (insufficient permissions)", error_code=-3, errno=13)


def test_usb_errors_become_unavailable() -> None:
    with pytest.raises(UnavailableError, match="USB enumeration failed"):
        find_mass_storage(backend=_BrokenBus())


class _NoStringsBus(SimulatedUsbBackend):
    def _string_descriptor(self, recorder: SimulatedRecorder, index: int) -> NoReturn:
        raise usb.core.USBError("Pipe error", error_code=-9, errno=32)


def test_unreadable_serial_string_is_none(new_recorder: RecorderFactory) -> None:
    bus = _NoStringsBus()
    recorder = new_recorder(0)
    recorder.msc_mode = True
    bus.plug(recorder)
    assert find_mass_storage(backend=bus)[0].serial is None


def test_fleet_helper_docks_mixed_storage(tmp_path: Path, media: Media) -> None:
    require_tools("fat16")
    bus, recorders = make_fleet(
        3,
        workdir=tmp_path,
        media=media,
        base_clock=lambda: START,
        storage_kinds=("directory", "fat16"),
    )
    assert [r.storage_kind for r in recorders] == ["directory", "fat16", "directory"]
    assert len(list(usb.core.find(find_all=True, backend=bus))) == 3
