"""USB discovery of docked recorders with pyusb (DESIGN.md §6).

``usb.core.find`` matches device-level descriptor fields only, and a recorder's device descriptor
says class 0 ("see interfaces"), so the mass-storage interface (class 0x08, subclass 0x06 SCSI
transparent, protocol 0x50 bulk-only) is matched with ``custom_match`` over every configuration
and interface. ``backend`` is injected: libusb in production, the simulator in tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import usb.core
import usb.util

from evidence.errors import UnavailableError

MSC_CLASS = 0x08
MSC_SUBCLASS_SCSI = 0x06  # SCSI transparent command set
MSC_PROTOCOL_BULK_ONLY = 0x50  # Bulk-Only Transport


class UsbInterface(Protocol):
    bInterfaceClass: int
    bInterfaceSubClass: int
    bInterfaceProtocol: int


class UsbDevice(Protocol):
    """The part of ``usb.core.Device`` discovery reads."""

    idVendor: int
    idProduct: int
    bus: int | None
    address: int | None
    iSerialNumber: int

    def __iter__(self) -> Iterator[Iterable[UsbInterface]]: ...


@dataclass(frozen=True, slots=True)
class UsbDeviceInfo:
    """Where a recorder sits on the bus and what it calls itself."""

    bus: int
    address: int
    vendor_id: int
    product_id: int
    serial: str | None
    """The USB serial string; ``None`` when the device has none or it cannot be read."""


def has_mass_storage_interface(device: UsbDevice) -> bool:
    """``custom_match`` for ``usb.core.find``: any interface is SCSI bulk-only mass storage."""
    try:
        return any(
            (i.bInterfaceClass, i.bInterfaceSubClass, i.bInterfaceProtocol)
            == (MSC_CLASS, MSC_SUBCLASS_SCSI, MSC_PROTOCOL_BULK_ONLY)
            for configuration in device
            for i in configuration
        )
    except usb.core.USBError:
        return False


def _serial(device: UsbDevice) -> str | None:
    if not device.iSerialNumber:
        return None
    try:
        serial = usb.util.get_string(device, device.iSerialNumber)
    except (usb.core.USBError, ValueError, NotImplementedError):
        return None
    return str(serial) if serial is not None else None


def describe(device: UsbDevice) -> UsbDeviceInfo:
    return UsbDeviceInfo(
        bus=int(device.bus or 0),
        address=int(device.address or 0),
        vendor_id=int(device.idVendor),
        product_id=int(device.idProduct),
        serial=_serial(device),
    )


def find_mass_storage(*, backend: object | None = None) -> list[UsbDeviceInfo]:
    """Every attached USB mass-storage device, sorted by (bus, address)."""
    try:
        devices = usb.core.find(
            find_all=True, backend=backend, custom_match=has_mass_storage_interface
        )
        found = [describe(device) for device in devices]
    except usb.core.NoBackendError as exc:
        raise UnavailableError("no USB backend: install libusb-1.0") from exc
    except usb.core.USBError as exc:
        raise UnavailableError(f"USB enumeration failed: {exc}") from exc
    return sorted(found, key=lambda info: (info.bus, info.address))
