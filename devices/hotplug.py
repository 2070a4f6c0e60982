"""Hot-plug of recorders behind a small interface (DESIGN.md §6).

``PyudevHotplugSource`` listens to udev; these machines run no udevd, and without it libudev's
monitor silently delivers nothing, so it refuses to start (``UnavailableError``) rather than wait
forever. ``PollingHotplugSource`` diffs pyusb scans and works everywhere, the simulator included.
Tests inject events through either: a simulated backend, or a fake udev monitor.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import pyudev

from devices.usbscan import UsbDeviceInfo, find_mass_storage
from evidence.errors import UnavailableError

UDEV_CONTROL = "/run/udev/control"  # exists while udevd runs; libudev checks the same
MSC_INTERFACE_TAG = ":080650:"  # udev's ID_USB_INTERFACES entry for SCSI bulk-only storage


class HotplugAction(enum.StrEnum):
    ADD = "add"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class HotplugEvent:
    action: HotplugAction
    device: UsbDeviceInfo


class HotplugSource(Protocol):
    """Docking and undocking of USB mass-storage recorders."""

    def poll(self, timeout_s: float) -> list[HotplugEvent]:
        """Events since the last call, waiting up to ``timeout_s`` for the first one."""
        ...

    def close(self) -> None: ...


class PollingHotplugSource:
    """Scans the bus every ``interval_s``; the first poll reports what is already docked as ADD.

    Devices are keyed by (bus, address): a re-enumerated recorder (after SetMSDC) is a removal and
    an addition, as on real hardware.
    """

    def __init__(
        self,
        *,
        scan: Callable[[], list[UsbDeviceInfo]] = find_mass_storage,
        interval_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._scan = scan
        self._interval = interval_s
        self._sleep = sleep
        self._monotonic = monotonic
        self._known: dict[tuple[int, int], UsbDeviceInfo] = {}

    def _diff(self) -> list[HotplugEvent]:
        current = {(d.bus, d.address): d for d in self._scan()}
        gone = [
            HotplugEvent(HotplugAction.REMOVE, d)
            for k, d in self._known.items()
            if k not in current
        ]
        new = [
            HotplugEvent(HotplugAction.ADD, d) for k, d in current.items() if k not in self._known
        ]
        self._known = current
        return gone + sorted(new, key=lambda e: (e.device.bus, e.device.address))

    def poll(self, timeout_s: float) -> list[HotplugEvent]:
        deadline = self._monotonic() + timeout_s
        while True:
            events = self._diff()
            remaining = deadline - self._monotonic()
            if events or remaining <= 0:
                return events
            self._sleep(min(self._interval, remaining))

    def close(self) -> None:
        self._known = {}


class UdevDevice(Protocol):
    """The part of ``pyudev.Device`` read here."""

    @property
    def action(self) -> str | None: ...

    @property
    def properties(self) -> Mapping[str, str]: ...


class UdevMonitor(Protocol):
    """The part of ``pyudev.Monitor`` used here."""

    def poll(self, timeout: float | None = None) -> UdevDevice | None: ...


def _open_udev_monitor(udev_control: str) -> UdevMonitor:
    if not os.path.exists(udev_control):
        raise UnavailableError(
            f"udev is not running ({udev_control} is missing): use PollingHotplugSource",
            retry_after_s=60,
        )
    try:
        monitor = pyudev.Monitor.from_netlink(pyudev.Context())
        monitor.filter_by(subsystem="usb", device_type="usb_device")
        monitor.start()
    except (ImportError, OSError) as exc:
        raise UnavailableError(f"udev monitor unavailable: {exc}", retry_after_s=60) from exc
    result: UdevMonitor = monitor
    return result


def event_from_udev(device: UdevDevice) -> HotplugEvent | None:
    """A ``HotplugEvent`` for a mass-storage add/remove; ``None`` for anything else."""
    if device.action not in (HotplugAction.ADD, HotplugAction.REMOVE):
        return None
    props = device.properties
    interfaces = props.get("ID_USB_INTERFACES")
    if interfaces is not None and MSC_INTERFACE_TAG not in interfaces:
        return None
    try:
        vendor, product = (int(part, 16) for part in props.get("PRODUCT", "").split("/")[:2])
        info = UsbDeviceInfo(
            bus=int(props["BUSNUM"]),
            address=int(props["DEVNUM"]),
            vendor_id=vendor,
            product_id=product,
            serial=props.get("ID_SERIAL_SHORT"),
        )
    except (KeyError, ValueError):
        return None
    return HotplugEvent(HotplugAction(device.action), info)


class PyudevHotplugSource:
    """udev ``usb_device`` add/remove events, filtered to mass storage by ``ID_USB_INTERFACES``."""

    def __init__(
        self, *, monitor: UdevMonitor | None = None, udev_control: str = UDEV_CONTROL
    ) -> None:
        self._monitor = monitor if monitor is not None else _open_udev_monitor(udev_control)

    def poll(self, timeout_s: float) -> list[HotplugEvent]:
        events: list[HotplugEvent] = []
        device = self._monitor.poll(timeout=timeout_s)
        while device is not None:
            event = event_from_udev(device)
            if event is not None:
                events.append(event)
            device = self._monitor.poll(timeout=0)
        return events

    def close(self) -> None:
        """pyudev closes the netlink socket when the monitor is collected."""
