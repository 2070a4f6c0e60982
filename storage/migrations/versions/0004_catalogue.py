"""The catalogue (read model folded from the ledger) and hashed API tokens.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    id64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    tz = sa.DateTime(timezone=True)
    big = sa.BigInteger
    text = sa.Text
    op.create_table(
        "catalogue_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("applied", big(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_catalogue_state"),
    )
    op.execute("INSERT INTO catalogue_state (id, applied) VALUES (1, 0)")
    op.create_table(
        "clips",
        sa.Column("sha256", text(), nullable=False),
        sa.Column("size", big(), nullable=False),
        sa.Column("device", text(), nullable=False),
        sa.Column("officer", text(), nullable=False),
        sa.Column("unit_no", text(), nullable=False),
        sa.Column("name_on_device", text(), nullable=False),
        sa.Column("captured_at", tz, nullable=False),
        sa.Column("station", text(), nullable=False),
        sa.Column("acquired_index", big(), nullable=False),
        sa.Column("acquired_at", tz, nullable=False),
        sa.Column("store_url", text(), nullable=True),
        sa.Column("object_key", text(), nullable=True),
        sa.Column("version_id", text(), nullable=True),
        sa.Column("lock_mode", text(), nullable=True),
        sa.Column("stored_retain_until", tz, nullable=True),
        sa.Column("playback_key", text(), nullable=True),
        sa.Column("playback_version", text(), nullable=True),
        sa.Column("playback_sha256", text(), nullable=True),
        sa.Column("playback_size", big(), nullable=True),
        sa.Column("proxy_key", text(), nullable=True),
        sa.Column("proxy_version", text(), nullable=True),
        sa.Column("proxy_sha256", text(), nullable=True),
        sa.Column("proxy_size", big(), nullable=True),
        sa.Column("media_state", text(), nullable=True),
        sa.Column("quarantine_reason", text(), nullable=True),
        sa.Column("duration_ms", big(), nullable=True),
        sa.Column("retention_class", text(), nullable=False),
        sa.Column("retain_until", tz, nullable=True),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("disposed_index", big(), nullable=True),
        sa.PrimaryKeyConstraint("sha256", name="pk_clips"),
    )
    op.create_index("ix_clips_device", "clips", ["device"])
    op.create_index("ix_clips_officer", "clips", ["officer"])
    op.create_index("ix_clips_captured_at", "clips", ["captured_at"])
    op.create_index("ix_clips_retain_until", "clips", ["retain_until"])
    op.create_table(
        "cases",
        sa.Column("case_id", text(), nullable=False),
        sa.Column("title", text(), nullable=False),
        sa.Column("unit_no", text(), nullable=False),
        sa.Column("major", sa.Boolean(), nullable=False),
        sa.Column("opened_at", tz, nullable=False),
        sa.Column("opened_by", text(), nullable=False),
        sa.Column("opened_index", big(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name="pk_cases"),
    )
    op.create_table(
        "case_steps",
        sa.Column("case_id", text(), nullable=False),
        sa.Column("step_id", text(), nullable=False),
        sa.Column("code", text(), nullable=False),
        sa.Column("started_at", tz, nullable=True),
        sa.Column("ended_at", tz, nullable=True),
        sa.Column("officer", text(), nullable=True),
        sa.Column("recorded_index", big(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "step_id", name="pk_case_steps"),
    )
    op.create_table(
        "clip_links",
        sa.Column("linked_index", big(), autoincrement=False, nullable=False),
        sa.Column("sha256", text(), nullable=False),
        sa.Column("case_id", text(), nullable=False),
        sa.Column("step_id", text(), nullable=False),
        sa.Column("linked_at", tz, nullable=False),
        sa.Column("linked_by", text(), nullable=False),
        sa.Column("unlinked_index", big(), nullable=True),
        sa.Column("unlinked_at", tz, nullable=True),
        sa.Column("unlinked_by", text(), nullable=True),
        sa.PrimaryKeyConstraint("linked_index", name="pk_clip_links"),
    )
    op.create_index("ix_clip_links_sha256", "clip_links", ["sha256"])
    op.create_index("ix_clip_links_case_id", "clip_links", ["case_id"])
    op.create_table(
        "accesses",
        sa.Column("idx", big(), autoincrement=False, nullable=False),
        sa.Column("sha256", text(), nullable=False),
        sa.Column("actor", text(), nullable=False),
        sa.Column("role", text(), nullable=False),
        sa.Column("action", text(), nullable=False),
        sa.Column("variant", text(), nullable=False),
        sa.Column("purpose", text(), nullable=False),
        sa.Column("at", tz, nullable=False),
        sa.Column("case_id", text(), nullable=True),
        sa.PrimaryKeyConstraint("idx", name="pk_accesses"),
    )
    op.create_index("ix_accesses_sha256", "accesses", ["sha256"])
    op.create_index("ix_accesses_actor", "accesses", ["actor"])
    op.create_index("ix_accesses_case_id", "accesses", ["case_id"])
    op.create_table(
        "step_kinds",
        sa.Column("code", text(), nullable=False),
        sa.Column("name", text(), nullable=False),
        sa.Column("rule", text(), nullable=False),
        sa.Column("defined_index", big(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_step_kinds"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", id64, autoincrement=True, nullable=False),
        sa.Column("token_sha256", text(), nullable=False),
        sa.Column("name", text(), nullable=False),
        sa.Column("role", text(), nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("revoked_at", tz, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_sha256", name="uq_api_tokens_token_sha256"),
    )


def downgrade() -> None:
    for table in ("api_tokens", "step_kinds", "accesses", "clip_links", "case_steps", "cases",
                  "clips", "catalogue_state"):
        op.drop_table(table)
