"""File and stream helpers shared by the object stores (DESIGN.md §5).

- ``write_replace``: temp + fsync + ``os.replace`` + fsync of the directory, for local spool files
  that may be rewritten (the S3 upload state file).
- ``write_new``: temp + fsync + chmod + ``os.link``: creates ``path`` once, never overwrites it
  (``FileExistsError`` when it is already there). The local store's objects and sidecars, 0400.
- ``mkdir_private``: folders created owner-only (0700), every missing parent included.
- ``verified_reader``: wraps a byte source so that reading it to the end checks size and SHA-256
  and raises ``VerificationError`` on a mismatch, so a reader never silently consumes other bytes
  than the ones recorded.
- ``whole_seconds``: retain-until dates rounded *up* to whole seconds in UTC: S3 headers and RGW
  keep seconds only on some paths, and rounding up never shortens a requested retention.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from evidence.errors import VerificationError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

READ_BUFFER_BYTES = 1 << 20  # 1 MiB, as integrity.hashing.CHUNK_BYTES


def whole_seconds(when: datetime) -> datetime:
    """``when`` in UTC, rounded up to the next whole second; naive datetimes are refused."""
    if when.tzinfo is None:
        raise ValueError(f"retain-until {when!r} has no timezone; pass an aware UTC datetime")
    utc = when.astimezone(UTC)
    if utc.microsecond:
        utc = utc.replace(microsecond=0) + timedelta(seconds=1)
    return utc


def fsync_dir(path: Path) -> None:
    """Make a directory entry change (link, rename) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_beside(path: Path) -> Path:
    # Same directory as the target, so link/rename stay on one filesystem.
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


def write_replace(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, replacing any previous content."""
    tmp = _temp_beside(path)
    try:
        with tmp.open("xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


PRIVATE_DIR_MODE = 0o700  # evidence is nobody else's business on a shared host
READ_ONLY_MODE = 0o400  # write-once files: the owner reads them, nobody writes, nobody else reads


def mkdir_private(path: Path) -> Path:
    """Create ``path`` and each missing parent with mode 0700 (``Path.mkdir(parents=True)``
    gives the parents the umask's default, usually 0755). Existing folders are left as they
    are."""
    missing: list[Path] = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another writer made it meanwhile
            folder.mkdir(mode=PRIVATE_DIR_MODE)
    return path


def write_new(path: Path, fill: Callable[[BinaryIO], None], *,
              mode: int = READ_ONLY_MODE) -> Path:
    """Create ``path`` once: ``fill`` writes a temp file beside it, which is fsynced, given
    ``mode`` and hard-linked to ``path``. Raises ``FileExistsError`` (after removing the temp
    file) when ``path`` already exists: nothing is ever overwritten."""
    tmp = _temp_beside(path)
    try:
        with tmp.open("xb") as fh:
            fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.chmod(mode)
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return path


class _VerifyingRaw(io.RawIOBase):
    """A raw stream over ``read(n)`` that hashes what passes and checks it at end of stream."""

    def __init__(self, read: Callable[[int], bytes], close: Callable[[], None], *,
                 sha256: str, size: int, what: str) -> None:
        super().__init__()
        self._read = read
        self._close = close
        self._expected_sha256 = sha256
        self._expected_size = size
        self._what = what
        self._digest = hashlib.sha256()
        self._seen = 0
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._read(len(view))
        n = len(data)
        if n == 0:
            self._check()
            return 0
        view[:n] = data
        self._digest.update(data)
        self._seen += n
        if self._seen > self._expected_size:
            self._check()
        return n

    def _check(self) -> None:
        if self._checked:
            return
        self._checked = True
        got = self._digest.hexdigest()
        if self._seen != self._expected_size or got != self._expected_sha256:
            raise VerificationError(
                f"{self._what}: read {self._seen} bytes with SHA-256 {got}, recorded "
                f"{self._expected_size} bytes with SHA-256 {self._expected_sha256}",
                step="store.read")

    def close(self) -> None:
        if not self.closed:
            try:
                self._close()
            finally:
                super().close()


def verified_reader(read: Callable[[int], bytes], close: Callable[[], None], *, sha256: str,
                    size: int, what: str) -> BinaryIO:
    """A buffered binary stream over ``read``; reading to the end raises ``VerificationError``
    when the bytes are not ``size`` bytes with SHA-256 ``sha256``. Closing it calls ``close``."""
    raw = _VerifyingRaw(read, close, sha256=sha256, size=size, what=what)
    return io.BufferedReader(raw, buffer_size=READ_BUFFER_BYTES)
