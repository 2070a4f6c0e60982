"""Read-only FAT12/16/32 without mounting (Microsoft FAT specification, "fatgen103").

Names: a long file name (VFAT, UTF-16) is used when its entries are complete and their checksum
matches the short entry, as Windows does; otherwise the 8.3 short name, decoded with the OEM code
page. Recorders sold in China write short names in GBK (code page 936), so that is the default —
a recorder's firmware without long-name support writes ``执法记录.MP4`` only there.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import tzinfo

from devices.blockdev import BlockDevice, read_exact
from devices.driver import CHINA_STANDARD_TIME
from devices.fatcommon import (
    MAX_DEPTH,
    MAX_FILES,
    ClusterHeap,
    FatFile,
    dos_datetime,
    entry_offsets,
    read_runs,
    safe_component,
)
from evidence.errors import VerificationError

MAX_DIRECTORY_BYTES = 65536 * 32  # the FAT spec's limit: 65,536 entries per directory
_ATTR_VOLUME_ID = 0x08
_ATTR_DIRECTORY = 0x10
_ATTR_LONG_NAME = 0x0F
_NT_LOWER_BASE = 0x08
_NT_LOWER_EXT = 0x10
_DELETED = 0xE5
_KANJI_E5 = 0x05  # a first byte 0xE5 (common in GBK) is stored as 0x05


def short_name_checksum(name11: bytes) -> int:
    """The checksum a long-name entry carries of its 11-byte short name."""
    total = 0
    for byte in name11:
        total = (((total & 1) << 7) + (total >> 1) + byte) & 0xFF
    return total


def decode_short_name(name11: bytes, nt_flags: int, encoding: str) -> str:
    """``BASE.EXT`` from the 11 stored bytes, honouring the NT lower-case flags."""
    if name11[0] == _KANJI_E5:
        name11 = b"\xe5" + name11[1:]
    base = name11[:8].rstrip(b" ").decode(encoding, errors="replace")
    ext = name11[8:].rstrip(b" ").decode(encoding, errors="replace")

    # Lower-case ASCII only: GBK trail bytes include 0x41-0x5A, so never lower the bytes.
    def lower(text: str) -> str:
        return "".join(ch.lower() if ch.isascii() else ch for ch in text)

    if nt_flags & _NT_LOWER_BASE:
        base = lower(base)
    if nt_flags & _NT_LOWER_EXT:
        ext = lower(ext)
    return f"{base}.{ext}" if ext else base


class _LongName:
    """Collects VFAT long-name entries, which precede their short entry in reverse order."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._parts: list[bytes] = []
        self._expected = 0
        self._checksum = -1

    def add(self, entry: bytes) -> None:
        order = entry[0] & 0x3F
        if entry[0] & 0x40:
            self._parts, self._expected, self._checksum = [], order, entry[13]
        if order == 0 or order != self._expected or entry[13] != self._checksum:
            self.reset()
            return
        self._parts.insert(0, entry[1:11] + entry[14:26] + entry[28:32])
        self._expected -= 1

    def take(self, name11: bytes) -> str | None:
        """The long name for the short entry ``name11``, if complete and matching."""
        complete = bool(self._parts) and self._expected == 0
        matches = self._checksum == short_name_checksum(name11)
        units = b"".join(self._parts)
        self.reset()
        if not (complete and matches):
            return None
        for end in range(0, len(units), 2):
            if units[end : end + 2] == b"\x00\x00":
                units = units[:end]
                break
        return units.decode("utf-16-le", errors="replace") or None


