"""Read-only exFAT without mounting (Microsoft "exFAT file system specification", §3, §6, §7).

Cards larger than 32 GB come formatted exFAT. Only what reading needs is parsed: the boot sector
(§3.1), the active FAT (§4), and File / Stream Extension / File Name directory entry sets (§7.4-7.7)
whose SetChecksum (§6.3.3) must verify; the allocation bitmap and up-case table are not needed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import timedelta, timezone, tzinfo

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

MAX_DIRECTORY_BYTES = 8 << 20  # bound DoS: 262,144 entries; the spec allows 256 MiB
_FILE = 0x85
_STREAM = 0xC0
_NAME = 0xC1
_IN_USE = 0x80
_ATTR_DIRECTORY = 0x10
_NO_FAT_CHAIN = 0x02
_NAME_CHARS_PER_ENTRY = 15


def entry_set_checksum(entries: bytes) -> int:
    """§6.3.3 SetChecksum over a whole entry set, skipping the checksum field itself."""
    total = 0
    for index, byte in enumerate(entries):
        if index in (2, 3):
            continue
        total = ((((total & 1) << 15) | (total >> 1)) + byte) & 0xFFFF
    return total


def utc_offset_zone(field: int, default: tzinfo) -> tzinfo:
    """§7.4.10 UtcOffset: bit 7 says valid; bits 0-6 are signed 15-minute steps."""
    if not field & 0x80:
        return default
    steps = field & 0x7F
    steps = steps - 0x80 if steps & 0x40 else steps
    return timezone(timedelta(minutes=15 * steps))


class ExfatVolume:
    """An exFAT file system on ``block``."""

    kind = "exFAT"

    def __init__(self, block: BlockDevice, *, zone: tzinfo = CHINA_STANDARD_TIME) -> None:
        self._block = block
        self._zone = zone
        boot = read_exact(block, 512, 0, what="exFAT boot sector")
        if boot[3:11] != b"EXFAT   " or boot[510:512] != b"\x55\xaa":
            raise VerificationError("not an exFAT boot sector", step="exfat")
        volume_sectors, fat_offset, fat_length, heap_offset, clusters, root = struct.unpack_from(
            "<QIIIII", boot, 72
        )
        flags, bps_shift, spc_shift, fats = struct.unpack_from("<HBBB", boot, 106)
        if not (9 <= bps_shift <= 12 and bps_shift + spc_shift <= 25 and fats in (1, 2)):
            raise VerificationError("exFAT boot sector geometry is invalid", step="exfat")
        sector = 1 << bps_shift
        if volume_sectors * sector > block.size:
            raise VerificationError("exFAT volume is larger than its medium", step="exfat")
        active_fat = 1 if (flags & 1 and fats == 2) else 0
        self._heap = ClusterHeap(
            block,
            heap_offset=heap_offset * sector,
            cluster_bytes=sector << spc_shift,
            cluster_count=clusters,
            fat_offset=(fat_offset + active_fat * fat_length) * sector,
            fat_bits=32,
            mask=0xFFFFFFFF,
            end_of_chain=0xFFFFFFF8,
        )
        self._root_runs = self._heap.chain_runs(
            root, limit=MAX_DIRECTORY_BYTES, what="root directory"
        )

    def files(self) -> Iterator[FatFile]:
        """Every regular file, depth first, in directory order."""
        yield from self._walk(self._root_runs, (), depth=0, seen=set(), count=[0])

    def extents(self, entry: FatFile) -> list[tuple[int, int]]:
        return self._heap.runs(
            entry.first_cluster,
            entry.valid_size,
            contiguous=entry.contiguous,
            what="/".join(entry.components),
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
        offsets = entry_offsets(runs)
        index = 0
        total = len(data) // 32
        while index < total:
            kind = data[index * 32]
            if kind == 0x00:
                break
            if kind != _FILE:  # bitmap, up-case, label, GUID, unused or orphan secondaries
                index += 1
                continue
            secondaries = data[index * 32 + 1]
            if secondaries < 2 or index + secondaries >= total:
                raise VerificationError(
                    f"entry set at {offsets[index]:#x} is truncated", step="exfat"
                )
            entry_set = data[index * 32 : (index + 1 + secondaries) * 32]
            if entry_set_checksum(entry_set) != struct.unpack_from("<H", entry_set, 2)[0]:
                raise VerificationError(
                    f"entry set at {offsets[index]:#x}: bad SetChecksum", step="exfat"
                )
            found = self._parse_set(entry_set, parents, offsets[index])
            index += 1 + secondaries
            if isinstance(found, tuple):
                path, sub_runs, cluster = found
                if depth + 1 > MAX_DEPTH or cluster in seen:
                    raise VerificationError(
                        f"directory {'/'.join(path)!r} loops or nests too deep", step="exfat"
                    )
                seen.add(cluster)
                yield from self._walk(sub_runs, path, depth=depth + 1, seen=seen, count=count)
                continue
            count[0] += 1
            if count[0] > MAX_FILES:
                raise VerificationError(f"more than {MAX_FILES} files on one card", step="exfat")
            yield found

    def _parse_set(
        self, entry_set: bytes, parents: tuple[str, ...], offset: int
    ) -> FatFile | tuple[tuple[str, ...], list[tuple[int, int]], int]:
        """A file, or a directory as (path, runs, first cluster)."""
        attributes, modified = struct.unpack_from("<H6xI", entry_set, 4)
        centiseconds, utc_field = entry_set[21], entry_set[23]
        stream = entry_set[32:64]
        if stream[0] != _STREAM:
            raise VerificationError(
                f"entry set at {offset:#x} lacks its stream extension", step="exfat"
            )
        flags, name_length = stream[1], stream[3]
        valid_length, first_cluster, data_length = struct.unpack_from("<Q4xIQ", stream, 8)
        name_units = b"".join(
            entry_set[start + 2 : start + 32]
            for start in range(64, len(entry_set), 32)
            if entry_set[start] == _NAME
        )
        if len(name_units) < name_length * 2 or name_length == 0:
            raise VerificationError(f"entry set at {offset:#x}: name is truncated", step="exfat")
        name = name_units[: name_length * 2].decode("utf-16-le", errors="replace")
        path = (*parents, safe_component(name))
        contiguous = bool(flags & _NO_FAT_CHAIN)
        if attributes & _ATTR_DIRECTORY:
            if data_length > MAX_DIRECTORY_BYTES:
                raise VerificationError(
                    f"directory {'/'.join(path)!r} exceeds the bound", step="exfat"
                )
            sub_runs = self._heap.runs(
                first_cluster, data_length, contiguous=contiguous, what="/".join(path)
            )
            return path, sub_runs, first_cluster
        zone = utc_offset_zone(utc_field, self._zone)
        return FatFile(
            components=path,
            size=data_length,
            valid_size=min(valid_length, data_length),
            mtime=dos_datetime(
                modified >> 16, modified & 0xFFFF, zone=zone, centiseconds=centiseconds
            ),
            first_cluster=first_cluster,
            contiguous=contiguous,
            entry_offset=offset,
        )
