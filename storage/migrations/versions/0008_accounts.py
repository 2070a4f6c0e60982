"""Accounts and units, server-side sessions, failed sign-ins (docs/access.md); who works on a
case (``case_officers``, folded from ``case_officer`` entries) and who corrected a step;
expiry and scope of API tokens.

``case_officers`` and the new ``case_steps`` columns are filled by the fold, so the catalogue
is rebuilt from the ledger (docs/catalogue.md, "Rebuild"), as 0005 did. Existing API tokens get
scope ``all`` and no expiry: they keep working as before until an admin sets one.

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOLDED = ("clips", "clip_acquisitions", "cases", "case_steps", "clip_links", "accesses",
          "step_kinds", "case_officers")


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    id64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    text = sa.Text
    op.create_table(
        "units",
        sa.Column("code", text(), nullable=False),
        sa.Column("name", text(), nullable=False),
        sa.Column("parent", text(), nullable=True),
        sa.ForeignKeyConstraint(["parent"], ["units.code"], name="fk_units_parent"),
        sa.PrimaryKeyConstraint("code", name="pk_units"),
    )
    op.create_table(
        "accounts",
        sa.Column("officer_no", text(), nullable=False),
        sa.Column("name", text(), nullable=False),
        sa.Column("unit", text(), nullable=False),
        sa.Column("roles", text(), nullable=False),
        sa.Column("audit_unit", text(), nullable=True),
        sa.Column("password_hash", text(), nullable=True),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("disabled_at", tz, nullable=True),
        sa.Column("locked_until", tz, nullable=True),
        sa.ForeignKeyConstraint(["unit"], ["units.code"], name="fk_accounts_unit"),
        sa.PrimaryKeyConstraint("officer_no", name="pk_accounts"),
    )
    op.create_index("ix_accounts_unit", "accounts", ["unit"])
    op.create_table(
        "sessions",
        sa.Column("id", id64, autoincrement=True, nullable=False),
        sa.Column("secret_sha256", text(), nullable=False),
        sa.Column("officer_no", text(), nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("last_seen_at", tz, nullable=False),
        sa.Column("ended_at", tz, nullable=True),
        sa.Column("ended_reason", text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.UniqueConstraint("secret_sha256", name="uq_sessions_secret_sha256"),
    )
    op.create_index("ix_sessions_officer_no", "sessions", ["officer_no"])
    op.create_table(
        "login_failures",
        sa.Column("id", id64, autoincrement=True, nullable=False),
        sa.Column("officer_no", text(), nullable=False),
        sa.Column("at", tz, nullable=False),
        sa.Column("reason", text(), nullable=False),
        sa.Column("client", text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_login_failures"),
    )
    op.create_index("ix_login_failures_officer_at", "login_failures", ["officer_no", "at"])
    op.create_table(
        "case_officers",
        sa.Column("case_id", text(), nullable=False),
        sa.Column("officer", text(), nullable=False),
        sa.Column("duty", text(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "officer", name="pk_case_officers"),
    )
    op.create_index("ix_case_officers_officer", "case_officers", ["officer"])
    with op.batch_alter_table("case_steps") as batch:
        batch.add_column(sa.Column("corrected_by", text(), nullable=True))
        batch.add_column(sa.Column("corrected_at", tz, nullable=True))
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", tz, nullable=True))
        batch.add_column(sa.Column("scope", text(), nullable=False, server_default="all"))
    for table in FOLDED:
        op.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
    op.execute("UPDATE catalogue_state SET applied = 0")


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("scope")
        batch.drop_column("expires_at")
    with op.batch_alter_table("case_steps") as batch:
        batch.drop_column("corrected_at")
        batch.drop_column("corrected_by")
    for table in ("case_officers", "login_failures", "sessions", "accounts", "units"):
        op.drop_table(table)
