"""The ledger's tables (DESIGN.md §4, §5 "Database"), as typed SQLAlchemy 2 declarative classes.

The schema itself is created by the Alembic migrations in ``storage/migrations`` (revision 0001),
never by ``metadata.create_all``; ``tests/integration`` checks that the two agree.

Every ledger table is append-only, enforced *by the database* with triggers (migration 0001): on
PostgreSQL, statement triggers raise on UPDATE, DELETE and TRUNCATE; on SQLite, BEFORE UPDATE and
BEFORE DELETE triggers ``RAISE(ABORT, ...)``. The triggers are guard rails against application bugs
and stray SQL, not against the database owner, who can drop or disable them: tamper evidence comes
from the Merkle tree, the signed commit statements and checkpoints held outside the database.

No relationships are declared: the store reads with explicit Core statements.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

LEDGER_FORMAT_VERSION = "1"
"""Ledger format v1 (DESIGN.md §4); recorded in ``ledger_meta`` next to the origin."""

APPEND_ONLY_MESSAGE = "liuhen ledger is append-only"
"""Every trigger refusal starts with this text; ``storage.ledger_store`` recognises it."""

LEDGER_TABLES = (
    "ledger_meta",
    "ledger_entries",
    "ledger_commits",
    "ledger_checkpoints",
    "ledger_timestamps",
)
"""The tables whose rows the database refuses to change or delete (migration 0001)."""

META_ORIGIN = "origin"
META_FORMAT_VERSION = "format_version"

# SQLite makes a column the rowid only when it is declared exactly "INTEGER PRIMARY KEY"; "BIGINT
# PRIMARY KEY" would add a second B-tree beside the rowid. SQLite integers are 64-bit either way.
_Index64 = BigInteger().with_variant(Integer(), "sqlite")

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class LedgerBase(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class LedgerMetaRow(LedgerBase):
    """Key/value facts about the ledger: its origin and format version, written once."""

    __tablename__ = "ledger_meta"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class LedgerEntryRow(LedgerBase):
    """One entry: its verbatim bytes (the only bytes ever hashed) and RFC 9162 leaf hash.

    ``kind`` and ``subject`` are a lookup index copied from the entry by the appender; the bytes
    are the truth.
    """

    __tablename__ = "ledger_entries"

    idx: Mapped[int] = mapped_column(_Index64, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    kind: Mapped[str] = mapped_column(Text, index=True)
    subject: Mapped[str] = mapped_column(Text, index=True)


class LedgerCommitRow(LedgerBase):
    """One group commit: entries ``[first, size)`` and the tree after them.

    ``frontier`` is ``TreeBuilder.frontier()`` at ``size``, so the next writer resumes the tree in
    O(log n). ``note`` is the station-signed note over
    ``integrity.notes.commit_text(origin, first, TreeHead(size, root))``. ``first`` is unique as
    well as ``size``: two writers that both believed they extended the same tree cannot both commit.
    """

    __tablename__ = "ledger_commits"
    __table_args__ = (UniqueConstraint("first"),)

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    first: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    frontier: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[bytes] = mapped_column(LargeBinary)
    sm3_root: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The SM3 tree's root at ``size`` (国密 layer, migration 0006); NULL on older commits."""
    sm3_frontier: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The SM3 tree's ``TreeBuilder.frontier()`` at ``size``; NULL on older commits."""
    station: Mapped[str] = mapped_column(Text)
    committed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LedgerCheckpointRow(LedgerBase):
    """A published C2SP checkpoint (log-signed note) for tree ``size``."""

    __tablename__ = "ledger_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[bytes] = mapped_column(LargeBinary)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LedgerTimestampRow(LedgerBase):
    """A raw RFC 3161 token (or GM/T 0033 token: kept opaque) over a checkpoint, one per TSA."""

    __tablename__ = "ledger_timestamps"
    # One token per checkpoint per TSA (DESIGN.md §4); the unique index also serves lookups by size.
    __table_args__ = (UniqueConstraint("checkpoint_size", "tsa"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    checkpoint_size: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("ledger_checkpoints.size"))
    tsa: Mapped[str] = mapped_column(Text)
    token: Mapped[bytes] = mapped_column(LargeBinary)
    obtained_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


metadata = LedgerBase.metadata
