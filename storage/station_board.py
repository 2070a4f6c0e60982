"""The 采集站 dashboard's tables (migration 0011): each station's last heartbeat and each dock's
progress, written by ``liuhen station`` into the bureau's database and read by the pages. Not
evidence: a live view, overwritten as it goes (the ledger keeps what was docked)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from sqlalchemy import BigInteger, DateTime, Engine, Index, Integer, Table, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from evidence.records import DockReport, StationReport
from storage.dberrors import translate_errors
from storage.ledger_tables import LedgerBase

_Tz = DateTime(timezone=True)


class StationHeartbeatRow(LedgerBase):
    __tablename__ = "station_heartbeats"

    station: Mapped[str] = mapped_column(Text, primary_key=True)
    reported_at: Mapped[datetime] = mapped_column(_Tz)
    free_bytes: Mapped[int] = mapped_column(BigInteger)
    total_bytes: Mapped[int] = mapped_column(BigInteger)
    docking: Mapped[int] = mapped_column(Integer)


class StationDockRow(LedgerBase):
    __tablename__ = "station_docks"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"),
                                    primary_key=True, autoincrement=True)
    station: Mapped[str] = mapped_column(Text)
    serial: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(_Tz)
    updated_at: Mapped[datetime] = mapped_column(_Tz)
    files: Mapped[int] = mapped_column(Integer)
    files_done: Mapped[int] = mapped_column(Integer)
    bytes_total: Mapped[int] = mapped_column(BigInteger)
    bytes_done: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_station_docks_updated", "updated_at"),
                      Index("ix_station_docks_station_serial", "station", "serial"))


HEARTBEATS = cast(Table, StationHeartbeatRow.__table__)
DOCKS = cast(Table, StationDockRow.__table__)
_H = HEARTBEATS.c
_D = DOCKS.c


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class SqlStationBoard:
    """ingest.ports.StationBoard over the bureau's database, and its reads for the pages."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def heartbeat(self, station: str, *, at: datetime, free_bytes: int, total_bytes: int,
                  docking: int) -> None:
        values = {"reported_at": _utc(at), "free_bytes": free_bytes,
                  "total_bytes": total_bytes, "docking": docking}
        with translate_errors("record a station heartbeat"), self.engine.begin() as conn:
            done = conn.execute(update(HEARTBEATS).where(_H.station == station).values(**values))
            if done.rowcount == 0:
                conn.execute(HEARTBEATS.insert().values(station=station, **values))

    def dock(self, report: DockReport) -> None:
        """The station's dock of this serial that started at ``report.started_at``: updated in
        place, inserted the first time."""
        values = {"updated_at": _utc(report.updated_at), "files": report.files,
                  "files_done": report.files_done, "bytes_total": report.bytes_total,
                  "bytes_done": report.bytes_done, "state": report.state,
                  "summary": report.summary[:500]}
        key = ((_D.station == report.station) & (_D.serial == report.serial)
               & (_D.started_at == _utc(report.started_at)))
        with translate_errors("record a dock's progress"), self.engine.begin() as conn:
            done = conn.execute(update(DOCKS).where(key).values(**values))
            if done.rowcount == 0:
                conn.execute(DOCKS.insert().values(station=report.station, serial=report.serial,
                                                   started_at=_utc(report.started_at),
                                                   **values))

    def stations(self) -> list[StationReport]:
        with translate_errors("read station heartbeats"), self.engine.connect() as conn:
            rows = conn.execute(select(HEARTBEATS).order_by(_H.station)).all()
        return [StationReport(station=r.station, reported_at=_utc(r.reported_at),
                              free_bytes=r.free_bytes, total_bytes=r.total_bytes,
                              docking=r.docking) for r in rows]

    def docks(self, *, since: datetime, limit: int = 200) -> list[DockReport]:
        """Docks updated from ``since`` on, the latest first."""
        stmt = (select(DOCKS).where(_D.updated_at >= _utc(since))
                .order_by(_D.updated_at.desc(), _D.id.desc()).limit(limit))
        with translate_errors("read docks"), self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [DockReport(station=r.station, serial=r.serial, started_at=_utc(r.started_at),
                           updated_at=_utc(r.updated_at), files=r.files,
                           files_done=r.files_done, bytes_total=r.bytes_total,
                           bytes_done=r.bytes_done, state=r.state, summary=r.summary)
                for r in rows]
