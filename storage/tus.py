"""The state of network uploads (table ``tus_uploads``, migration 0017): ingest.network's
``UploadRepo`` over the ledger's database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import BigInteger, DateTime, Engine, Index, Table, Text, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Mapped, mapped_column

from evidence.records import Upload
from storage.dberrors import translate_errors
from storage.ledger_tables import LedgerBase

_Tz = DateTime(timezone=True)


class TusUploadRow(LedgerBase):
    __tablename__ = "tus_uploads"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    serial: Mapped[str] = mapped_column(Text)
    length: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(Text)
    device_time: Mapped[datetime | None] = mapped_column(_Tz)
    created_at: Mapped[datetime] = mapped_column(_Tz)
    completed_at: Mapped[datetime | None] = mapped_column(_Tz)
    sha256: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_tus_uploads_serial", "serial"),)


UPLOADS = cast(Table, TusUploadRow.__table__)
_U = UPLOADS.c


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _upload(r: Row[Any]) -> Upload:
    created = _utc(r.created_at)
    assert created is not None  # noqa: S101 - NOT NULL in the table
    return Upload(id=r.id, serial=r.serial, length=r.length, name=r.name,
                  device_time=_utc(r.device_time), created_at=created,
                  completed_at=_utc(r.completed_at), sha256=r.sha256)


class SqlUploadRepo:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, upload: Upload) -> None:
        with translate_errors("record an upload"), self._engine.begin() as conn:
            conn.execute(UPLOADS.insert().values(
                id=upload.id, serial=upload.serial, length=upload.length, name=upload.name,
                device_time=upload.device_time, created_at=upload.created_at))

    def get(self, upload_id: str) -> Upload | None:
        with translate_errors("read an upload"), self._engine.connect() as conn:
            row = conn.execute(select(UPLOADS).where(_U.id == upload_id)).first()
        return None if row is None else _upload(row)

    def complete(self, upload_id: str, *, sha256: str, at: datetime) -> None:
        with translate_errors("complete an upload"), self._engine.begin() as conn:
            conn.execute(update(UPLOADS).where(_U.id == upload_id)
                         .values(completed_at=at, sha256=sha256))
