"""A constructed ledger for the supervision tests: units, accounts, clips, accesses and cases
written as ledger entries at chosen times (a moved clock), on SQLite or PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from access.accounts import Accounts
from access.alerts import AlertRules, Alerts
from access.statistics import StatisticsReport
from api.compose import Ledger, accounts, open_ledger, supervision_alerts
from api.settings import Settings
from cases.casework import Cases
from evidence.bodies import (
    AccessedBody,
    AcquiredBody,
    CaseOfficerBody,
    CaseOpenedBody,
    CaseStepBody,
    DerivedBody,
    LinkedBody,
    StoredBody,
)
from evidence.ids import StationId
from evidence.timerange import YearRange
from ledger.appending import LedgerWriter
from ledger.readmodel import Freshness

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
"""10:00 in Beijing on a Tuesday: working hours."""
ROOT, UNIT_A, UNIT_B = "110000000000", "110101000000", "110102000000"
RULES = AlertRules(bulk_count=3, bulk_window=timedelta(minutes=10))


class MovedClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


@dataclass
class World:
    ledger: Ledger
    clock: MovedClock
    writer: LedgerWriter
    people: Accounts
    alerts: Alerts
    cases: Cases
    statistics: StatisticsReport

    def at(self, moment: datetime) -> LedgerWriter:
        self.clock.now = moment
        return self.writer

    def acquire(self, name: str, *, officer: str, device: str, captured: datetime,
                acquired: datetime, unit_no: str = UNIT_A, duration_ms: int | None = None
                ) -> str:
        digest = sha(name)
        self.at(acquired).append(AcquiredBody(
            device=device, name_on_device=f"{name}.mp4", size=100, officer=officer,
            unit_no=unit_no, clock_offset_ms=0, device_mtime=captured, capture_time=captured),
            subject=digest, actor=officer)
        self.writer.append(StoredBody(
            device=device, name_on_device=f"{name}.mp4", store="file:///objects",
            key=f"originals/{digest}", version_id="v1", size=100, lock_mode="LOCAL-WORM",
            retain_until=acquired + timedelta(days=180)), subject=digest, actor="station")
        if duration_ms is not None:
            self.writer.append(DerivedBody(
                parent=digest, probe={"duration_ms": duration_ms}, plan={},
                ffmpeg_version="test", derivatives=(), streamhash={}, thumbnails=None),
                subject=digest, actor="media")
        return digest

    def view(self, digest: str, *, actor: str, role: str, moment: datetime,
             action: str = "play", variant: str = "playback", purpose: str = "办案") -> int:
        body = AccessedBody(action=action, variant=variant, purpose=purpose, role=role,
                            case=None)
        return self.at(moment).append(body, subject=digest, actor=actor).index

    def case(self, case_id: str, *, unit: str, officers: tuple[str, ...], moment: datetime,
             ) -> None:
        w = self.at(moment)
        w.append(CaseOpenedBody(title=case_id, unit_no=unit, major=False), subject=case_id,
                 actor=officers[0])
        for i, officer in enumerate(officers):
            w.append(CaseOfficerBody(officer=officer, duty="主办" if i == 0 else "协办", on=True),
                     subject=case_id, actor=officers[0])

    def step(self, case_id: str, step: str, code: str, start: datetime, end: datetime) -> None:
        self.writer.append(CaseStepBody(step=step, code=code, started_at=start, ended_at=end,
                                        officer=None), subject=case_id, actor="t")

    def link(self, digest: str, case_id: str, step: str, *, moment: datetime) -> None:
        self.at(moment).append(LinkedBody(case=case_id, step=step), subject=digest, actor="t")

    def catch_up(self) -> None:
        self.ledger.catalogue.catch_up()


def open_world(tmp_path: Path, ledger_url: str) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path / "data", database_url=ledger_url)
    ledger = open_ledger(settings)
    try:
        clock = MovedClock(T0)
        writer = LedgerWriter(appender=ledger.committer, checkpoints=ledger.store,
                              station=StationId(settings.station_id), clock=clock)
        people = replace(accounts(ledger, clock=clock), writer=writer)
        fresh = Freshness(ledger.catalogue.catch_up, refresh_s=0)
        alerts = replace(supervision_alerts(ledger, clock=clock, fresh=fresh), writer=writer,
                         rules=RULES)
        cases = Cases(writer=writer, catalogue=ledger.catalogue, fresh=fresh,
                      lock=ledger.casework_lock, retention=None,  # type: ignore[arg-type]
                      years=YearRange(2000, 2100))
        statistics = StatisticsReport(catalogue=ledger.catalogue, people=people.repo,
                                      complete=lambda c: cases.completeness(c).complete,
                                      fresh=fresh)
        people.add_unit(ROOT, "市局", parent=None, actor="admin")
        people.add_unit(UNIT_A, "甲分局", parent=ROOT, actor="admin")
        people.add_unit(UNIT_B, "乙分局", parent=ROOT, actor="admin")
        for number, name, unit, role in (
                ("100001", "张一", UNIT_A, "officer"), ("100002", "张二", UNIT_A, "officer"),
                ("100009", "李领导", UNIT_A, "leader"), ("100003", "王法制", UNIT_B, "auditor"),
                ("200001", "赵一", UNIT_B, "officer")):
            people.add_user(number, name=name, unit=unit, roles=[role], password=None,
                            actor="admin")
        yield World(ledger=ledger, clock=clock, writer=writer, people=people, alerts=alerts,
                    cases=cases, statistics=statistics)
    finally:
        ledger.close()
