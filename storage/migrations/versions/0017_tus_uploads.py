"""Network uploads from 4G recorders and phones (tus 1.0, docs/station.md §Network uploads):
``tus_uploads``, one row per upload: the device, the length and name it announced, the clock
it reported, how it ended. The bytes so far are a file in the data dir; the row is not
evidence (the ``acquired`` entry written when the upload completes is).

Revision ID: 0017
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "tus_uploads",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("serial", sa.Text(), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("device_time", tz, nullable=True),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("completed_at", tz, nullable=True),
        sa.Column("sha256", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tus_uploads"),
    )
    op.create_index("ix_tus_uploads_serial", "tus_uploads", ["serial"])


def downgrade() -> None:
    op.drop_table("tus_uploads")
