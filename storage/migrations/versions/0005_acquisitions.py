"""Every acquisition of a clip (``clip_acquisitions``): search by 警号 or device finds a clip
whichever recorder it came from, not only the first one's.

The new table is filled by the fold, so the catalogue is rebuilt from the ledger: its tables
are emptied and its cursor set back to 0 (docs/catalogue.md, "Rebuild"); the next
``catch_up`` folds every entry again. ``api_tokens`` is not from the ledger and is kept.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOLDED = ("clips", "cases", "case_steps", "clip_links", "accesses", "step_kinds")


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "clip_acquisitions",
        sa.Column("acquired_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("device", sa.Text(), nullable=False),
        sa.Column("officer", sa.Text(), nullable=False),
        sa.Column("unit_no", sa.Text(), nullable=False),
        sa.Column("name_on_device", sa.Text(), nullable=False),
        sa.Column("captured_at", tz, nullable=False),
        sa.Column("station", sa.Text(), nullable=False),
        sa.Column("acquired_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("acquired_index", name="pk_clip_acquisitions"),
    )
    op.create_index("ix_clip_acquisitions_sha256", "clip_acquisitions", ["sha256"])
    op.create_index("ix_clip_acquisitions_device", "clip_acquisitions", ["device"])
    op.create_index("ix_clip_acquisitions_officer", "clip_acquisitions", ["officer"])
    for table in FOLDED:
        op.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
    op.execute("UPDATE catalogue_state SET applied = 0")


def downgrade() -> None:
    op.drop_table("clip_acquisitions")
