"""Fixtures for the devices tests: media made once per session, recorders on a simulated bus."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devices.sim.cards import Media, media_library
from devices.sim.clock import ManualClock
from devices.sim.device import SimulatedRecorder
from devices.sim.recorder import make_recorder
from devices.sim.usbbus import SimulatedUsbBackend
from ingest.media import find_ffmpeg

START = datetime(2024, 5, 1, 1, 30, tzinfo=UTC)  # 09:30 China Standard Time
TOOLS = {
    "directory": (),
    "fat12": ("mkfs.vfat", "mcopy"),
    "fat16": ("mkfs.vfat", "mcopy"),
    "fat32": ("mkfs.vfat", "mcopy"),
    "fat32-mbr": ("mkfs.vfat", "mcopy", "sfdisk"),
    "exfat": ("mkfs.exfat",),
}


def require_tools(storage_kind: str) -> None:
    missing = [tool for tool in TOOLS[storage_kind] if shutil.which(tool) is None]
    if missing:
        pytest.skip(
            f"{storage_kind} cards need {', '.join(missing)}"
            " (apt-get install dosfstools mtools fdisk exfatprogs)"
        )


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return media_library(tmp_path_factory.mktemp("media"), ffmpeg=find_ffmpeg().ffmpeg)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


RecorderFactory = Callable[..., SimulatedRecorder]


@pytest.fixture
def new_recorder(tmp_path: Path, media: Media, clock: ManualClock) -> RecorderFactory:
    """``new_recorder(index, storage_kind=..., **options)``: a recorder with its card written."""

    def build(
        index: int = 0, *, storage_kind: str = "directory", **options: object
    ) -> SimulatedRecorder:
        require_tools(storage_kind)
        return make_recorder(
            index,
            workdir=tmp_path,
            media=media,
            base_clock=clock,
            storage_kind=storage_kind,
            **options,  # type: ignore[arg-type]  # make_recorder's own keywords, passed through
        )

    return build


@pytest.fixture
def bus() -> SimulatedUsbBackend:
    return SimulatedUsbBackend()
