"""Streaming digests over a stream the caller hands in (the core never opens files): SHA-256 and
SM3 (GB/T 32905) of the same bytes in ONE read pass (DESIGN.md §4, 国密 layer).

SM3 is about 3× slower than SHA-256 here (OpenSSL 3.0: ≈375 MB/s against ≈1.15 GB/s per
core), so :func:`digest_stream` runs SM3 on a second thread over the very buffers the reader
filled, while the caller's thread reads, hashes SHA-256 and hands each chunk on (to staging,
say). hashlib releases the GIL on updates over 2 KiB, so the two digests overlap; the slower one
(SM3) bounds the pass (bench/guomi_hash.py measures the ratio).

Buffer ownership (the one concurrency rule here): :data:`BUFFERS` buffers circulate through two
queues. The reader takes a *free* buffer, fills it, hashes it, passes it to ``on_chunk`` and
queues it for SM3; the SM3 thread hashes it and only then returns it to the free queue. A buffer
is never refilled while SM3 still reads it, and the reader blocks (never overwrites, never
allocates) when SM3 falls :data:`BUFFERS` chunks behind.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from evidence.ids import Sha256Hex, Sm3Hex

if TYPE_CHECKING:
    from hashlib import _Hash as Hash
else:
    Hash = object

CHUNK_BYTES = 1 << 20  # 1 MiB: large enough to amortise call overhead, small enough for cache
BUFFERS = 4  # chunks in flight between the reader and the SM3 thread (4 MiB at the default)


class Readable(Protocol):
    def readinto(self, buffer: bytearray | memoryview, /) -> int | None: ...


def new_sm3() -> Hash:
    """A fresh SM3 hash object: hashlib on the system OpenSSL, the fastest of the candidates
    measured here (bench/guomi_hash.py: hashlib ≈ ``cryptography``'s ``hashes.SM3`` ≈ 375 MB/s,
    gmalglib's ``SM3`` ≈ 175 MB/s and it holds the GIL). The one place liuhen names SM3."""
    return hashlib.new("sm3")


def sm3_hex(data: bytes) -> Sm3Hex:
    """SM3 of ``data`` as lowercase hex."""
    h = new_sm3()
    h.update(data)
    return Sm3Hex(h.hexdigest())


@dataclass(frozen=True, slots=True)
class Digests:
    """The identity of some bytes: both digests and the byte count, from one read pass."""

    sha256: Sha256Hex
    sm3: Sm3Hex
    size: int


def digest_stream(stream: Readable, *, chunk_bytes: int = CHUNK_BYTES,
                  on_chunk: Callable[[memoryview], None] | None = None) -> Digests:
    """SHA-256, SM3 and byte count of everything left in ``stream``, in one read pass of
    ``chunk_bytes`` pieces (module docstring: SM3 on a second thread, :data:`BUFFERS` reused
    buffers, no per-chunk allocation).

    ``on_chunk`` sees each chunk in order on the caller's thread, after SHA-256 and before SM3
    may finish with it: it must not keep the view. An exception from ``stream`` or ``on_chunk``
    stops the SM3 thread and propagates; no digest is returned then.
    """
    sha = hashlib.sha256()
    sm3 = new_sm3()
    free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
    for _ in range(BUFFERS):
        free.put(bytearray(chunk_bytes))
    work: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()

    failed: list[BaseException] = []

    def sm3_worker() -> None:
        while (item := work.get()) is not None:
            buf, n = item
            if not failed:  # after a failure, keep handing buffers back: the reader never hangs
                try:
                    with memoryview(buf) as view:
                        sm3.update(view[:n])
                except BaseException as exc:  # re-raised on the reader's thread
                    failed.append(exc)
            free.put(buf)  # only now may the reader fill it again

    worker = threading.Thread(target=sm3_worker, name="liuhen-sm3", daemon=True)
    worker.start()
    total = 0
    try:
        while True:
            buf = free.get()  # blocks while SM3 holds every buffer
            with memoryview(buf) as view:
                n = stream.readinto(view)
                if not n:
                    break
                chunk = view[:n]
                sha.update(chunk)
                if on_chunk is not None:
                    on_chunk(chunk)
            work.put((buf, n))
            total += n
    finally:
        work.put(None)
        worker.join()
    if failed:
        raise failed[0]
    return Digests(sha256=Sha256Hex(sha.hexdigest()), sm3=Sm3Hex(sm3.hexdigest()), size=total)


__all__ = ["BUFFERS", "CHUNK_BYTES", "Digests", "Hash", "Readable", "digest_stream", "new_sm3",
           "sm3_hex"]
