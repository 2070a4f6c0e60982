"""A FAT12/16/32 or exFAT card read from an image or block device: no mount, no root.

Nothing is ever written: the medium is opened ``O_RDONLY`` and ``remove`` is refused. Files are
found again by the byte offset of their directory entry (``Recording.file_id``), never by name.
"""

from __future__ import annotations

import os
from datetime import UTC, tzinfo

from devices.blockdev import BlockDevice, FileBlockDevice, open_filesystem_region
from devices.driver import CHINA_STANDARD_TIME, Recording
from devices.exfat import ExfatVolume
from devices.fat import FatVolume
from devices.fatcommon import FatFile, FileSystem
from devices.stream import RawSource
from evidence.errors import ConflictError, NotFoundError, PolicyViolationError

READ_CHUNK_BYTES = 1 << 20  # one pread per MiB at most: large sequential reads


class ExtentReader:
    """A file's bytes from its runs on the medium, then zeros up to its size (exFAT §7.6.4)."""

    def __init__(self, block: BlockDevice, runs: list[tuple[int, int]], *, size: int) -> None:
        self._block = block
        self._runs = list(reversed(runs))
        self._zeros = size - sum(length for _, length in runs)

    def readinto(self, buffer: memoryview, /) -> int:
        if self._runs:
            offset, length = self._runs[-1]
            data = self._block.pread(min(len(buffer), length, READ_CHUNK_BYTES), offset)
            if not data:
                raise OSError(5, "short read from medium")  # EIO: the card shrank or went away
            buffer[: len(data)] = data
            if len(data) == length:
                self._runs.pop()
            else:
                self._runs[-1] = (offset + len(data), length - len(data))
            return len(data)
        count = min(len(buffer), self._zeros)
        buffer[:count] = bytes(count)
        self._zeros -= count
        return count

    def close(self) -> None:
        """The block device belongs to the volume."""


class ImageVolume:
    """The FAT or exFAT file system on ``block`` (whole medium or its first FAT/exFAT partition)."""

    def __init__(
        self,
        block: BlockDevice,
        *,
        description: str,
        partition: int | None = None,
        oem_encoding: str = "gbk",
        zone: tzinfo = CHINA_STANDARD_TIME,
    ) -> None:
        self._block = block
        self._description = description
        region = open_filesystem_region(block, partition=partition)
        head = region.pread(11, 0)
        self._fs: FileSystem = (
            ExfatVolume(region, zone=zone)
            if head[3:11] == b"EXFAT   "
            else FatVolume(region, oem_encoding=oem_encoding, zone=zone)
        )
        self._region = region
        self._files: dict[int, FatFile] = {}

    @classmethod
    def from_path(
        cls,
        path: str | os.PathLike[str],
        *,
        partition: int | None = None,
        oem_encoding: str = "gbk",
        zone: tzinfo = CHINA_STANDARD_TIME,
        allow_writable_device: bool = False,
    ) -> ImageVolume:
        """Open an image file or block device node read-only (a device must be ``--setro``)."""
        block = FileBlockDevice(path, allow_writable_device=allow_writable_device)
        try:
            return cls(
                block,
                description=os.fspath(path),
                partition=partition,
                oem_encoding=oem_encoding,
                zone=zone,
            )
        except BaseException:
            block.close()
            raise

    @property
    def description(self) -> str:
        return f"{self._description} ({self._fs.kind})"

    @property
    def kind(self) -> str:
        return self._fs.kind

    def recordings(self) -> list[Recording]:
        files = list(self._fs.files())
        self._files = {entry.entry_offset: entry for entry in files}
        return [
            Recording(
                path="/".join(entry.components),
                size=entry.size,
                device_mtime=entry.mtime.astimezone(UTC),
                file_id=entry.entry_offset,
            )
            for entry in files
        ]

    def open_raw(self, recording: Recording) -> RawSource:
        if recording.file_id not in self._files:
            self.recordings()
        entry = self._files.get(recording.file_id)
        if entry is None:
            raise NotFoundError(f"{recording.path!r} is no longer on {self.description}")
        if entry.size != recording.size:
            raise ConflictError(f"{recording.path!r} changed size since it was listed")
        return ExtentReader(self._region, self._fs.extents(entry), size=entry.size)

    def remove(self, recording: Recording) -> None:
        raise PolicyViolationError(f"{self.description} is read-only: {recording.path!r} stays")

    def close(self) -> None:
        self._block.close()
