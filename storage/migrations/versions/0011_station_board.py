"""The 采集站 dashboard (docs/web.md): ``station_heartbeats`` (each station's last report: its
staging disk and docks running) and ``station_docks`` (each dock's progress), written by
``liuhen station``. A live view, not evidence: nothing here comes from the ledger.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "station_heartbeats",
        sa.Column("station", sa.Text(), nullable=False),
        sa.Column("reported_at", tz, nullable=False),
        sa.Column("free_bytes", sa.BigInteger(), nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("docking", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("station", name="pk_station_heartbeats"),
    )
    op.create_table(
        "station_docks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("station", sa.Text(), nullable=False),
        sa.Column("serial", sa.Text(), nullable=False),
        sa.Column("started_at", tz, nullable=False),
        sa.Column("updated_at", tz, nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("files_done", sa.Integer(), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("bytes_done", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_station_docks"),
    )
    op.create_index("ix_station_docks_updated", "station_docks", ["updated_at"])
    op.create_index("ix_station_docks_station_serial", "station_docks", ["station", "serial"])


def downgrade() -> None:
    op.drop_table("station_docks")
    op.drop_table("station_heartbeats")
