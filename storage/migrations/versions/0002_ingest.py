"""Station bookkeeping: per-file ingest state and the device registry (mutable tables).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    id64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "ingest_files",
        sa.Column("id", id64, autoincrement=True, nullable=False),
        sa.Column("serial", sa.Text(), nullable=False),
        sa.Column("path_bytes", sa.LargeBinary(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("device_mtime", tz, nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=True),
        sa.Column("acquired_index", sa.BigInteger(), nullable=True),
        sa.Column("stored_index", sa.BigInteger(), nullable=True),
        sa.Column("store_url", sa.Text(), nullable=True),
        sa.Column("object_key", sa.Text(), nullable=True),
        sa.Column("version_id", sa.Text(), nullable=True),
        sa.Column("object_size", sa.BigInteger(), nullable=True),
        sa.Column("lock_mode", sa.Text(), nullable=True),
        sa.Column("retain_until", tz, nullable=True),
        sa.Column("quarantine_reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ingest_files"),
        sa.UniqueConstraint("serial", "path_bytes", "size", "device_mtime",
                            name="uq_ingest_files_identity"),
    )
    op.create_index("ix_ingest_files_serial", "ingest_files", ["serial"])
    op.create_index("ix_ingest_files_sha256", "ingest_files", ["sha256"])
    op.create_table(
        "devices",
        sa.Column("serial", sa.Text(), nullable=False),
        sa.Column("id_code", sa.Text(), nullable=False),
        sa.Column("officer_no", sa.Text(), nullable=False),
        sa.Column("officer_name", sa.Text(), nullable=False),
        sa.Column("unit_no", sa.Text(), nullable=False),
        sa.Column("unit_name", sa.Text(), nullable=False),
        sa.Column("assigned_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("serial", name="pk_devices"),
    )


def downgrade() -> None:
    op.drop_table("devices")
    op.drop_index("ix_ingest_files_sha256", table_name="ingest_files")
    op.drop_index("ix_ingest_files_serial", table_name="ingest_files")
    op.drop_table("ingest_files")
