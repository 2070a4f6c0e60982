"""Supervision alerts (调阅监督预警; DESIGN.md §8, docs/supervision.md): computed from the ledger's
read model for a period, never stored, so the same ledger and period always give the same
alerts. Acknowledging one is a ledger entry (``alert_acknowledged``, subject: the alert's id).

Rules (thresholds in :class:`AlertRules`, from settings):

- ``bulk_view`` 批量调阅: one person viewed ``bulk_count`` distinct clips or more within
  ``bulk_window``. One alert per burst, named by the burst's first access; the next burst
  starts after the window.
- ``off_hours`` 非工作时间调阅: an access at a bureau-local time (``tz``, Asia/Shanghai) in
  [``off_start``, ``off_end``) (wrapping midnight when off_start > off_end).
- ``outside_cases`` 调阅非本人案件视频: an access in the 民警 role to a clip the person did not
  record and that was not linked, at that time, to a case they work on.
- ``original_download`` 下载原始文件: every download of an original.
- ``upload_late`` 超时未上传（文件）: a file ingested more than ``upload_within`` after it was
  captured (``acquired`` entry time minus capture time).
- ``dock_late`` 超时未上传（记录仪）: a recorder docked more than ``dock_within`` after its last
  recording: for each docking (the files of one recorder acquired with gaps under
  DOCKING_GAP), the docking's first acquisition minus the end of its newest recording.

An alert belongs to the unit of the person it is about (the viewer; the recording officer),
by their account, else the unit code the recorder wrote; a leader sees their subtree's, an
auditor their assigned subtree's, an admin all (:meth:`Alerts.compute` takes the units).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from evidence.bodies import ALERT_RULES, AlertAcknowledgedBody
from evidence.errors import NotFoundError
from evidence.identity import InvalidInputError, check_text
from evidence.records import Access, Clip, EntryKind, LedgerEntry, Link
from evidence.timewindows import parse_window
from integrity.entry import decode_entry
from ledger.appending import LedgerWriter
from ledger.ports import Clock
from ledger.readmodel import Freshness

DOCKING_GAP = timedelta(hours=1)
"""Files of one recorder acquired less than this apart are one docking."""
MAX_NOTE_CHARS = 500
MAX_PERIOD = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class AlertRules:
    """The thresholds (settings LIUHEN_ALERT_*; docs/supervision.md)."""

    bulk_count: int = 20
    bulk_window: timedelta = timedelta(minutes=10)
    off_start: time = time(22, 0)
    off_end: time = time(6, 0)
    tz: str = "Asia/Shanghai"
    dock_within: timedelta = timedelta(hours=24)
    upload_within: timedelta = timedelta(hours=24)

    def off_hours(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.tz)).time()
        if self.off_start <= self.off_end:
            return self.off_start <= local < self.off_end
        return local >= self.off_start or local < self.off_end


def parse_hours(text: str) -> tuple[time, time]:
    """``22:00-06:00`` as (start, end) times of day (evidence/timewindows.py)."""
    window = parse_window(text, what="非工作时间")
    return window.start, window.end


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    by: str
    at: datetime
    note: str
    index: int


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: ``id`` is stable for the same ledger (rule and the entry or clip it comes
    from), so an acknowledgement finds it again."""

    id: str
    rule: str
    at: datetime
    person: str
    """Whom it is about: the viewer (access rules) or the recording officer (upload rules)."""
    unit: str
    detail: str
    acknowledged: Acknowledgement | None = None

    @property
    def rule_zh(self) -> str:
        return ALERT_RULES[self.rule]


class AlertCatalogue(Protocol):
    """What the rules read from the catalogue folded from the ledger (storage/catalogue.py)."""

    def accesses_between(self, start: datetime, end: datetime) -> list[Access]: ...

    def clips_acquired_between(self, start: datetime, end: datetime, *,
                               devices: Collection[str] | None = None) -> list[Clip]: ...

    def clips_of(self, sha256s: Collection[str]) -> list[Clip]: ...

    def links(self, *, sha256: str | None = None, case_id: str | None = None,
              current_only: bool = False) -> list[Link]: ...

    def cases_of(self, officer_no: str) -> list[str]: ...


class EntryFinder(Protocol):
    def find_kinds(self, kinds: Sequence[str]) -> list[LedgerEntry]: ...


class UnitOf(Protocol):
    def __call__(self, officer_no: str) -> str | None: ...


# --- the rules (pure over what the catalogue answered) ---------------------------------------

def bulk_views(accesses: Iterable[Access], rules: AlertRules) -> list[tuple[Access, int]]:
    """(first access, distinct clips) of each burst of ``bulk_count`` or more distinct clips
    one person viewed within ``bulk_window``."""
    by_actor: dict[str, list[Access]] = {}
    for a in sorted(accesses, key=lambda a: (a.at, a.index)):
        by_actor.setdefault(a.actor, []).append(a)
    found: list[tuple[Access, int]] = []
    for runs in by_actor.values():
        i = 0
        while i < len(runs):
            end = runs[i].at + rules.bulk_window
            window = [a for a in runs[i:] if a.at < end]
            clips = len({a.sha256 for a in window})
            if clips >= rules.bulk_count:
                found.append((runs[i], clips))
                i += len(window)
            else:
                i += 1
    return found


