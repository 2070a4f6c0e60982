"""What FAT12/16/32 and exFAT readers share: cluster chains, extents, DOS timestamps.

Threat model: the card image is hostile input. Every cluster number is range-checked, every chain
is bounded by the cluster count (a loop cannot spin forever), directories are bounded in size and
depth, and a chain shorter than the file raises ``VerificationError`` instead of returning a short
file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Protocol

from devices.blockdev import BlockDevice, read_exact
from evidence.errors import VerificationError

MAX_DEPTH = 32  # bound DoS: directory nesting a recorder never needs
MAX_FILES = 200_000  # bound DoS: entries listed from one card
FAT_PAGE_BYTES = 64 * 1024  # FAT read and cached in pages of this size


@dataclass(frozen=True, slots=True)
class FatFile:
    """One regular file found in a FAT or exFAT directory tree."""

    components: tuple[str, ...]
    """Display names from the root down; undecodable bytes appear as U+FFFD."""
    size: int
    valid_size: int
    """exFAT ValidDataLength: bytes past it read as zeros. Equal to ``size`` on FAT."""
    mtime: datetime
    first_cluster: int
    contiguous: bool
    """exFAT NoFatChain: clusters are consecutive and the FAT is not consulted."""
    entry_offset: int
    """Byte offset of the directory entry in the volume: a stable id for this file."""


class FileSystem(Protocol):
    """A parsed FAT-family volume."""

    kind: str

    def files(self) -> Iterator[FatFile]: ...

    def extents(self, entry: FatFile) -> list[tuple[int, int]]:
        """(offset, length) byte runs on the volume holding ``entry.valid_size`` bytes."""
        ...


class ClusterHeap:
    """Cluster geometry plus a paged, cached FAT of 12, 16 or 32-bit entries."""

    def __init__(
        self,
        block: BlockDevice,
        *,
        heap_offset: int,
        cluster_bytes: int,
        cluster_count: int,
        fat_offset: int,
        fat_bits: int,
        mask: int,
        end_of_chain: int,
    ) -> None:
        self.block = block
        self.heap_offset = heap_offset
        self.cluster_bytes = cluster_bytes
        self.cluster_count = cluster_count
        self._fat_offset = fat_offset
        self._fat_bits = fat_bits
        self._mask = mask
        self._end_of_chain = end_of_chain
        self._pages: dict[int, bytes] = {}

    def valid(self, cluster: int) -> bool:
        return 2 <= cluster < self.cluster_count + 2

    def offset(self, cluster: int) -> int:
        return self.heap_offset + (cluster - 2) * self.cluster_bytes

    def _fat_bytes(self, offset: int, length: int) -> bytes:
        page, within = divmod(offset, FAT_PAGE_BYTES)
        data = self._page(page)
        if within + length > len(data):  # a FAT12 entry may straddle two pages
            data = data + self._page(page + 1)
        return data[within : within + length]

    def _page(self, page: int) -> bytes:
        cached = self._pages.get(page)
        if cached is None:
            start = self._fat_offset + page * FAT_PAGE_BYTES
            cached = self.block.pread(FAT_PAGE_BYTES, start)
            self._pages[page] = cached
        return cached

    def next_cluster(self, cluster: int) -> int | None:
        """The FAT successor of ``cluster``; ``None`` at end of chain."""
        if self._fat_bits == 12:
            raw = int.from_bytes(self._fat_bytes(cluster + cluster // 2, 2), "little")
            value = raw >> 4 if cluster & 1 else raw & 0xFFF
        else:
            width = self._fat_bits // 8
            value = int.from_bytes(self._fat_bytes(cluster * width, width), "little")
        value &= self._mask
        if value >= self._end_of_chain:
            return None
        if not self.valid(value):
            raise VerificationError(
                f"FAT entry of cluster {cluster} points to {value:#x}", step="fat"
            )
        return value

    def runs(
        self, first: int, length: int, *, contiguous: bool, what: str
    ) -> list[tuple[int, int]]:
        """Byte runs of the chain starting at ``first`` covering ``length`` bytes."""
        if length == 0:
            return []
        needed = -(-length // self.cluster_bytes)
        if not self.valid(first) or (contiguous and not self.valid(first + needed - 1)):
            raise VerificationError(f"{what}: clusters outside the volume", step="fat")
        if contiguous:
            return [(self.offset(first), length)]
        if needed > self.cluster_count:
            raise VerificationError(f"{what}: larger than the volume", step="fat")
        runs: list[tuple[int, int]] = []
        seen: set[int] = set()
        cluster: int | None = first
        for index in range(needed):
            if cluster in seen:
                raise VerificationError(f"{what}: cluster chain loops at {cluster}", step="fat")
            if cluster is None:
                raise VerificationError(
                    f"{what}: cluster chain ends after {index * self.cluster_bytes} of {length} B",
                    step="fat",
                )
            seen.add(cluster)
            start = self.offset(cluster)
            if runs and runs[-1][0] + runs[-1][1] == start:
                runs[-1] = (runs[-1][0], runs[-1][1] + self.cluster_bytes)
            else:
                runs.append((start, self.cluster_bytes))
            if index + 1 < needed:
                cluster = self.next_cluster(cluster)
        last_start, last_length = runs[-1]
        runs[-1] = (last_start, last_length - (needed * self.cluster_bytes - length))
        return runs

    def chain_runs(self, first: int, *, limit: int, what: str) -> list[tuple[int, int]]:
        """Byte runs of a whole chain whose length the directory does not state (bounded)."""
        runs: list[tuple[int, int]] = []
        cluster: int | None = first
        total = 0
        seen: set[int] = set()
        while cluster is not None:
            if not self.valid(cluster) or total >= limit or cluster in seen:
                raise VerificationError(f"{what}: cluster chain invalid or too long", step="fat")
            seen.add(cluster)
            runs.append((self.offset(cluster), self.cluster_bytes))
            total += self.cluster_bytes
            cluster = self.next_cluster(cluster)
        return runs


def read_runs(block: BlockDevice, runs: list[tuple[int, int]], *, what: str) -> bytes:
    """The bytes of ``runs``, concatenated; any short read is a ``VerificationError``."""
    return b"".join(read_exact(block, length, offset, what=what) for offset, length in runs)


def entry_offsets(runs: list[tuple[int, int]], entry_bytes: int = 32) -> list[int]:
    """Volume byte offset of each directory entry stored in ``runs``."""
    return [offset + i for offset, length in runs for i in range(0, length, entry_bytes)]


def dos_datetime(date: int, time: int, *, zone: tzinfo, centiseconds: int = 0) -> datetime:
    """A FAT/exFAT local date and time (2-second resolution) in ``zone``; epoch 1980 if invalid."""
    year, month, day = 1980 + (date >> 9), (date >> 5) & 0x0F, date & 0x1F
    hour, minute, second = time >> 11, (time >> 5) & 0x3F, (time & 0x1F) * 2
    extra_seconds, hundredths = divmod(min(centiseconds, 199), 100)
    try:
        return datetime(
            year, month, day, hour, minute, second + extra_seconds, hundredths * 10_000, tzinfo=zone
        )
    except ValueError:  # a zeroed or garbage stamp: keep the file, flag the time as the FAT epoch
        return datetime(1980, 1, 1, tzinfo=zone)


def safe_component(name: str) -> str:
    """A display name that cannot act as a path separator or traversal step."""
    cleaned = "".join("\ufffd" if ch in "/\\\x00" else ch for ch in name)
    return "\ufffd" * max(1, len(cleaned)) if cleaned in ("", ".", "..") else cleaned
