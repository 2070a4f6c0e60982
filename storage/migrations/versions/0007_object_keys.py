"""Wrapped data keys of objects encrypted at rest (``object_keys``, docs/adr/0010-sm4-envelope.md).

One row per stored object: the plaintext's SHA-256 and size, the sealed bytes' SHA-256 and size,
the algorithm, and the data key wrapped by KEK ``kek_id``. A KEK rotation rewrites ``kek_id`` and
``wrapped_key`` (the ledger's ``stored`` entry keeps the first wrapping).

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "object_keys",
        sa.Column("store_url", sa.Text(), nullable=False),
        sa.Column("object_key", sa.Text(), nullable=False),
        sa.Column("plain_sha256", sa.Text(), nullable=False),
        sa.Column("plain_size", sa.BigInteger(), nullable=False),
        sa.Column("sealed_sha256", sa.Text(), nullable=False),
        sa.Column("sealed_size", sa.BigInteger(), nullable=False),
        sa.Column("algorithm", sa.Text(), nullable=False),
        sa.Column("kek_id", sa.Text(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("header", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("rewrapped_at", tz, nullable=True),
        sa.PrimaryKeyConstraint("store_url", "object_key", name="pk_object_keys"),
    )
    op.create_index("ix_object_keys_kek_id", "object_keys", ["kek_id"])


def downgrade() -> None:
    op.drop_table("object_keys")
