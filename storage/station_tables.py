"""A bureau's record of its stations (migration 0009; docs/adr/0014-two-level-log.md).

``stations``: one row per registration (station id, its log's origin, its public keys as a trust
root document, pending → approved → revoked, and the step of the last refused push).
``station_entries`` and ``station_checkpoints``: each station's log as the bureau accepted it,
keyed by station, entries verbatim with their leaf hashes in both trees.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, LargeBinary, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.ledger_tables import LedgerBase

_Id64 = BigInteger().with_variant(Integer(), "sqlite")
_Tz = DateTime(timezone=True)


class StationRow(LedgerBase):
    __tablename__ = "stations"

    station_id: Mapped[str] = mapped_column(Text, primary_key=True)
    origin: Mapped[str] = mapped_column(Text, unique=True)
    keys_json: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(_Tz)
    decided_at: Mapped[datetime | None] = mapped_column(_Tz, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(Text, nullable=True)
    flagged: Mapped[str | None] = mapped_column(Text, nullable=True)
    frontier: Mapped[bytes] = mapped_column(LargeBinary)
    """The SHA-256 tree's frontier at the held size (``TreeBuilder.frontier``): a push is
    checked in O(log n) from it; ``sm3_frontier`` likewise for the SM3 tree."""
    sm3_frontier: Mapped[bytes] = mapped_column(LargeBinary)


class StationEntryRow(LedgerBase):
    __tablename__ = "station_entries"

    station_id: Mapped[str] = mapped_column(
        Text, ForeignKey("stations.station_id", name="fk_station_entries_station"),
        primary_key=True)
    idx: Mapped[int] = mapped_column(_Id64, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    sm3_leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class StationCheckpointRow(LedgerBase):
    __tablename__ = "station_checkpoints"

    station_id: Mapped[str] = mapped_column(
        Text, ForeignKey("stations.station_id", name="fk_station_checkpoints_station"),
        primary_key=True)
    size: Mapped[int] = mapped_column(_Id64, primary_key=True, autoincrement=False)
    note: Mapped[bytes] = mapped_column(LargeBinary)
    accepted_at: Mapped[datetime] = mapped_column(_Tz)
    bureau_index: Mapped[int | None] = mapped_column(_Id64, nullable=True)
    """The index of its ``station_checkpoint`` entry in the bureau's log; None between the
    accept and that append (finished on the next push: ledger/stations.py)."""


class StationObjectRow(LedgerBase):
    """An object a station pushed for its ``stored`` entry ``idx``: received, re-hashed against
    that entry, and kept in the bureau's store (sealed bytes as the station stored them)."""

    __tablename__ = "station_objects"

    station_id: Mapped[str] = mapped_column(
        Text, ForeignKey("stations.station_id", name="fk_station_objects_station"),
        primary_key=True)
    idx: Mapped[int] = mapped_column(_Id64, primary_key=True, autoincrement=False)
    sha256: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(_Id64)
    store: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(Text)
    version_id: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(_Tz)


STATIONS = cast(Table, StationRow.__table__)
STATION_ENTRIES = cast(Table, StationEntryRow.__table__)
STATION_CHECKPOINTS = cast(Table, StationCheckpointRow.__table__)
STATION_OBJECTS = cast(Table, StationObjectRow.__table__)
