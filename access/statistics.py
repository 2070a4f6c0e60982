"""Statistics for 一人一档 and 考核 (docs/supervision.md §Statistics): per officer and per unit,
for a period [start, end):

- recordings 录像数 and hours 时长: clips *captured* in the period by the officer (their
  account's unit, else the unit code the recorder wrote), hours from the probed durations
  (a clip whose duration is unknown counts as a recording and adds no time);
- on-time upload rate 按时上传率: of those clips, the share acquired within ``upload_within``
  of capture (the same threshold as the ``upload_late`` alert);
- cases 案件 and complete 录像完整: cases opened in the period that the officer works on
  (主办/协办) or, per unit, whose unit is that unit, and how many of them the completeness
  report (cases/, evidence/completeness.py) calls complete;
- views by purpose 调阅（按事由）: accesses in the period by the person (per unit: by people of
  the unit), counted by purpose.

A unit's figures are its own people's (not its subtree's); a leader's page lists every unit of
their subtree. Only people and units in the caller's units are counted at all.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from access.alerts import MAX_PERIOD, cell
from evidence.identity import InvalidInputError
from evidence.records import Access, Account, Case, Clip, Unit
from ledger.readmodel import Freshness


class StatsCatalogue(Protocol):
    def clips_captured_between(self, start: datetime, end: datetime) -> list[Clip]: ...

    def accesses_between(self, start: datetime, end: datetime) -> list[Access]: ...

    def cases(self, *, limit: int = 100, offset: int = 0) -> list[Case]: ...


class Completeness(Protocol):
    def __call__(self, case_id: str) -> bool: ...


class People(Protocol):
    def accounts(self) -> list[Account]: ...

    def units(self) -> list[Unit]: ...


@dataclass
class Figures:
    """One officer's or one unit's figures for the period."""

    key: str
    """The 警号, or the unit code."""
    name: str
    unit: str
    recordings: int = 0
    duration_ms: int = 0
    on_time: int = 0
    cases: int = 0
    complete_cases: int = 0
    views: Counter[str] = field(default_factory=Counter)

    @property
    def hours(self) -> float:
        return self.duration_ms / 3_600_000

    @property
    def on_time_rate(self) -> float | None:
        """None when nothing was recorded."""
        return None if self.recordings == 0 else self.on_time / self.recordings

    @property
    def view_count(self) -> int:
        return sum(self.views.values())


@dataclass(frozen=True, slots=True)
class Statistics:
    start: datetime
    end: datetime
    officers: tuple[Figures, ...]
    units: tuple[Figures, ...]
    purposes: tuple[str, ...]
    """Every purpose counted, most used first (the CSV's and chart's columns)."""


@dataclass
class StatisticsReport:
    """Computing the figures (read only; nothing is written)."""

    catalogue: StatsCatalogue
    people: People
    complete: Completeness
    upload_within: timedelta = timedelta(hours=24)
    fresh: Freshness | None = None

    def compute(self, start: datetime, end: datetime, *,
                units: Collection[str] | None = None) -> Statistics:
        if end <= start:
            raise InvalidInputError("时间段无效：结束须晚于开始 (the period must end after it "
                                    "starts)")
        if end - start > MAX_PERIOD:
            raise InvalidInputError("时间段最长一年 (a period is at most a year)")
        if self.fresh is not None:
            self.fresh.refresh()
        unit_names = {u.code: u.name for u in self.people.units()}
        accounts = {a.officer_no: a for a in self.people.accounts()}

        def admitted(unit: str) -> bool:
            return units is None or unit in units

        people: dict[str, Figures] = {
            a.officer_no: Figures(key=a.officer_no, name=a.name, unit=a.unit)
            for a in accounts.values() if admitted(a.unit)}
        for clip in self.catalogue.clips_captured_between(start, end):
            account = accounts.get(clip.officer)
            unit = account.unit if account else clip.unit_no
            if not admitted(unit):
                continue
            f = people.setdefault(clip.officer, Figures(key=clip.officer, name="", unit=unit))
            f.recordings += 1
            f.duration_ms += clip.duration_ms or 0
            f.on_time += clip.acquired_at - clip.captured_at <= self.upload_within
        for access in self.catalogue.accesses_between(start, end):
            if access.actor in people:
                people[access.actor].views[access.purpose] += 1
        per_unit: dict[str, Figures] = {
            code: Figures(key=code, name=name, unit=code)
            for code, name in unit_names.items() if admitted(code)}
        for case in self._cases(start, end):
            done = self.complete(case.case_id)
            for officer in {o.officer for o in case.officers}:
                if officer in people:
                    people[officer].cases += 1
                    people[officer].complete_cases += done
            if case.unit_no in per_unit:
                per_unit[case.unit_no].cases += 1
                per_unit[case.unit_no].complete_cases += done
        for f in people.values():
            u = per_unit.setdefault(f.unit, Figures(key=f.unit, name="", unit=f.unit))
            u.recordings += f.recordings
            u.duration_ms += f.duration_ms
            u.on_time += f.on_time
            u.views.update(f.views)
        purposes = Counter[str]()
        for f in people.values():
            purposes.update(f.views)
        return Statistics(start=start, end=end,
                          officers=tuple(sorted(people.values(), key=lambda f: f.key)),
                          units=tuple(sorted(per_unit.values(), key=lambda f: f.key)),
                          purposes=tuple(p for p, _ in sorted(purposes.items(),
                                                              key=lambda kv: (-kv[1], kv[0]))))

    def _cases(self, start: datetime, end: datetime) -> Iterable[Case]:
        offset = 0
        while True:
            page = self.catalogue.cases(limit=500, offset=offset)
            for case in page:
                if case.opened_at is not None and start <= case.opened_at < end:
                    yield case
            if len(page) < 500:
                return
            offset += 500


def statistics_csv(stats: Statistics, *, per: str) -> bytes:
    """``per`` ``officer`` or ``unit``: one row each, UTF-8 with a byte-order mark (Excel)."""
    rows = stats.officers if per == "officer" else stats.units
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    who = ("警号", "姓名") if per == "officer" else ("单位代码", "单位名称")
    w.writerow([*who, "单位", "录像数", "时长(小时)", "按时上传数", "按时上传率", "案件数",
                "录像完整案件数", *(f"调阅:{p}" for p in stats.purposes)])
    for f in rows:
        rate = "" if f.on_time_rate is None else f"{f.on_time_rate:.4f}"
        w.writerow([cell(v) for v in (
            f.key, f.name, f.unit, str(f.recordings), f"{f.hours:.2f}", str(f.on_time), rate,
            str(f.cases), str(f.complete_cases), *(str(f.views[p]) for p in stats.purposes))])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
