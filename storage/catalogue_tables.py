"""The catalogue: the read model folded from the ledger (docs/catalogue.md), and API tokens.

Every row here except ``api_tokens`` is derived from ledger entries by ``storage.catalogue`` and
can be rebuilt from the ledger alone; the ledger stays the only record of evidence. Created by
migration 0004 (``clip_acquisitions``: 0005; SM3 columns: 0006).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.ledger_tables import LedgerBase

_Id64 = BigInteger().with_variant(Integer(), "sqlite")
_Tz = DateTime(timezone=True)


class CatalogueStateRow(LedgerBase):
    """One row: how far into the ledger the catalogue has been folded."""

    __tablename__ = "catalogue_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    applied: Mapped[int] = mapped_column(BigInteger)
    """Every entry with index < ``applied`` has been folded in."""


class ClipRow(LedgerBase):
    __tablename__ = "clips"

    sha256: Mapped[str] = mapped_column(Text, primary_key=True)
    sm3: Mapped[str | None] = mapped_column(Text, index=True)
    """SM3 of the same content (migration 0006); NULL for clips acquired before the 国密 layer."""
    size: Mapped[int] = mapped_column(BigInteger)
    device: Mapped[str] = mapped_column(Text, index=True)
    officer: Mapped[str] = mapped_column(Text, index=True)
    unit_no: Mapped[str] = mapped_column(Text)
    name_on_device: Mapped[str] = mapped_column(Text)
    captured_at: Mapped[datetime] = mapped_column(_Tz, index=True)
    station: Mapped[str] = mapped_column(Text)
    acquired_index: Mapped[int] = mapped_column(BigInteger)
    acquired_at: Mapped[datetime] = mapped_column(_Tz)
    store_url: Mapped[str | None] = mapped_column(Text)
    object_key: Mapped[str | None] = mapped_column(Text)
    version_id: Mapped[str | None] = mapped_column(Text)
    lock_mode: Mapped[str | None] = mapped_column(Text)
    stored_retain_until: Mapped[datetime | None] = mapped_column(_Tz)
    playback_key: Mapped[str | None] = mapped_column(Text)
    playback_version: Mapped[str | None] = mapped_column(Text)
    playback_sha256: Mapped[str | None] = mapped_column(Text)
    playback_sm3: Mapped[str | None] = mapped_column(Text)
    playback_size: Mapped[int | None] = mapped_column(BigInteger)
    proxy_key: Mapped[str | None] = mapped_column(Text)
    proxy_version: Mapped[str | None] = mapped_column(Text)
    proxy_sha256: Mapped[str | None] = mapped_column(Text)
    proxy_sm3: Mapped[str | None] = mapped_column(Text)
    proxy_size: Mapped[int | None] = mapped_column(BigInteger)
    media_state: Mapped[str | None] = mapped_column(Text)
    quarantine_reason: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    retention_class: Mapped[str] = mapped_column(Text)
    retain_until: Mapped[datetime | None] = mapped_column(_Tz, index=True)
    legal_hold: Mapped[bool] = mapped_column(Boolean)
    disposed_index: Mapped[int | None] = mapped_column(BigInteger)
    # migration 0010: what the pages show of the media, and the list's sort orders
    media_action: Mapped[str | None] = mapped_column(Text)
    """The media stage's plan action: ``keep`` (a photo), ``audio``, ``remux`` …"""
    quarantine_step: Mapped[str | None] = mapped_column(Text)
    """``probe``, ``derive``, ``thumbnails`` …; ``commit`` for a file quarantined on commit."""
    thumb_key: Mapped[str | None] = mapped_column(Text)
    thumb_version: Mapped[str | None] = mapped_column(Text)
    thumb_sha256: Mapped[str | None] = mapped_column(Text)
    thumb_size: Mapped[int | None] = mapped_column(BigInteger)
    strip_key: Mapped[str | None] = mapped_column(Text)
    strip_version: Mapped[str | None] = mapped_column(Text)
    strip_sha256: Mapped[str | None] = mapped_column(Text)
    strip_size: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_clips_officer_captured", "officer", "captured_at", "sha256"),
        Index("ix_clips_device_captured", "device", "captured_at", "sha256"),
        Index("ix_clips_captured_sha256", "captured_at", "sha256"),
    )


