"""Ledger tables, append-only by trigger (DESIGN.md §4, §5 "Database").

Revision ID: 0001
Revises:
Create Date: 2026-11-24

The tables are spelled out here rather than taken from ``storage.ledger_tables`` so that this
revision stays what it was when later revisions change the models.

Append-only enforcement, by the database:

- PostgreSQL: one plpgsql function raising SQLSTATE 23001 (restrict_violation), attached to every
  ledger table as a BEFORE ... FOR EACH STATEMENT trigger on UPDATE, DELETE and TRUNCATE.
  Statement-level, so even an UPDATE or DELETE matching no row is refused, and an
  ``INSERT ... ON CONFLICT DO UPDATE`` (which fires the UPDATE statement triggers) too.
- SQLite: BEFORE UPDATE and BEFORE DELETE triggers with ``RAISE(ABORT, ...)``. SQLite has no
  TRUNCATE; its truncate optimisation of ``DELETE FROM t`` is disabled when a DELETE trigger
  exists. ``INSERT OR REPLACE`` deletes without firing DELETE triggers unless
  ``PRAGMA recursive_triggers`` is on, which ``create_ledger_engine`` sets on every connection.

Neither stops the database owner (DROP TRIGGER, ``session_replication_role``, editing the file):
in production give the application role only SELECT and INSERT on these tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MESSAGE = "liuhen ledger is append-only"  # == storage.ledger_tables.APPEND_ONLY_MESSAGE
_TABLES = ("ledger_meta", "ledger_entries", "ledger_commits", "ledger_checkpoints",
           "ledger_timestamps")
_PG_FUNCTION = "liuhen_ledger_refuse_change"


def _tables() -> None:
    index64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "ledger_meta",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_ledger_meta"),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("idx", index64, autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("idx", name="pk_ledger_entries"),
    )
    op.create_index("ix_ledger_entries_kind", "ledger_entries", ["kind"])
    op.create_index("ix_ledger_entries_subject", "ledger_entries", ["subject"])
    op.create_table(
        "ledger_commits",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("first", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.LargeBinary(), nullable=False),
        sa.Column("station", sa.Text(), nullable=False),
        sa.Column("committed_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("size", name="pk_ledger_commits"),
        sa.UniqueConstraint("first", name="uq_ledger_commits_first"),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.LargeBinary(), nullable=False),
        sa.Column("published_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("size", name="pk_ledger_checkpoints"),
    )
    op.create_table(
        "ledger_timestamps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("checkpoint_size", sa.BigInteger(), nullable=False),
        sa.Column("tsa", sa.Text(), nullable=False),
        sa.Column("token", sa.LargeBinary(), nullable=False),
        sa.Column("obtained_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_timestamps"),
        sa.ForeignKeyConstraint(["checkpoint_size"], ["ledger_checkpoints.size"],
                                name="fk_ledger_timestamps_checkpoint_size_ledger_checkpoints"),
        sa.UniqueConstraint("checkpoint_size", "tsa", name="uq_ledger_timestamps_checkpoint_size"),
    )


def _postgresql_triggers() -> None:
    op.execute(f"""
        CREATE FUNCTION {_PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{_MESSAGE}: % on % refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'restrict_violation';
        END;
        $$
    """)
    for table in _TABLES:
        op.execute(f"""
            CREATE TRIGGER {table}_append_only
            BEFORE UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION {_PG_FUNCTION}()
        """)


def _sqlite_triggers() -> None:
    for table in _TABLES:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table}
                BEGIN SELECT RAISE(ABORT, '{_MESSAGE}: {event} on {table} refused'); END
            """)


def upgrade() -> None:
    _tables()
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        _postgresql_triggers()
    elif dialect == "sqlite":
        _sqlite_triggers()
    else:
        # Fail closed: a ledger without database-side append-only triggers is not supported.
        raise NotImplementedError(f"no append-only triggers for dialect {dialect!r}")


def downgrade() -> None:
    # Fail closed: dropping these tables destroys evidence. Archive and start a new origin instead.
    raise NotImplementedError("refusing to downgrade below 0001: it would drop the evidence ledger")
