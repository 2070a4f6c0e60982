"""``Gat947Driver``: the GA/T 947.4 (数据接口) session over a vendor transport (DESIGN.md §6).

The standard specifies a vendor DLL API, not a wire protocol, so the driver speaks to a
``Gat947Transport``: in production an adapter over the vendor's DLL/SO, in tests the simulator
(``tests/support/recorder.py``). Which recorders work on a Linux station therefore depends on the
vendor shipping a Linux transport; recorders configured to present mass storage without
authorisation need only ``MassStorageDriver``.

Station sequence (DESIGN.md §6): ``identify`` (GetIDCode, Init_Device) → ``officer_info``
(GetZFYInfo: the password check) → ``read_clock`` (record the offset *before* syncing) →
``sync_clock`` (SyncDevTime) → ``enable_mass_storage`` (SetMSDC, then wait for the volume) →
list/open → ``close`` (UnInit_Device).
"""

from __future__ import annotations

import enum
import io
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Protocol, TypeVar

from devices.driver import CHINA_STANDARD_TIME, Recording, check_password, require_aware
from devices.massstorage import MassStorageDriver
from devices.volume import Volume
from devices.zfy import ZfyInfo
from evidence.errors import NotFoundError, PolicyViolationError, UnavailableError, VerificationError
from evidence.ids import DeviceSerial
from evidence.records import Device

ID_CODE_CHARS = 5  # GetIDCode: maker (2-3) + model characters, 5 in all
_T = TypeVar("_T")
_UNKNOWN_SERIAL = DeviceSerial("")


class Gat947Status(enum.IntEnum):
    """Status codes returned by the GA/T 947.4 functions."""

    CONNECT_OK = 1
    CONNECT_FAILED = 2
    PASSWORD_OK = 3
    PASSWORD_FAILED = 4
    TIME_SET_OK = 5
    TIME_SET_FAILED = 6
    MSDC_OK = 7
    MSDC_FAILED = 8


class Gat947Transport(Protocol):
    """The GA/T 947.4 functions, one method each; any may raise ``OSError`` (recorder gone).

    ``password`` is always the 6 raw bytes. Times are the recorder's wall clock: naive, in the
    recorder's zone (China Standard Time for recorders sold in China).
    """

    def init_device(self, id_code: str) -> int:
        """Init_Device(IDCode): 1 connect ok, 2 connect failed."""
        ...

    def uninit_device(self) -> None:
        """UnInit_Device."""
        ...

    def get_id_code(self) -> str:
        """GetIDCode: the 5-character maker+model code."""
        ...

    def get_zfy_info(self, password: bytes) -> tuple[int, bytes]:
        """GetZFYInfo(ZFY_INFO*, pwd): (3, the 94-byte struct) or (4, b"")."""
        ...

    def write_zfy_info(self, info: bytes, password: bytes) -> int:
        """WriteZFYInfo(ZFY_INFO*, pwd): 3 or 4."""
        ...

    def sync_dev_time(self, password: bytes, wall_clock: datetime) -> int:
        """SyncDevTime(pwd): 5 set, 6 failed, 4 wrong password.

        The vendor DLL sets the host's clock; an adapter over it must check that ``wall_clock``
        agrees with the host clock and return 6 when it does not.
        """
        ...

    def set_msdc(self, password: bytes) -> int:
        """SetMSDC(pwd): 7 switched to mass storage, 8 failed, 4 wrong password."""
        ...

    def read_device_resolution(self) -> tuple[int, int]:
        """ReadDeviceResolution: recording width and height in pixels."""
        ...

    def read_device_battery_dump_energy(self) -> int:
        """ReadDeviceBatteryDumpEnergy: remaining battery, percent."""
        ...

    def read_dev_time(self) -> datetime:
        """The recorder's clock (a vendor extension: the standard function list has none)."""
        ...


