"""Hot-plug: events injected through the simulated bus (polling) and a fake udev monitor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest

from devices.gat947 import Gat947Driver
from devices.hotplug import (
    HotplugAction,
    HotplugEvent,
    PollingHotplugSource,
    PyudevHotplugSource,
    event_from_udev,
)
from devices.sim.usbbus import VENDOR_ID, SimulatedUsbBackend
from devices.usbscan import UsbDeviceInfo, find_mass_storage
from evidence.errors import UnavailableError
from tests.unit.devices.conftest import RecorderFactory


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def polling(bus: SimulatedUsbBackend, fake: FakeTime) -> PollingHotplugSource:
    return PollingHotplugSource(
        scan=partial(find_mass_storage, backend=bus),
        interval_s=0.5,
        sleep=fake.sleep,
        monotonic=fake.monotonic,
    )


def test_polling_reports_dock_undock_and_reenumeration(
    bus: SimulatedUsbBackend, new_recorder: RecorderFactory
) -> None:
    fake = FakeTime()
    source = polling(bus, fake)
    docked = new_recorder(0)
    docked.msc_mode = True
    bus.plug(docked)

    (first,) = source.poll(timeout_s=0)  # already docked when the station starts
    assert first.action is HotplugAction.ADD and first.device.serial == "LH00001"

    assert source.poll(timeout_s=2.0) == []  # nothing happens: waited in 0.5 s steps
    assert fake.sleeps == [0.5, 0.5, 0.5, 0.5]

    session = new_recorder(1)
    bus.plug(session)  # GA/T 947.4 session interface: not a disk yet
    assert source.poll(timeout_s=0) == []
    driver = Gat947Driver(session)
    driver.identify()
    driver.enable_mass_storage(b"123456")  # re-enumerates as mass storage at a new address
    (added,) = source.poll(timeout_s=0)
    assert added == HotplugEvent(
        HotplugAction.ADD, UsbDeviceInfo(1, 4, VENDOR_ID, 0x0947, "LH00002")
    )

    bus.unplug(docked)
    (removed,) = source.poll(timeout_s=0)
    assert removed.action is HotplugAction.REMOVE and removed.device.serial == "LH00001"


def test_polling_returns_on_first_change(
    bus: SimulatedUsbBackend, new_recorder: RecorderFactory
) -> None:
    fake = FakeTime()
    source = polling(bus, fake)
    assert source.poll(timeout_s=0) == []
    recorder = new_recorder(2)
    recorder.msc_mode = True

    def plug_on_second_sleep(seconds: float) -> None:
        FakeTime.sleep(fake, seconds)
        if len(fake.sleeps) == 2:
            bus.plug(recorder)

    source._sleep = plug_on_second_sleep  # inject the event mid-wait
    events = source.poll(timeout_s=60)
    assert [e.device.serial for e in events] == ["LH00003"]
    assert fake.now == 1.0


def test_pyudev_refuses_without_udevd(tmp_path: Path) -> None:
    with pytest.raises(UnavailableError, match="udev is not running"):
        PyudevHotplugSource(udev_control=str(tmp_path / "control"))


@dataclass
class FakeUdevDevice:
    action: str | None
    properties: Mapping[str, str] = field(default_factory=dict)


class FakeMonitor:
    def __init__(self, devices: list[FakeUdevDevice]) -> None:
        self._devices = list(devices)
        self.timeouts: list[float | None] = []

    def poll(self, timeout: float | None = None) -> FakeUdevDevice | None:
        self.timeouts.append(timeout)
        return self._devices.pop(0) if self._devices else None


def udev_device(
    action: str, *, interfaces: str | None = ":080650:", serial: str = "LH00009"
) -> FakeUdevDevice:
    props = {"BUSNUM": "001", "DEVNUM": "007", "PRODUCT": "2e8a/947/100", "ID_SERIAL_SHORT": serial}
    if interfaces is not None:
        props["ID_USB_INTERFACES"] = interfaces
    return FakeUdevDevice(action, props)


def test_pyudev_events_are_translated_and_filtered() -> None:
    monitor = FakeMonitor(
        [
            udev_device("add"),
            udev_device("add", interfaces=":030101:"),  # a keyboard
            udev_device("bind"),
            udev_device("remove"),
        ]
    )
    source = PyudevHotplugSource(monitor=monitor)
    events = source.poll(timeout_s=5)
    device = UsbDeviceInfo(bus=1, address=7, vendor_id=0x2E8A, product_id=0x947, serial="LH00009")
    assert events == [
        HotplugEvent(HotplugAction.ADD, device),
        HotplugEvent(HotplugAction.REMOVE, device),
    ]
    assert monitor.timeouts == [5, 0, 0, 0, 0]
    assert source.poll(timeout_s=1) == []


def test_malformed_udev_properties_are_ignored() -> None:
    assert (
        event_from_udev(FakeUdevDevice("add", {"BUSNUM": "x", "DEVNUM": "1", "PRODUCT": "1/2/3"}))
        is None
    )
    assert event_from_udev(FakeUdevDevice("add", {"DEVNUM": "1"})) is None
