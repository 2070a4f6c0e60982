"""``IngestRepo`` on SQLAlchemy: the station's per-file state and device registry, in the same
database as the ledger (one file for the embedded default, one PostgreSQL database for a bureau).

Rows are saved one transition at a time, each in its own short transaction: the state machine
of ``ingest.station`` relies on a saved state being durable before the next step starts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import ColumnElement, Engine, Table, insert, select, update
from sqlalchemy.exc import IntegrityError as SqlUniqueError

from evidence.errors import NotFoundError
from evidence.ids import Sha256Hex, Sm3Hex
from evidence.records import Assignment, FileRow, FileState, StoredObject
from storage.dberrors import translate_errors
from storage.ingest_tables import DeviceRow, IngestFileRow

_FILES = cast(Table, IngestFileRow.__table__)
_DEVICES = cast(Table, DeviceRow.__table__)
_F = _FILES.c
_D = _DEVICES.c


def _utc(moment: datetime) -> datetime:
    # SQLite hands timestamps back naive; they were written in UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _path_bytes(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


class SqlIngestRepo:
    """The station's ingest state on ``engine``; ``clock`` (aware UTC now) stamps each row's
    ``updated_at`` and a device's ``assigned_at``."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    def _row(self, r: IngestFileRow) -> FileRow:
        obj = None
        if r.version_id is not None and r.retain_until is not None:
            obj = StoredObject(store=r.store_url or "", key=r.object_key or "",
                               version_id=r.version_id, size=r.object_size or 0,
                               sha256=Sha256Hex(r.sha256 or ""), lock_mode=r.lock_mode or "",
                               retain_until=_utc(r.retain_until))
        return FileRow(id=r.id, serial=r.serial, path=r.path, raw_path=r.path_bytes,
                       size=r.size, device_mtime=_utc(r.device_mtime), state=FileState(r.state),
                       sha256=Sha256Hex(r.sha256) if r.sha256 else None,
                       acquired_index=r.acquired_index, object=obj,
                       stored_index=r.stored_index, quarantine_reason=r.quarantine_reason,
                       attempts=r.attempts, last_error=r.last_error,
                       sm3=Sm3Hex(r.sm3) if r.sm3 else None)

    def _select(self, where: ColumnElement[bool] | None = None) -> list[FileRow]:
        """Rows matching ``where`` (all rows without it), in discovery order."""
        query = select(_FILES).order_by(_F.id)
        if where is not None:
            query = query.where(where)
        with translate_errors("read ingest state"), self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [self._row(IngestFileRow(**r._mapping)) for r in rows]

    def _select_one(self, where: ColumnElement[bool]) -> FileRow | None:
        found = self._select(where)
        return found[0] if found else None

    def discover(self, *, serial: str, path: str, raw_path: bytes, size: int,
                 device_mtime: datetime) -> FileRow:
        name = raw_path or _path_bytes(path)
        identity = ((_F.serial == serial) & (_F.path_bytes == name)
                    & (_F.size == size) & (_F.device_mtime == _utc(device_mtime)))
        existing = self._select_one(identity)
        if existing is not None:
            return existing
        printable = _path_bytes(path).decode("utf-8", "replace")
        try:
            with translate_errors("record a discovered file"), self._engine.begin() as conn:
                conn.execute(insert(_FILES).values(
                    serial=serial, path_bytes=name, path=printable, size=size,
                    device_mtime=_utc(device_mtime), state=FileState.DISCOVERED.value,
                    attempts=0, updated_at=self._clock()))
        except SqlUniqueError:
            pass  # another worker discovered it first: read theirs
        found = self._select_one(identity)
        if found is None:
            raise NotFoundError(f"ingest row for {printable} vanished")
        return found

    def save(self, row: FileRow) -> FileRow:
        obj = row.object
        values = {
            "state": row.state.value, "sha256": row.sha256, "sm3": row.sm3,
            "acquired_index": row.acquired_index,
            "stored_index": row.stored_index, "quarantine_reason": row.quarantine_reason,
            "attempts": row.attempts, "last_error": row.last_error,
            "store_url": obj.store if obj else None, "object_key": obj.key if obj else None,
            "version_id": obj.version_id if obj else None,
            "object_size": obj.size if obj else None, "lock_mode": obj.lock_mode if obj else None,
            "retain_until": obj.retain_until if obj else None, "updated_at": self._clock(),
        }
        with translate_errors("save ingest state"), self._engine.begin() as conn:
            done = conn.execute(update(_FILES).where(_F.id == row.id)
                                .values(**values))
        if done.rowcount != 1:
            raise NotFoundError(f"ingest row {row.id} does not exist")
        return row

    def note_error(self, row_id: int, error: str) -> None:
        with translate_errors("save ingest state"), self._engine.begin() as conn:
            conn.execute(update(_FILES).where(_F.id == row_id).values(
                attempts=_F.attempts + 1, last_error=error[:500], updated_at=self._clock()))

    def reload(self, row_id: int) -> FileRow:
        found = self._select_one(_F.id == row_id)
        if found is None:
            raise NotFoundError(f"ingest row {row_id} does not exist")
        return found

    def waiting_for_storage(self) -> list[FileRow]:
        return self._select(_F.state.in_([FileState.COMMITTED.value, FileState.STORED.value])
                            & _F.last_error.is_not(None))

    def media_pending(self) -> list[FileRow]:
        return self._select(_F.state.in_([FileState.VERIFIED.value, FileState.RELEASED.value])
                            & _F.media_state.is_(None))

    def set_media(self, sha256: str, state: str, note: str | None) -> None:
        with translate_errors("save ingest state"), self._engine.begin() as conn:
            conn.execute(update(_FILES).where(_F.sha256 == sha256).values(
                media_state=state, media_note=None if note is None else note[:500],
                updated_at=self._clock()))

    def files(self, serial: str) -> list[FileRow]:
        return self._select(_F.serial == serial)

    def all_files(self) -> list[FileRow]:
        return self._select()

    def by_sha256(self, sha256: str) -> list[FileRow]:
        return self._select(_F.sha256 == sha256)

    def assignment(self, serial: str) -> Assignment | None:
        with translate_errors("read the device registry"), self._engine.connect() as conn:
            r = conn.execute(select(_DEVICES).where(_D.serial == serial)).first()
        if r is None:
            return None
        return Assignment(serial=r.serial, id_code=r.id_code, officer_no=r.officer_no,
                          officer_name=r.officer_name, unit_no=r.unit_no, unit_name=r.unit_name)

    def assign(self, assignment: Assignment) -> None:
        values = {"id_code": assignment.id_code, "officer_no": assignment.officer_no,
                  "officer_name": assignment.officer_name, "unit_no": assignment.unit_no,
                  "unit_name": assignment.unit_name, "assigned_at": self._clock()}
        with translate_errors("update the device registry"), self._engine.begin() as conn:
            done = conn.execute(update(_DEVICES)
                                .where(_D.serial == assignment.serial).values(**values))
            if done.rowcount == 0:
                conn.execute(insert(_DEVICES).values(serial=assignment.serial,
                                                                 **values))

