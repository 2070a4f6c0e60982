"""Read-only byte access to a card image or block device, and MBR partition lookup.

In production the block device is set read-only (``blockdev --setro``, a udev rule) before anything
opens it (DESIGN.md §6); here it is also opened ``O_RDONLY`` and never written. Tests wrap a
``BlockDevice`` to inject faults (an unplugged card raises ``OSError(EIO)``).
"""

from __future__ import annotations

import fcntl
import os
import stat
import struct
from typing import Protocol

from evidence.errors import NotFoundError, PolicyViolationError, UnavailableError, VerificationError

SECTOR_BYTES = 512  # MBR and boot-sector geometry is in 512-byte units
_FAT_PARTITION_TYPES = frozenset({0x01, 0x04, 0x06, 0x0B, 0x0C, 0x0E})
_EXFAT_PARTITION_TYPE = 0x07  # shared with NTFS; the boot sector tells them apart
_GPT_PROTECTIVE = 0xEE
_BLKROGET = 0x125E  # <linux/fs.h> _IO(0x12, 94): is the block device read-only?


class BlockDevice(Protocol):
    """Random read access to a fixed number of bytes."""

    @property
    def size(self) -> int: ...

    def pread(self, length: int, offset: int) -> bytes:
        """Up to ``length`` bytes at ``offset``; raises ``OSError`` when the medium fails."""
        ...

    def close(self) -> None: ...


def is_read_only_block_device(fd: int) -> bool:
    """BLKROGET: true when the kernel refuses writes to this block device (``blockdev --setro``)."""
    flag = bytearray(4)
    fcntl.ioctl(fd, _BLKROGET, flag)
    return int.from_bytes(flag, "little") != 0


class FileBlockDevice:
    """A disk image file or block device node, opened read-only.

    A block device must also be read-only in the kernel (``blockdev --setro``, a udev rule) so that
    nothing else on the station writes to the card either; ``allow_writable_device`` waives that
    for a lab bench and names the risk.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, allow_writable_device: bool = False
    ) -> None:
        try:
            # O_NONBLOCK: a FIFO put here must not block the open; it is refused below.
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK)
        except FileNotFoundError as exc:
            raise NotFoundError(f"no image or block device at {os.fspath(path)!r}") from exc
        except OSError as exc:
            raise UnavailableError(f"cannot open {os.fspath(path)!r}: {exc.strerror}") from exc
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISBLK(mode)):
            os.close(fd)
            raise PolicyViolationError(f"{os.fspath(path)!r} is neither an image file nor a disk")
        if stat.S_ISBLK(mode) and not allow_writable_device and not is_read_only_block_device(fd):
            os.close(fd)
            raise PolicyViolationError(
                f"{os.fspath(path)!r} is writable: `blockdev --setro` it first (DESIGN.md §6)"
            )
        self._fd = fd
        self._size = os.lseek(fd, 0, os.SEEK_END)

    @property
    def size(self) -> int:
        return self._size

    def pread(self, length: int, offset: int) -> bytes:
        return os.pread(self._fd, length, offset)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class SliceBlockDevice:
    """``length`` bytes of ``inner`` starting at ``offset`` (one partition)."""

    def __init__(self, inner: BlockDevice, *, offset: int, length: int) -> None:
        self._inner = inner
        self._offset = offset
        self._size = length

    @property
    def size(self) -> int:
        return self._size

    def pread(self, length: int, offset: int) -> bytes:
        length = max(0, min(length, self._size - offset))
        return self._inner.pread(length, self._offset + offset) if length else b""

    def close(self) -> None:
        self._inner.close()


def read_exact(block: BlockDevice, length: int, offset: int, *, what: str) -> bytes:
    """Exactly ``length`` bytes or ``VerificationError`` (the structure points past the end)."""
    if offset < 0 or length < 0 or offset + length > block.size:
        raise VerificationError(f"{what} lies outside the volume", step="fat")
    data = block.pread(length, offset)
    if len(data) != length:
        raise VerificationError(f"{what}: short read", step="fat")
    return data


def looks_like_boot_sector(sector: bytes) -> bool:
    """True for an exFAT or FAT12/16/32 boot sector (a 'superfloppy' without partition table)."""
    if len(sector) < SECTOR_BYTES:
        return False
    if sector[3:11] == b"EXFAT   ":
        return True
    bytes_per_sector, sectors_per_cluster = struct.unpack_from("<HB", sector, 11)
    return (
        sector[0] in (0xEB, 0xE9)
        and bytes_per_sector in (512, 1024, 2048, 4096)
        and sectors_per_cluster in (1, 2, 4, 8, 16, 32, 64, 128)
        and sector[16] in (1, 2)  # number of FATs
    )


def open_filesystem_region(block: BlockDevice, *, partition: int | None = None) -> BlockDevice:
    """The FAT/exFAT region of ``block``: the whole device, or an MBR partition.

    ``partition`` is the 1-based MBR slot; by default the first FAT or exFAT partition.
    """
    sector0 = read_exact(block, SECTOR_BYTES, 0, what="sector 0")
    if partition is None and looks_like_boot_sector(sector0):
        return block
    if sector0[510:512] != b"\x55\xaa":
        raise NotFoundError("no FAT/exFAT boot sector and no MBR partition table on this medium")
    for slot in range(1, 5):
        entry = sector0[446 + 16 * (slot - 1) : 446 + 16 * slot]
        kind = entry[4]
        start, count = struct.unpack_from("<II", entry, 8)
        if kind == _GPT_PROTECTIVE:
            raise NotFoundError("GPT-partitioned media are not supported; recorders use MBR")
        if partition is not None and slot != partition:
            continue
        if kind in _FAT_PARTITION_TYPES or kind == _EXFAT_PARTITION_TYPE:
            offset, length = start * SECTOR_BYTES, count * SECTOR_BYTES
            if start == 0 or offset + length > block.size:
                raise VerificationError(f"MBR partition {slot} lies outside the medium", step="mbr")
            return SliceBlockDevice(block, offset=offset, length=length)
    which = f"partition {partition}" if partition is not None else "any MBR slot"
    raise NotFoundError(f"no FAT or exFAT file system in {which}")
