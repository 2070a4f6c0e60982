"""A simulated recorder: its GA/T 947.4 session (identity, ZFY_INFO, password, clock, SetMSDC),
its storage and the faults an unplugged cable causes."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from devices.dirvolume import DirectoryVolume
from devices.driver import CHINA_STANDARD_TIME, Recording
from devices.gat947 import Gat947Status
from devices.imagevolume import ImageVolume
from devices.sim.clock import DriftingClock
from devices.stream import RawSource
from devices.volume import Volume
from devices.zfy import ZfyInfo
from evidence.ids import DeviceSerial

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
# The recorder: GA/T 947.4 transport and storage
# --------------------------------------------------------------------------------------------------


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