class AcquisitionRow(LedgerBase):
    """Every ``acquired`` entry: the same content docked from several recorders is one clip
    (``clips`` keeps the first acquisition) but as many acquisitions, each with its officer and
    device, so a search by 警号 or device finds the clip whichever recorder it came from."""

    __tablename__ = "clip_acquisitions"

    acquired_index: Mapped[int] = mapped_column(BigInteger, primary_key=True,
                                                autoincrement=False)
    sha256: Mapped[str] = mapped_column(Text, index=True)
    device: Mapped[str] = mapped_column(Text, index=True)
    officer: Mapped[str] = mapped_column(Text, index=True)
    unit_no: Mapped[str] = mapped_column(Text)
    name_on_device: Mapped[str] = mapped_column(Text)
    captured_at: Mapped[datetime] = mapped_column(_Tz)
    station: Mapped[str] = mapped_column(Text)
    acquired_at: Mapped[datetime] = mapped_column(_Tz)


class CaseRow(LedgerBase):
    __tablename__ = "cases"

    case_id: Mapped[str] = mapped_column(Text, primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    unit_no: Mapped[str] = mapped_column(Text)
    major: Mapped[bool] = mapped_column(Boolean)
    opened_at: Mapped[datetime] = mapped_column(_Tz)
    opened_by: Mapped[str] = mapped_column(Text)
    opened_index: Mapped[int] = mapped_column(BigInteger)


class CaseStepRow(LedgerBase):
    __tablename__ = "case_steps"

    case_id: Mapped[str] = mapped_column(Text, primary_key=True)
    step_id: Mapped[str] = mapped_column(Text, primary_key=True)
    code: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(_Tz)
    ended_at: Mapped[datetime | None] = mapped_column(_Tz)
    officer: Mapped[str | None] = mapped_column(Text)
    recorded_index: Mapped[int] = mapped_column(BigInteger)
    corrected_by: Mapped[str | None] = mapped_column(Text)
    """Who made the latest correction of the window (migration 0008); None: never corrected."""
    corrected_at: Mapped[datetime | None] = mapped_column(_Tz)


class CaseOfficerRow(LedgerBase):
    """Who works on a case (主办/协办), folded from ``case_officer`` entries (migration 0008)."""

    __tablename__ = "case_officers"

    case_id: Mapped[str] = mapped_column(Text, primary_key=True)
    officer: Mapped[str] = mapped_column(Text, primary_key=True, index=True)
    duty: Mapped[str] = mapped_column(Text)
    idx: Mapped[int] = mapped_column(BigInteger)


class ClipLinkRow(LedgerBase):
    __tablename__ = "clip_links"

    linked_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sha256: Mapped[str] = mapped_column(Text, index=True)
    case_id: Mapped[str] = mapped_column(Text, index=True)
    step_id: Mapped[str] = mapped_column(Text)
    linked_at: Mapped[datetime] = mapped_column(_Tz)
    linked_by: Mapped[str] = mapped_column(Text)
    unlinked_index: Mapped[int | None] = mapped_column(BigInteger)
    unlinked_at: Mapped[datetime | None] = mapped_column(_Tz)
    unlinked_by: Mapped[str | None] = mapped_column(Text)


class AccessRow(LedgerBase):
    __tablename__ = "accesses"

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sha256: Mapped[str] = mapped_column(Text, index=True)
    actor: Mapped[str] = mapped_column(Text, index=True)
    role: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    variant: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(_Tz)
    case_id: Mapped[str | None] = mapped_column(Text, index=True)


class StepKindRow(LedgerBase):
    """A bureau's own 执法环节 beside the built-in catalogue (``step_kind_defined``)."""

    __tablename__ = "step_kinds"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(Text)
    defined_index: Mapped[int] = mapped_column(BigInteger)


class ApiTokenRow(LedgerBase):
    """An API token: only its SHA-256 is kept; the token itself is shown once, at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(_Id64, primary_key=True, autoincrement=True)
    token_sha256: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    """Who holds it: an officer's 警号, an auditor's id, a station id."""
    role: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(_Tz)
    revoked_at: Mapped[datetime | None] = mapped_column(_Tz)
    expires_at: Mapped[datetime | None] = mapped_column(_Tz)
    """Migration 0008; None: never expires (docs/access.md §Tokens)."""
    scope: Mapped[str] = mapped_column(Text, server_default="all")
    """``all`` or a unit code (migration 0008)."""


# The tables as SQLAlchemy Core sees them, for the fold and the queries (one handle each).
STATE = cast(Table, CatalogueStateRow.__table__)
CLIPS = cast(Table, ClipRow.__table__)
ACQUISITIONS = cast(Table, AcquisitionRow.__table__)
CASES = cast(Table, CaseRow.__table__)
STEPS = cast(Table, CaseStepRow.__table__)
LINKS = cast(Table, ClipLinkRow.__table__)
ACCESS = cast(Table, AccessRow.__table__)
KINDS = cast(Table, StepKindRow.__table__)
CASE_OFFICERS = cast(Table, CaseOfficerRow.__table__)
