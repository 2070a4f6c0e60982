"""What the pages show of a clip's media (docs/web.md): the media stage's action (``keep`` for
a photo, ``audio`` …), the step that quarantined it, its first thumbnail and its keyframe
strip; and the indexes the clip list's sort orders use (keyset pagination).

The new columns are filled by the fold, so the catalogue is rebuilt from the ledger: its tables
are emptied and its cursor set back to 0 (docs/catalogue.md, "Rebuild").

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOLDED = ("clips", "clip_acquisitions", "cases", "case_steps", "clip_links", "accesses",
          "step_kinds", "case_officers")
TEXT = ("media_action", "quarantine_step", "thumb_key", "thumb_version", "thumb_sha256",
        "strip_key", "strip_version", "strip_sha256")
SIZES = ("thumb_size", "strip_size")
SORTS = {"ix_clips_officer_captured": ["officer", "captured_at", "sha256"],
         "ix_clips_device_captured": ["device", "captured_at", "sha256"],
         "ix_clips_captured_sha256": ["captured_at", "sha256"]}


def upgrade() -> None:
    with op.batch_alter_table("clips") as batch:
        for name in TEXT:
            batch.add_column(sa.Column(name, sa.Text(), nullable=True))
        for name in SIZES:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=True))
    for index, columns in SORTS.items():
        op.create_index(index, "clips", columns)
    for table in FOLDED:
        op.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
    op.execute("UPDATE catalogue_state SET applied = 0")


def downgrade() -> None:
    for index in SORTS:
        op.drop_index(index, "clips")
    with op.batch_alter_table("clips") as batch:
        for name in (*TEXT, *SIZES):
            batch.drop_column(name)
