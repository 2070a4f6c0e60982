"""Docking: which recorders are on the station's ports right now, each with a driver.

``UsbDockSource`` polls pyusb for recorders — devices of a supported vendor (GA/T 947.4 session
interface) or any USB mass-storage device — and hands out a driver once per docking; a recorder
that leaves and comes back docks again. The driver comes from ``transport_for``: the vendor's
GA/T 947.4 transport (its DLL/SO) in production, the simulator in tests and the demo. Hot-plug
events (``devices.hotplug``) only wake the poll earlier; the scan is the truth, so a missed event
loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import usb.core

from devices.gat947 import Gat947Driver, Gat947Transport
from devices.usbscan import UsbDevice, describe, has_mass_storage_interface
from devices.volume import Volume
from evidence.errors import UnavailableError
from evidence.ids import DeviceSerial

TransportFor = Callable[[str], tuple[Gat947Transport, Callable[[DeviceSerial], Volume]] | None]
"""serial → (GA/T 947.4 transport, volume after SetMSDC), or None when unsupported."""


@dataclass(frozen=True, slots=True)
class Docked:
    serial: str
    port: str
    driver: Gat947Driver


class UsbDockSource:
    def __init__(self, *, transport_for: TransportFor, vendor_ids: frozenset[int],
                 backend: object | None = None) -> None:
        self._transport_for = transport_for
        self._vendor_ids = vendor_ids
        self._backend = backend
        self._present: set[str] = set()
        self.unsupported: set[str] = set()

    def _scan(self) -> Iterator[tuple[str, str]]:
        def is_recorder(device: UsbDevice) -> bool:
            return device.idVendor in self._vendor_ids or has_mass_storage_interface(device)

        try:
            devices = list(usb.core.find(find_all=True, backend=self._backend,
                                         custom_match=is_recorder))
        except usb.core.NoBackendError as exc:
            raise UnavailableError("no USB backend: install libusb-1.0") from exc
        except usb.core.USBError as exc:
            raise UnavailableError(f"USB enumeration failed: {exc}") from exc
        for device in devices:
            info = describe(device)
            if info.serial:
                yield info.serial, f"{info.bus}-{info.address}"

    def poll(self) -> list[Docked]:
        """Recorders docked since the last poll (each serial once until it leaves)."""
        seen: dict[str, str] = dict(self._scan())
        self._present &= set(seen)
        docked = []
        for serial, port in sorted(seen.items()):
            if serial in self._present:
                continue
            self._present.add(serial)
            found = self._transport_for(serial)
            if found is None:
                self.unsupported.add(serial)
                continue
            transport, storage = found
            docked.append(Docked(serial=serial, port=port, driver=Gat947Driver(
                transport, usb_serial=DeviceSerial(serial), storage=storage)))
        return docked


class DockSources:
    """One station, many transports (USB, adb/E12 …): every source polled in turn. A source
    that fails (adb missing, a USB error) does not stop the others; its last error is kept in
    ``errors`` by source index, and cleared when it answers again."""

    def __init__(self, sources: Sequence[Source]) -> None:
        self._sources = sources
        self.errors: dict[int, UnavailableError] = {}
        self.unsupported: set[str] = set()

    def poll(self) -> list[Docked]:
        docked: list[Docked] = []
        for index, source in enumerate(self._sources):
            try:
                docked += source.poll()
            except UnavailableError as exc:
                self.errors[index] = exc
            else:
                self.errors.pop(index, None)
            self.unsupported |= source.unsupported
        if len(self.errors) == len(self._sources):
            raise next(iter(self.errors.values()))
        return docked


class Source(Protocol):
    """What DockSources polls: a USB, adb or simulated source."""

    unsupported: set[str]

    def poll(self) -> list[Docked]: ...
