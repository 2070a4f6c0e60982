"""A network upload as a recorder (ingest/network.py): one file, the device's serial, and the
clock it reported when the upload began, so that ``Dock`` ingests it exactly as a docked file —
``acquired`` with the clock offset, ``stored``, ``verified``. There is no session: no password,
no clock to set, nothing to release (the part file is the server's own)."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from devices.driver import Recording
from evidence.errors import NotFoundError
from evidence.ids import DeviceSerial
from evidence.records import Device


class UploadedFile:
    def __init__(self, path: Path, *, serial: str, name: str, device_time: datetime | None,
                 received_at: datetime, clock: Callable[[], datetime]) -> None:
        self._path = path
        self._serial = DeviceSerial(serial)
        self._name = name
        self._device_time = device_time
        self._received_at = received_at
        self._clock = clock

    def identify(self) -> Device:
        return Device(serial=self._serial, id_code="")

    def officer_info(self, password: bytes) -> Device:
        raise NotFoundError("a network upload has no ZFY_INFO")

    def read_clock(self) -> datetime:
        """The device's clock now, as it reported it at the upload's start plus the time since."""
        if self._device_time is None:
            raise NotFoundError("the upload did not report the device's clock")
        return self._device_time + (self._clock() - self._received_at)

    def sync_clock(self, password: bytes, now: datetime) -> None:
        raise NotFoundError("a network device's clock is not set by the server")

    def enable_mass_storage(self, password: bytes) -> None:
        return None

    def list_recordings(self) -> list[Recording]:
        return [Recording(path=self._name, size=self._path.stat().st_size,
                          device_mtime=self._device_time or self._received_at, file_id=0)]

    def open_recording(self, recording: Recording) -> io.BufferedIOBase:
        return self._path.open("rb")

    def release(self, recording: Recording) -> None:
        return None

    def close(self) -> None:
        return None