class Gat947Driver:
    """``RecorderDriver`` for a GA/T 947.4 recorder.

    ``usb_serial`` is the serial from discovery, reported by ``identify`` until ``officer_info``
    reads the recorder's own (empty when unknown). ``storage`` waits for and returns the volume
    the recorder presents after SetMSDC.
    """

    def __init__(
        self,
        transport: Gat947Transport,
        *,
        usb_serial: DeviceSerial = _UNKNOWN_SERIAL,
        storage: Callable[[DeviceSerial], Volume] | None = None,
        zone: tzinfo = CHINA_STANDARD_TIME,
    ) -> None:
        self._transport = transport
        self._serial = usb_serial
        self._storage = storage
        self._zone = zone
        self._id_code = ""
        self._connected = False
        self._disk: MassStorageDriver | None = None
        self._msdc = False

    def _call(self, what: str, function: Callable[[], _T]) -> _T:
        try:
            return function()
        except OSError as exc:
            raise UnavailableError(f"recorder {self._serial or '?'}: {what} failed: {exc}") from exc

    def _session(self) -> None:
        if not self._connected:
            raise PolicyViolationError("GA/T 947.4 session not open: call identify() first")

    def _status(self, what: str, status: int, ok: Gat947Status, failed: Gat947Status) -> None:
        if status == ok:
            return
        if status == Gat947Status.PASSWORD_FAILED:
            raise PolicyViolationError(
                f"recorder {self._serial or '?'} refused the password ({what})"
            )
        if status == failed:
            raise UnavailableError(
                f"recorder {self._serial or '?'}: {what} failed (status {status})"
            )
        raise VerificationError(f"{what} returned unknown status {status}", step="gat947")

    def identify(self) -> Device:
        id_code = self._call("GetIDCode", self._transport.get_id_code)
        if len(id_code) != ID_CODE_CHARS or not id_code.isascii() or not id_code.isalnum():
            raise VerificationError(
                f"GetIDCode returned {id_code!r}, not 5 letters/digits", step="gat947"
            )
        status = self._call("Init_Device", lambda: self._transport.init_device(id_code))
        if status != Gat947Status.CONNECT_OK:
            raise UnavailableError(
                f"recorder {self._serial or id_code}: Init_Device failed (status {status})"
            )
        self._id_code, self._connected = id_code, True
        return Device(serial=self._serial, id_code=id_code)

    def officer_info(self, password: bytes) -> Device:
        self._session()
        pwd = check_password(password)
        status, data = self._call("GetZFYInfo", lambda: self._transport.get_zfy_info(pwd))
        self._status("GetZFYInfo", status, Gat947Status.PASSWORD_OK, Gat947Status.PASSWORD_FAILED)
        info = ZfyInfo.unpack(data)
        self._serial = info.serial
        return Device(serial=info.serial, id_code=self._id_code, officer=info.officer)

    def write_officer_info(self, password: bytes, info: ZfyInfo) -> None:
        """WriteZFYInfo: assign the recorder to an officer (issuing desk only)."""
        self._session()
        pwd, packed = check_password(password), info.pack()
        status = self._call("WriteZFYInfo", lambda: self._transport.write_zfy_info(packed, pwd))
        self._status("WriteZFYInfo", status, Gat947Status.PASSWORD_OK, Gat947Status.PASSWORD_FAILED)

    def read_clock(self) -> datetime:
        self._session()
        wall = self._call("reading the clock", self._transport.read_dev_time)
        return wall.replace(tzinfo=self._zone).astimezone(UTC)

    def sync_clock(self, password: bytes, now: datetime) -> None:
        self._session()
        pwd = check_password(password)
        wall = require_aware(now, "now").astimezone(self._zone).replace(tzinfo=None)
        status = self._call("SyncDevTime", lambda: self._transport.sync_dev_time(pwd, wall))
        self._status("SyncDevTime", status, Gat947Status.TIME_SET_OK, Gat947Status.TIME_SET_FAILED)

    def enable_mass_storage(self, password: bytes) -> None:
        self._session()
        pwd = check_password(password)
        status = self._call("SetMSDC", lambda: self._transport.set_msdc(pwd))
        self._status("SetMSDC", status, Gat947Status.MSDC_OK, Gat947Status.MSDC_FAILED)
        self._msdc = True
        if self._storage is not None and self._disk is None:
            volume = self._storage(self._serial)
            self._disk = MassStorageDriver(volume, serial=self._serial, id_code=self._id_code)

    def resolution(self) -> tuple[int, int]:
        """ReadDeviceResolution: (width, height)."""
        self._session()
        return self._call("ReadDeviceResolution", self._transport.read_device_resolution)

    def battery_percent(self) -> int:
        """ReadDeviceBatteryDumpEnergy."""
        self._session()
        return self._call(
            "ReadDeviceBatteryDumpEnergy", self._transport.read_device_battery_dump_energy
        )

    def _storage_driver(self) -> MassStorageDriver:
        if not self._msdc:
            raise PolicyViolationError(
                "mass storage is not enabled: call enable_mass_storage() first"
            )
        if self._disk is None:
            raise NotFoundError("no storage opener configured for the recorder's volume")
        return self._disk

    def list_recordings(self) -> list[Recording]:
        return self._storage_driver().list_recordings()

    def open_recording(self, recording: Recording) -> io.BufferedIOBase:
        return self._storage_driver().open_recording(recording)

    def release(self, recording: Recording) -> None:
        self._storage_driver().release(recording)

    def close(self) -> None:
        """UnInit_Device, and release the volume."""
        try:
            if self._connected:
                self._connected = False
                self._call("UnInit_Device", self._transport.uninit_device)
        finally:
            if self._disk is not None:
                self._disk.close()
                self._disk = None