def dockings(clips: Iterable[Clip]) -> list[list[Clip]]:
    """The files of each recorder grouped into dockings (acquired less than DOCKING_GAP
    apart), in acquisition order."""
    by_device: dict[str, list[Clip]] = {}
    for c in sorted(clips, key=lambda c: (c.acquired_at, c.acquired_index)):
        by_device.setdefault(c.device, []).append(c)
    groups: list[list[Clip]] = []
    for files in by_device.values():
        current = [files[0]]
        for c in files[1:]:
            if c.acquired_at - current[-1].acquired_at < DOCKING_GAP:
                current.append(c)
            else:
                groups.append(current)
                current = [c]
        groups.append(current)
    return groups


def recording_end(clip: Clip) -> datetime:
    return clip.captured_at + timedelta(milliseconds=clip.duration_ms or 0)


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f}"


@dataclass
class Alerts:
    """Computing, acknowledging and exporting alerts."""

    catalogue: AlertCatalogue
    entries: EntryFinder
    writer: LedgerWriter
    clock: Clock
    unit_of: UnitOf
    """The unit of a person's account (None: no account)."""
    rules: AlertRules = field(default_factory=AlertRules)
    fresh: Freshness | None = None

    def compute(self, start: datetime, end: datetime, *,
                units: Collection[str] | None = None) -> list[Alert]:
        """The alerts of [start, end), oldest first, with their acknowledgements; only those
        whose person's unit is in ``units`` (None: every alert, for an admin)."""
        if end <= start:
            raise InvalidInputError("时间段无效：结束须晚于开始 (the period must end after it "
                                    "starts)")
        if end - start > MAX_PERIOD:
            raise InvalidInputError("时间段最长一年 (a period is at most a year)")
        if self.fresh is not None:
            self.fresh.refresh()
        accesses = self.catalogue.accesses_between(start, end)
        clips = self.catalogue.clips_acquired_between(start, end)
        units_of: dict[str, str | None] = {}
        found = (self._access_alerts(accesses, units_of)
                 + self._upload_alerts(clips, units_of))
        if units is not None:
            found = [a for a in found if a.unit in units]
        found.sort(key=lambda a: (a.at, a.id))
        acks = self._acknowledgements()
        return [replace(a, acknowledged=acks.get(a.id)) for a in found]

    def overdue(self, person: str, devices: Collection[str], start: datetime,
                end: datetime) -> list[Alert]:
        """超时未上传 of one officer (一人一档): the ``upload_late`` and ``dock_late`` alerts of
        [start, end) about ``person``, computed by the same rules as :meth:`compute` over the
        clips of their recorders ``devices`` only, newest first, with their acknowledgements."""
        if self.fresh is not None:
            self.fresh.refresh()
        clips = self.catalogue.clips_acquired_between(start, end, devices=devices)
        found = [a for a in self._upload_alerts(clips, {}) if a.person == person]
        found.sort(key=lambda a: (a.at, a.id), reverse=True)
        acks = self._acknowledgements()
        return [replace(a, acknowledged=acks.get(a.id)) for a in found]

    def _unit(self, known: dict[str, str | None], person: str, fallback: str = "") -> str:
        """The person's unit by their account (``known`` remembers it within one
        computation), else ``fallback``."""
        if person not in known:
            known[person] = self.unit_of(person)
        return known[person] or fallback

    def _access_alerts(self, accesses: list[Access], known: dict[str, str | None]
                       ) -> list[Alert]:
        r = self.rules
        out: list[Alert] = []
        for first, count in bulk_views(accesses, r):
            out.append(Alert(
                id=f"bulk_view:{first.index}", rule="bulk_view", at=first.at, person=first.actor,
                unit=self._unit(known, first.actor),
                detail=f"{int(r.bulk_window.total_seconds() // 60)} 分钟内调阅 {count} 个视频"
                       f"（阈值 {r.bulk_count}）"))
        viewed = {a.sha256 for a in accesses if a.role == "officer"}
        clips: dict[str, str] = {c.sha256: c.officer for c in self.catalogue.clips_of(viewed)}
        cases: dict[str, set[str]] = {}
        links: dict[str, list[Link]] = {}
        zone = ZoneInfo(r.tz)
        for a in accesses:
            unit = self._unit(known, a.actor)
            if r.off_hours(a.at):
                local = a.at.astimezone(zone)
                out.append(Alert(id=f"off_hours:{a.index}", rule="off_hours", at=a.at,
                                 person=a.actor, unit=unit,
                                 detail=f"{local:%H:%M} 调阅视频 {a.sha256[:12]}…（{r.tz}）"))
            if a.action == "download" and a.variant == "original":
                out.append(Alert(id=f"original_download:{a.index}", rule="original_download",
                                 at=a.at, person=a.actor, unit=unit,
                                 detail=f"下载原始文件 {a.sha256[:12]}…，事由：{a.purpose}"))
            if a.role == "officer" and not self._own(a, clips, cases, links):
                out.append(Alert(id=f"outside_cases:{a.index}", rule="outside_cases", at=a.at,
                                 person=a.actor, unit=unit,
                                 detail=f"调阅视频 {a.sha256[:12]}…：非本人拍摄，"
                                        "也未关联到本人参办的案件"))
        return out

    def _own(self, a: Access, clips: dict[str, str], cases: dict[str, set[str]],
             links: dict[str, list[Link]]) -> bool:
        """The viewer recorded the clip (``clips``: who recorded each viewed clip), or it was
        linked then to a case they work on (the dicts remember what one computation read)."""
        if clips.get(a.sha256) == a.actor:
            return True
        if a.actor not in cases:
            cases[a.actor] = set(self.catalogue.cases_of(a.actor))
        mine = cases[a.actor]
        if not mine:
            return False
        if a.sha256 not in links:
            links[a.sha256] = self.catalogue.links(sha256=a.sha256)
        return any(lk.case_id in mine and lk.linked_at <= a.at
                   and (lk.unlinked_at is None or lk.unlinked_at > a.at)
                   for lk in links[a.sha256])

    def _upload_alerts(self, clips: list[Clip], known: dict[str, str | None]) -> list[Alert]:
        r = self.rules
        out: list[Alert] = []
        for c in clips:
            late = c.acquired_at - c.captured_at
            if late > r.upload_within:
                out.append(Alert(
                    id=f"upload_late:{c.sha256}", rule="upload_late", at=c.acquired_at,
                    person=c.officer, unit=self._unit(known, c.officer, c.unit_no),
                    detail=f"文件 {c.name_on_device} 拍摄后 {_hours(late)} 小时才入库"
                           f"（时限 {_hours(r.upload_within)} 小时）"))
        for group in dockings(clips):
            docked = group[0].acquired_at
            newest = max(group, key=recording_end)
            late = docked - recording_end(newest)
            if late > r.dock_within:
                c = group[0]
                out.append(Alert(
                    id=f"dock_late:{c.device}:{c.acquired_index}", rule="dock_late", at=docked,
                    person=c.officer, unit=self._unit(known, c.officer, c.unit_no),
                    detail=f"执法记录仪 {c.device} 最后一次录制结束后 {_hours(late)} 小时"
                           f"才接入采集站（时限 {_hours(r.dock_within)} 小时；"
                           f"本次 {len(group)} 个文件）"))
        return out

    def _acknowledgements(self) -> dict[str, Acknowledgement]:
        """The latest acknowledgement of each alert id, read from the ledger's
        ``alert_acknowledged`` entries (one per acknowledgement: few)."""
        latest: dict[str, Acknowledgement] = {}
        for row in self.entries.find_kinds([EntryKind.ALERT_ACKNOWLEDGED.value]):
            entry = decode_entry(row.data)
            body = AlertAcknowledgedBody.from_body(entry.body)
            latest[entry.subject] = Acknowledgement(by=entry.actor, at=entry.at,
                                                    note=body.note, index=row.index)
        return latest

    def acknowledge(self, alert: Alert, note: str, *, actor: str) -> Acknowledgement:
        """Record that ``actor`` looked into ``alert`` (an ``alert_acknowledged`` entry). The
        caller found ``alert`` by :meth:`compute` within the actor's units; a second
        acknowledgement is recorded too and the latest is shown."""
        text = check_text("处理说明", note, max_chars=MAX_NOTE_CHARS)
        receipt = self.writer.append(AlertAcknowledgedBody(rule=alert.rule, note=text),
                                     subject=alert.id, actor=actor)
        return Acknowledgement(by=actor, at=self.clock(), note=text, index=receipt.index)

    def find(self, alert_id: str, start: datetime, end: datetime, *,
             units: Collection[str] | None) -> Alert:
        for alert in self.compute(start, end, units=units):
            if alert.id == alert_id:
                return alert
        raise NotFoundError(f"该时间段内没有预警 {alert_id[:80]} (no such alert in the period)")


CSV_HEADER = ("预警编号", "规则", "时间(UTC)", "人员警号", "单位", "说明", "处理人",
              "处理时间(UTC)", "处理说明")


def cell(value: str) -> str:
    """A CSV cell Excel will not run as a formula (OWASP CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def alerts_csv(alerts: Iterable[Alert]) -> bytes:
    """The alerts as CSV, UTF-8 with a byte-order mark so that Excel opens the Chinese."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_HEADER)
    for a in alerts:
        ack = a.acknowledged
        w.writerow([cell(v) for v in (
            a.id, a.rule_zh, a.at.isoformat(), a.person, a.unit, a.detail,
            ack.by if ack else "", ack.at.isoformat() if ack else "", ack.note if ack else "")])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
