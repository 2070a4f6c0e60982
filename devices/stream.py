"""The read-only recording stream every driver hands out (DESIGN.md §3 step 2).

It turns a recorder's ``OSError`` (EIO when a recorder is unplugged mid-read, ENODEV, ...) into
``UnavailableError`` naming the file and the byte offset, and it enforces the listed size: a file
that is shorter or longer than its directory entry said raises ``ConflictError`` rather than being
hashed as if complete.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Protocol

from evidence.errors import ConflictError, UnavailableError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

STREAM_BUFFER_BYTES = 1 << 20  # 1 MiB: large sequential reads from USB mass storage


class RawSource(Protocol):
    """The minimum a volume's raw file object provides."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...

    def close(self) -> None: ...


class GuardedReader(io.RawIOBase):
    """Raw, read-only, forward-only reader of exactly ``expected_size`` bytes of ``name``."""

    def __init__(self, source: RawSource, *, name: str, expected_size: int) -> None:
        super().__init__()
        self._source = source
        self._name = name
        self._expected = expected_size
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        remaining = self._expected - self._position
        # Ask for one byte past the listed size so that a grown file is noticed, not cut silently.
        want = min(len(view), remaining + 1)
        if want == 0:
            return 0
        try:
            got = self._source.readinto(view[:want])
        except OSError as exc:
            raise UnavailableError(
                f"recorder I/O failed reading {self._name!r} at byte {self._position}: "
                f"{exc.strerror or exc}"
            ) from exc
        got = got or 0
        if got > remaining:
            raise ConflictError(
                f"{self._name!r} is longer than the {self._expected} bytes listed: it changed"
            )
        if got == 0 and remaining > 0:
            raise ConflictError(
                f"{self._name!r} ended at byte {self._position}, listed as {self._expected} bytes"
            )
        self._position += got
        return got

    def close(self) -> None:
        if not self.closed:
            try:
                self._source.close()
            finally:
                super().close()


def guarded_stream(source: RawSource, *, name: str, expected_size: int) -> io.BufferedReader:
    """Wrap ``source`` in a buffered ``GuardedReader`` (supports ``read`` and ``readinto``)."""
    raw = GuardedReader(source, name=name, expected_size=expected_size)
    return io.BufferedReader(raw, buffer_size=STREAM_BUFFER_BYTES)
