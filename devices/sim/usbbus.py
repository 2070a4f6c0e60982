"""The simulated bus: a pyusb backend (``usb.backend.IBackend``) whose devices are simulated
recorders, with real-looking descriptors and string descriptors (DESIGN.md §6)."""

from __future__ import annotations

import array
import errno
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import usb.backend
import usb.core

from devices.sim.device import SimulatedRecorder

VENDOR_ID = 0x2E8A  # a made-up maker id (not a real recorder vendor)


# --- USB descriptors ------------------------------------------------------------------------------


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


class SimulatedUsbBackend(usb.backend.IBackend):  # type: ignore[misc]  # pyusb ships no types
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
