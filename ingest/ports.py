"""The interfaces the station's use cases own (STYLE.md §2); storage/ and devices/ satisfy them and
only api/'s composition root names the concrete classes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar

from evidence.ids import Sha256Hex
from evidence.records import (
    Assignment,
    DockReport,
    FileRow,
    LedgerEntry,
    ObjectVersion,
    StoredObject,
)


class BlobStore(Protocol):
    """Write-once object storage (DESIGN.md §5). Implementations never overwrite, never delete,
    and check for themselves what the server promises.

    - ``put`` uploads ``source`` under ``key`` with retention until ``retain_until`` and returns
      only after the exact stored version was verified (size, checksum, lock). Putting a key that
      already holds the same SHA-256 returns that object (idempotent resume); a key holding other
      bytes raises ConflictError.
    - ``verify`` re-checks a stored version (HEAD: size, lock mode/date; re-applies a missing
      lock), and with ``rehash`` reads it back and recomputes SHA-256; VerificationError if it
      does not match, NotFoundError if the version is gone.
    - ``open`` reads one exact version.
    - ``extend_retention`` moves retain-until later (never earlier); ``set_legal_hold`` toggles
      a legal hold.
    Outages raise UnavailableError (retry); policy problems (a bucket without Object Lock)
    raise PolicyViolationError at construction.
    """

    url: str

    def put(self, key: str, source: Path, *, sha256: Sha256Hex, size: int,
            retain_until: datetime) -> StoredObject: ...

    def verify(self, obj: StoredObject, *, rehash: bool = False) -> StoredObject: ...

    def open(self, obj: StoredObject) -> BinaryIO: ...

    def extend_retention(self, obj: StoredObject, retain_until: datetime) -> StoredObject: ...

    def set_legal_hold(self, obj: StoredObject, on: bool) -> None: ...

    def inventory(self) -> Iterator[ObjectVersion]:
        """Every version and delete marker the store holds under its prefix, as the store
        itself lists them (never the bytes): the fixity audit compares this with the ledger to
        find delete markers and versions nobody recorded."""
        ...


class IngestRepo(Protocol):
    """Persistent ingest state and the device registry (mutable bookkeeping, not evidence)."""

    def discover(self, *, serial: str, path: str, raw_path: bytes, size: int,
                 device_mtime: datetime) -> FileRow:
        """The row for this file (serial, name bytes, size, mtime), created ``discovered`` if
        new. ``raw_path`` identifies the file when given; else the UTF-8 of ``path``."""
        ...

    def save(self, row: FileRow) -> FileRow: ...

    def note_error(self, row_id: int, error: str) -> None:
        """Count a failed attempt on the row as it is now stored (its state is left alone)."""
        ...

    def reload(self, row_id: int) -> FileRow: ...

    def files(self, serial: str) -> list[FileRow]: ...

    def media_pending(self) -> list[FileRow]:
        """Verified originals that have not been through the media stage."""
        ...

    def set_media(self, sha256: str, state: str, note: str | None) -> None:
        """Record the media stage's outcome for every row holding this content."""
        ...

    def waiting_for_storage(self) -> list[FileRow]:
        """Rows at ``committed`` or ``stored`` whose last attempt failed (the upload queue)."""
        ...

    def by_sha256(self, sha256: str) -> list[FileRow]: ...

    def assignment(self, serial: str) -> Assignment | None: ...

    def assign(self, assignment: Assignment) -> None: ...


class RecordingInfo(Protocol):
    @property
    def path(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def device_mtime(self) -> datetime: ...

    @property
    def raw_path(self) -> bytes:
        """The name's bytes as the device stores them, when the driver knows them (else b"")."""
        ...


R = TypeVar("R", bound=RecordingInfo)


class Readable(Protocol):
    def readinto(self, buffer: bytearray | memoryview, /) -> int | None: ...

    def close(self) -> None: ...


class OfficerInfo(Protocol):
    @property
    def officer_no(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def unit_no(self) -> str: ...

    @property
    def unit_name(self) -> str: ...


class DeviceInfo(Protocol):
    @property
    def serial(self) -> str: ...

    @property
    def id_code(self) -> str: ...

    @property
    def officer(self) -> OfficerInfo | None: ...


class Recorder(Protocol[R]):
    """What the station needs from a docked recorder; devices/ drivers satisfy it."""

    def identify(self) -> DeviceInfo: ...

    def officer_info(self, password: bytes) -> DeviceInfo: ...

    def read_clock(self) -> datetime: ...

    def sync_clock(self, password: bytes, now: datetime) -> None: ...

    def enable_mass_storage(self, password: bytes) -> None: ...

    def list_recordings(self) -> list[R]: ...

    def open_recording(self, recording: R) -> Readable: ...

    def release(self, recording: R) -> None: ...


class LedgerLookup(Protocol):
    def find(self, subject: str) -> list[LedgerEntry]: ...


class Progress(Protocol):
    """Live progress of docks; the CLI renders it (terminal bars or log lines)."""

    def dock_started(self, serial: str, *, files: int, total_bytes: int) -> None: ...

    def advanced(self, serial: str, nbytes: int) -> None: ...

    def file_done(self, serial: str, path: str, state: str, note: str = "") -> None: ...

    def dock_finished(self, serial: str, *, ok: bool, summary: str) -> None: ...

    def media(self, sha256: str, action: str, *, done_ms: int, total_ms: int) -> None:
        """ffmpeg's position (``-progress pipe:1``) while a playback copy is derived."""
        ...


class StationBoard(Protocol):
    """Where a station reports to the bureau (the 采集站 dashboard): a heartbeat with its disk,
    and each dock's progress. Writes are best effort: the board never stops a dock."""

    def heartbeat(self, station: str, *, at: datetime, free_bytes: int, total_bytes: int,
                  docking: int) -> None: ...

    def dock(self, report: DockReport) -> None:
        """Insert or update the station's current dock of ``report.serial``."""
        ...


class DockedRecorder(Protocol):
    """A recorder on a dock port, identified and ready to be read (devices/docking.py)."""

    @property
    def serial(self) -> str: ...

    @property
    def port(self) -> str: ...

    @property
    def driver(self) -> Recorder[Any]: ...


class DockSource(Protocol):
    """The recorders docked since the last poll; serials of recorders no transport supports."""

    unsupported: set[str]

    def poll(self) -> Sequence[DockedRecorder]: ...


class DeviceEvents(Protocol):
    """Hot-plug events (udev): a poll returns early when a device arrives."""

    def poll(self, timeout_s: float) -> Sequence[object]: ...
