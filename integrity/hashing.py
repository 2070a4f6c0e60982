"""Streaming SHA-256 over a stream the caller hands in (the core never opens files)."""

from __future__ import annotations

import hashlib
from typing import Protocol

from evidence.ids import Sha256Hex

CHUNK_BYTES = 1 << 20  # 1 MiB: large enough to amortise call overhead, small enough for cache


class Readable(Protocol):
    def readinto(self, buffer: bytearray | memoryview, /) -> int | None: ...


def sha256_stream(stream: Readable, *, chunk_bytes: int = CHUNK_BYTES) -> tuple[Sha256Hex, int]:
    """SHA-256 and byte count of everything left in ``stream``, read in ``chunk_bytes`` pieces
    into one reused buffer (no per-chunk allocation)."""
    digest = hashlib.sha256()
    buffer = bytearray(chunk_bytes)
    view = memoryview(buffer)
    total = 0
    while True:
        n = stream.readinto(view)
        if not n:
            break
        digest.update(view[:n])
        total += n
    return Sha256Hex(digest.hexdigest()), total
