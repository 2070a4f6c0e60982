"""The 国密 layer's SM3 (DESIGN.md §4): SM3 digests beside SHA-256 and the SM3 tree's state.

- ``ingest_files.sm3``: the SM3 the station computed in the same read pass as ``sha256``.
- ``clips.sm3`` (indexed: ``liuhen verify`` and ``/api/verify/{hash}`` look a clip up by either
  digest), ``clips.playback_sm3``, ``clips.proxy_sm3``: folded from ``acquired`` and
  ``derived`` entries. The catalogue is rebuilt from the ledger (as 0005 does) so that clips
  acquired since the 国密 layer get their SM3; older clips keep NULL (legacy entries carry none).
- ``ledger_commits.sm3_root`` and ``sm3_frontier``: the SM3 tree over the same entry bytes at
  each commit, as ``root``/``frontier`` are for SHA-256. NULL on commits written before; the
  store rebuilds the SM3 frontier from the entry bytes on the first append after the upgrade
  (storage/ledger_sm3.py). Adding nullable columns updates no ledger row, so the append-only
  triggers are untouched.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOLDED = ("clips", "cases", "case_steps", "clip_links", "accesses", "step_kinds",
          "clip_acquisitions")


def upgrade() -> None:
    op.add_column("ingest_files", sa.Column("sm3", sa.Text(), nullable=True))
    op.add_column("clips", sa.Column("sm3", sa.Text(), nullable=True))
    op.add_column("clips", sa.Column("playback_sm3", sa.Text(), nullable=True))
    op.add_column("clips", sa.Column("proxy_sm3", sa.Text(), nullable=True))
    op.create_index("ix_clips_sm3", "clips", ["sm3"])
    op.add_column("ledger_commits", sa.Column("sm3_root", sa.LargeBinary(), nullable=True))
    op.add_column("ledger_commits", sa.Column("sm3_frontier", sa.LargeBinary(), nullable=True))
    for table in FOLDED:
        op.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
    op.execute("UPDATE catalogue_state SET applied = 0")


def downgrade() -> None:
    op.drop_column("ledger_commits", "sm3_frontier")
    op.drop_column("ledger_commits", "sm3_root")
    op.drop_index("ix_clips_sm3", table_name="clips")
    op.drop_column("clips", "proxy_sm3")
    op.drop_column("clips", "playback_sm3")
    op.drop_column("clips", "sm3")
    op.drop_column("ingest_files", "sm3")