class FatVolume:
    """A FAT12, FAT16 or FAT32 file system on ``block``."""

    def __init__(
        self, block: BlockDevice, *, oem_encoding: str = "gbk", zone: tzinfo = CHINA_STANDARD_TIME
    ) -> None:
        self._block = block
        self._encoding = oem_encoding
        self._zone = zone
        boot = read_exact(block, 512, 0, what="FAT boot sector")
        (bps, spc, reserved, fats, root_entries, total16, _media, fat16) = struct.unpack_from(
            "<HBHBHHBH", boot, 11
        )
        total32, fat32, root_cluster = struct.unpack_from("<II4xI", boot, 32)
        total = total16 or total32
        fat_sectors = fat16 or fat32
        if (
            bps not in (512, 1024, 2048, 4096)
            or spc not in (1, 2, 4, 8, 16, 32, 64, 128)
            or reserved == 0
            or fats == 0
            or fat_sectors == 0
            or total == 0
        ):
            raise VerificationError("not a valid FAT boot sector", step="fat")
        if total * bps > block.size:
            raise VerificationError(
                "FAT volume is larger than its medium (truncated image?)", step="fat"
            )
        root_dir_sectors = (root_entries * 32 + bps - 1) // bps
        fat_start = reserved * bps
        root_start = (reserved + fats * fat_sectors) * bps
        data_sector = reserved + fats * fat_sectors + root_dir_sectors
        clusters = (total - data_sector) // spc
        if clusters < 4085:
            bits, mask, eoc = 12, 0xFFF, 0xFF8
        elif clusters < 65525:
            bits, mask, eoc = 16, 0xFFFF, 0xFFF8
        else:
            bits, mask, eoc = 32, 0x0FFFFFFF, 0x0FFFFFF8
        self.kind = f"FAT{bits}"
        self._heap = ClusterHeap(
            block,
            heap_offset=data_sector * bps,
            cluster_bytes=bps * spc,
            cluster_count=clusters,
            fat_offset=fat_start,
            fat_bits=bits,
            mask=mask,
            end_of_chain=eoc,
        )
        if bits == 32:
            self._root_runs = self._heap.chain_runs(
                root_cluster, limit=MAX_DIRECTORY_BYTES, what="root directory"
            )
        else:
            self._root_runs = [(root_start, root_dir_sectors * bps)]

    def files(self) -> Iterator[FatFile]:
        """Every regular file, depth first, in directory order."""
        yield from self._walk(self._root_runs, (), depth=0, seen=set(), count=[0])

    def extents(self, entry: FatFile) -> list[tuple[int, int]]:
        return self._heap.runs(
            entry.first_cluster, entry.size, contiguous=False, what="/".join(entry.components)
        )

    def _walk(
        self,
        runs: list[tuple[int, int]],
        parents: tuple[str, ...],
        *,
        depth: int,
        seen: set[int],
        count: list[int],
    ) -> Iterator[FatFile]:
        where = "/".join(parents) or "/"
        data = read_runs(self._block, runs, what=f"directory {where}")
        long_name = _LongName()
        for offset, index in zip(entry_offsets(runs), range(0, len(data), 32), strict=True):
            entry = data[index : index + 32]
            if entry[0] == 0x00:
                break
            if entry[0] == _DELETED:
                long_name.reset()
                continue
            attr = entry[11]
            if attr & 0x3F == _ATTR_LONG_NAME:
                long_name.add(entry)
                continue
            name11 = entry[:11]
            name = long_name.take(name11) or decode_short_name(name11, entry[12], self._encoding)
            if attr & _ATTR_VOLUME_ID or name11 in (b".          ", b"..         "):
                continue
            hi, mtime, mdate, lo, size = struct.unpack_from("<H HH H I", entry, 20)
            cluster = (hi << 16 | lo) if self.kind == "FAT32" else lo
            path = (*parents, safe_component(name))
            if attr & _ATTR_DIRECTORY:
                if depth + 1 > MAX_DEPTH or cluster in seen or not self._heap.valid(cluster):
                    raise VerificationError(
                        f"directory {'/'.join(path)!r} loops or nests too deep", step="fat"
                    )
                seen.add(cluster)
                sub = self._heap.chain_runs(cluster, limit=MAX_DIRECTORY_BYTES, what="/".join(path))
                yield from self._walk(sub, path, depth=depth + 1, seen=seen, count=count)
                continue
            count[0] += 1
            if count[0] > MAX_FILES:
                raise VerificationError(f"more than {MAX_FILES} files on one card", step="fat")
            yield FatFile(
                components=path,
                size=size,
                valid_size=size,
                mtime=dos_datetime(mdate, mtime, zone=self._zone),
                first_cluster=cluster,
                contiguous=False,
                entry_offset=offset,
            )
