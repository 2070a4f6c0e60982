"""``MassStorageDriver``: a recorder that presents a USB mass-storage disk (DESIGN.md §6).

Over a ``DirectoryVolume`` (a mounted volume or SD card folder) or an ``ImageVolume`` (a FAT32 or
exFAT image or block device read without mounting). A bare disk has no GA/T 947.4 session: no
officer, no clock, no password; those calls raise ``NotFoundError`` so the station records
"unknown" instead of guessing. ``Gat947Driver`` uses this class for its storage after SetMSDC.
"""

from __future__ import annotations

import io
import os
from datetime import datetime, tzinfo

from devices.dirvolume import DirectoryVolume
from devices.driver import CHINA_STANDARD_TIME, Recording, check_password
from devices.imagevolume import ImageVolume
from devices.stream import guarded_stream
from devices.volume import Volume
from evidence.errors import NotFoundError, UnavailableError
from evidence.ids import DeviceSerial
from evidence.records import Device


class MassStorageDriver:
    """``RecorderDriver`` over one ``Volume``.

    ``serial`` comes from discovery (the USB serial string) or the operator; ``id_code`` is empty
    when unknown, since a bare disk does not report its GA/T 947.4 maker+model code.
    """

    def __init__(self, volume: Volume, *, serial: DeviceSerial, id_code: str = "") -> None:
        self.volume = volume
        self._serial = serial
        self._id_code = id_code

    @classmethod
    def from_directory(
        cls, root: str | os.PathLike[str], *, serial: DeviceSerial, id_code: str = ""
    ) -> MassStorageDriver:
        """Over a mounted volume or card folder."""
        return cls(DirectoryVolume(root), serial=serial, id_code=id_code)

    @classmethod
    def from_image(
        cls,
        path: str | os.PathLike[str],
        *,
        serial: DeviceSerial,
        id_code: str = "",
        partition: int | None = None,
        oem_encoding: str = "gbk",
        zone: tzinfo = CHINA_STANDARD_TIME,
    ) -> MassStorageDriver:
        """Over a FAT/exFAT image or block device, read-only and without mounting."""
        volume = ImageVolume.from_path(
            path, partition=partition, oem_encoding=oem_encoding, zone=zone
        )
        return cls(volume, serial=serial, id_code=id_code)

    def identify(self) -> Device:
        return Device(serial=self._serial, id_code=self._id_code)

    def officer_info(self, password: bytes) -> Device:
        check_password(password)
        raise NotFoundError(f"recorder {self._serial} is a bare disk: no ZFY_INFO to read")

    def read_clock(self) -> datetime:
        raise NotFoundError(f"recorder {self._serial} is a bare disk: its clock cannot be read")

    def sync_clock(self, password: bytes, now: datetime) -> None:
        check_password(password)
        raise NotFoundError(f"recorder {self._serial} is a bare disk: its clock cannot be set")

    def enable_mass_storage(self, password: bytes) -> None:
        """Already mass storage."""

    def list_recordings(self) -> list[Recording]:
        try:
            return self.volume.recordings()
        except OSError as exc:
            raise UnavailableError(
                f"recorder {self._serial} failed while listing {self.volume.description}: "
                f"{exc.strerror or exc}"
            ) from exc

    def open_recording(self, recording: Recording) -> io.BufferedIOBase:
        try:
            source = self.volume.open_raw(recording)
        except OSError as exc:
            raise UnavailableError(
                f"recorder {self._serial} failed opening {recording.path!r}: {exc.strerror or exc}"
            ) from exc
        return guarded_stream(source, name=recording.path, expected_size=recording.size)

    def release(self, recording: Recording) -> None:
        try:
            self.volume.remove(recording)
        except OSError as exc:
            raise UnavailableError(
                f"recorder {self._serial} failed deleting {recording.path!r}: {exc.strerror or exc}"
            ) from exc

    def close(self) -> None:
        self.volume.close()
