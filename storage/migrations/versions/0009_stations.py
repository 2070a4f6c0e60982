"""A bureau's stations and their logs (storage/station_tables.py; docs/adr/0014-two-level-log.md).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    id64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "stations",
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("keys_json", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("registered_at", tz, nullable=False),
        sa.Column("decided_at", tz, nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("flagged", sa.Text(), nullable=True),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.Column("sm3_frontier", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("station_id", name="pk_stations"),
        sa.UniqueConstraint("origin", name="uq_stations_origin"),
    )
    op.create_table(
        "station_entries",
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.Column("idx", id64, autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("sm3_leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["stations.station_id"],
                                name="fk_station_entries_station"),
        sa.PrimaryKeyConstraint("station_id", "idx", name="pk_station_entries"),
    )
    op.create_table(
        "station_checkpoints",
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.Column("size", id64, autoincrement=False, nullable=False),
        sa.Column("note", sa.LargeBinary(), nullable=False),
        sa.Column("accepted_at", tz, nullable=False),
        sa.Column("bureau_index", id64, nullable=True),
        sa.ForeignKeyConstraint(["station_id"], ["stations.station_id"],
                                name="fk_station_checkpoints_station"),
        sa.PrimaryKeyConstraint("station_id", "size", name="pk_station_checkpoints"),
    )
    op.create_table(
        "station_objects",
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.Column("idx", id64, autoincrement=False, nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("size", id64, nullable=False),
        sa.Column("store", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("version_id", sa.Text(), nullable=False),
        sa.Column("received_at", tz, nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["stations.station_id"],
                                name="fk_station_objects_station"),
        sa.PrimaryKeyConstraint("station_id", "idx", name="pk_station_objects"),
    )


def downgrade() -> None:
    for table in ("station_objects", "station_checkpoints", "station_entries", "stations"):
        op.drop_table(table)
