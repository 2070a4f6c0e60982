"""Media stage bookkeeping on ingest rows: whether the playback copy was derived.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_files") as batch:
        batch.add_column(sa.Column("media_state", sa.Text(), nullable=True))
        batch.add_column(sa.Column("media_note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ingest_files") as batch:
        batch.drop_column("media_note")
        batch.drop_column("media_state")
