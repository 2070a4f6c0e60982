"""The station's bookkeeping tables: per-file ingest state and the device registry.

Unlike the ledger these rows are mutable (a file moves through its states); what they record that
matters as evidence is also in the ledger. Created by migration 0002.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.ledger_tables import LedgerBase

_Id64 = BigInteger().with_variant(Integer(), "sqlite")


class IngestFileRow(LedgerBase):
    """One file on one recorder. ``path_bytes`` (UTF-8, surrogate-escaped) identifies it even
    when the device's name is not valid UTF-8; ``path`` is its printable form."""

    __tablename__ = "ingest_files"
    __table_args__ = (UniqueConstraint("serial", "path_bytes", "size", "device_mtime",
                                       name="uq_ingest_files_identity"),)

    id: Mapped[int] = mapped_column(_Id64, primary_key=True, autoincrement=True)
    serial: Mapped[str] = mapped_column(Text, index=True)
    path_bytes: Mapped[bytes] = mapped_column(LargeBinary)
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    device_mtime: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(Text, index=True)
    sm3: Mapped[str | None] = mapped_column(Text)
    """SM3 of the content (migration 0006); None on rows acquired before the 国密 layer."""
    acquired_index: Mapped[int | None] = mapped_column(BigInteger)
    stored_index: Mapped[int | None] = mapped_column(BigInteger)
    store_url: Mapped[str | None] = mapped_column(Text)
    object_key: Mapped[str | None] = mapped_column(Text)
    version_id: Mapped[str | None] = mapped_column(Text)
    object_size: Mapped[int | None] = mapped_column(BigInteger)
    lock_mode: Mapped[str | None] = mapped_column(Text)
    retain_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    quarantine_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    media_state: Mapped[str | None] = mapped_column(Text)
    """None: not yet through the media stage; ``derived``, ``quarantined`` or ``skipped``."""
    media_note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DeviceRow(LedgerBase):
    """The device registry: which officer a recorder is assigned to (changes are ledgered)."""

    __tablename__ = "devices"

    serial: Mapped[str] = mapped_column(Text, primary_key=True)
    id_code: Mapped[str] = mapped_column(Text)
    officer_no: Mapped[str] = mapped_column(Text)
    officer_name: Mapped[str] = mapped_column(Text)
    unit_no: Mapped[str] = mapped_column(Text)
    unit_name: Mapped[str] = mapped_column(Text)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
