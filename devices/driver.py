"""The recorder driver interface the station consumes (DESIGN.md §6, §3 steps 1-2).

Station sequence (DESIGN.md §6): ``identify`` → ``officer_info`` (password) → ``read_clock`` (record
the offset *before* syncing) → ``sync_clock`` → ``enable_mass_storage`` → ``list_recordings`` →
``open_recording`` per file → ``release`` only when policy says so.

Threat model: everything a recorder says is untrusted input. ``Recording.path`` is for display and
the ledger only: never join it into a host path (stage under a content-derived name, §3 step 1).
A driver finds a file again by ``file_id`` and ``raw_path``, refuses symlinks and special files,
and rechecks identity and size when it opens one.

Errors (STYLE.md §3), the same for every driver:

- ``UnavailableError``: the recorder is gone or failing (unplugged, I/O error, connect failed);
  retry after re-docking. Mid-read failures name the file and the byte offset.
- ``PolicyViolationError``: wrong password, unsafe file (symlink, FIFO, outside the root),
  an operation the driver refuses (deleting from a read-only image).
- ``ConflictError``: the file changed between listing and reading (size, identity).
- ``NotFoundError``: the file or capability does not exist (no GA/T 947.4 session on a bare disk).
- ``VerificationError``: the recorder's own structures are malformed (FAT chain, ZFY_INFO bytes).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

from evidence.errors import PolicyViolationError
from evidence.records import Device

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
"""Recorders keep wall-clock time; China has one zone and no DST, so a fixed offset is exact."""

PASSWORD_BYTES = 6  # GA/T 947.4: the recorder password is 6 bytes


@dataclass(frozen=True, slots=True)
class Recording:
    """One file on a recorder, as its driver listed it.

    ``path`` is '/'-joined, relative to the volume root, as the device names it: untrusted, for
    display and the ledger only. ``file_id`` and ``raw_path`` are driver-private: how the same
    driver finds the file again (inode or directory-entry offset; the name's bytes as stored).
    """

    path: str
    size: int
    """Bytes, as the device's directory says."""
    device_mtime: datetime
    """Last modification by the recorder's own (drifting) clock, UTC-aware; not corrected."""
    file_id: int
    raw_path: bytes = b""


@runtime_checkable
class RecorderDriver(Protocol):
    """What the station needs from one docked recorder (DESIGN.md §6)."""

    def identify(self) -> Device:
        """Serial and GA/T 947.4 5-character ``id_code``; ``officer`` is ``None`` here."""
        ...

    def officer_info(self, password: bytes) -> Device:
        """ZFY_INFO: the device serial as the recorder states it, with its ``Officer``."""
        ...

    def read_clock(self) -> datetime:
        """The recorder's clock now, UTC-aware; read it before ``sync_clock`` (the offset)."""
        ...

    def sync_clock(self, password: bytes, now: datetime) -> None:
        """Set the recorder's clock to ``now`` (UTC-aware)."""
        ...

    def enable_mass_storage(self, password: bytes) -> None:
        """Switch the recorder to USB mass storage (SetMSDC); a no-op where it already is."""
        ...

    def list_recordings(self) -> list[Recording]:
        """Every regular file on the recorder's storage, in a stable order."""
        ...

    def open_recording(self, recording: Recording) -> io.BufferedIOBase:
        """A read-only, forward-only binary stream of exactly ``recording.size`` bytes.

        It supports ``read`` and ``readinto``; an I/O failure mid-read raises
        ``UnavailableError`` naming the file, a size change raises ``ConflictError``.
        """
        ...

    def release(self, recording: Recording) -> None:
        """Delete the file from the recorder. Only when policy says so (DESIGN.md §3 step 7)."""
        ...


def check_password(password: bytes) -> bytes:
    """Return ``password`` if it is exactly 6 bytes, else raise ``PolicyViolationError``."""
    if not isinstance(password, bytes) or len(password) != PASSWORD_BYTES:
        raise PolicyViolationError(f"a recorder password is exactly {PASSWORD_BYTES} bytes")
    return password


def require_aware(moment: datetime, what: str) -> datetime:
    """Return ``moment`` in UTC; a naive datetime is refused (its zone would be a guess)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise PolicyViolationError(f"{what} must be timezone-aware")
    return moment.astimezone(UTC)
