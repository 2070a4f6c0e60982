"""Recorders and docks: USB discovery, drivers, read-only acquisition (DESIGN.md §2, §6).

May import ``evidence`` only (never ``integrity``, ``storage``, ``ingest`` or ``api``). The recorder
simulator lives in ``tests/support/recorder.py``.
"""

from devices.dirvolume import DirectoryVolume
from devices.driver import CHINA_STANDARD_TIME, RecorderDriver, Recording
from devices.gat947 import Gat947Driver, Gat947Status, Gat947Transport
from devices.hotplug import (
    HotplugAction,
    HotplugEvent,
    HotplugSource,
    PollingHotplugSource,
    PyudevHotplugSource,
)
from devices.imagevolume import ImageVolume
from devices.massstorage import MassStorageDriver
from devices.usbscan import UsbDeviceInfo, find_mass_storage, has_mass_storage_interface
from devices.volume import Volume
from devices.zfy import ZfyInfo

__all__ = [
    "CHINA_STANDARD_TIME",
    "DirectoryVolume",
    "Gat947Driver",
    "Gat947Status",
    "Gat947Transport",
    "HotplugAction",
    "HotplugEvent",
    "HotplugSource",
    "ImageVolume",
    "MassStorageDriver",
    "PollingHotplugSource",
    "PyudevHotplugSource",
    "RecorderDriver",
    "Recording",
    "UsbDeviceInfo",
    "Volume",
    "ZfyInfo",
    "find_mass_storage",
    "has_mass_storage_interface",
]
