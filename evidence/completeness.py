"""Recording completeness of a case (DESIGN.md §7): the report 法制审核 reads before a major
enforcement decision (重大执法决定).

Pure: the caller hands in the case, the recording rule of every 执法环节 code and the recordings
currently linked to the case; nothing here reads a clock, a database or a file.

What the report says, per step of the case:

1. A ``required`` step (查封扣押, 强制拆除, ...) without a *counted* recording linked to it.
2. A ``should`` step (现场检查, 调查取证, 听证, ...) without one.
3. For ``required`` and ``should`` steps with a complete time window and at least one counted
   recording: the stretches of the window that no counted recording covers, when at least
   ``gap_threshold`` long. A recording covers ``[captured_at, captured_at + duration)``.

A recording *counts* when its original is stored (the ``stored`` entry: the store verified the
exact version) and it is neither quarantined (unplayable media) nor disposed. Linked recordings
that do not count are listed with the reason, so the reviewer sees them rather than nothing.

Fail closed: a step whose code has no known rule is treated as ``required``; a counted recording
of unknown duration covers no time at all (it is listed under ``unknown_duration``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from evidence.records import Case, CaseStep
from evidence.steps import RecordingRule

DEFAULT_GAP_THRESHOLD = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class LinkedRecording:
    """One clip currently linked to a step of the case, as completeness needs it."""

    sha256: str
    step_id: str
    captured_at: datetime
    duration_ms: int | None
    stored: bool
    """The original is in the store, its exact version verified (a ``stored`` entry)."""
    quarantined: bool = False
    disposed: bool = False

    @property
    def counts(self) -> bool:
        return self.stored and not self.quarantined and not self.disposed

    @property
    def why_not_counted(self) -> str:
        if self.disposed:
            return "disposed"
        if not self.stored:
            return "original not stored and verified yet"
        if self.quarantined:
            return "quarantined: the media does not play"
        return ""


@dataclass(frozen=True, slots=True)
class MissingRecording:
    step_id: str
    code: str
    rule: RecordingRule
    note: str = ""


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch of a step's window that no counted recording covers."""

    step_id: str
    code: str
    rule: RecordingRule
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class NotCounted:
    step_id: str
    sha256: str
    reason: str


@dataclass(frozen=True, slots=True)
class CompletenessReport:
    case_id: str
    major: bool
    gap_threshold: timedelta
    missing_required: tuple[MissingRecording, ...]
    missing_should: tuple[MissingRecording, ...]
    gaps: tuple[Gap, ...]
    not_counted: tuple[NotCounted, ...]
    unknown_duration: tuple[str, ...]
    """SHA-256 of counted recordings whose duration is unknown (no time covered)."""
    no_window: tuple[str, ...]
    """Step ids of required/should steps without both a start and an end: not gap-checked."""
    corrected: tuple[CaseStep, ...] = ()
    """Steps whose window was corrected after it was first recorded: the report is computed on
    the corrected windows, and says so (docs/access.md §Case ownership)."""

    @property
    def corrections_note(self) -> str:
        """``computed on corrected windows: s1 corrected by 000123 at …`` (empty: none)."""
        if not self.corrected:
            return ""
        parts = [f"{s.step_id} corrected by {s.corrected_by} at "
                 f"{s.corrected_at.isoformat() if s.corrected_at else '?'}"
                 for s in self.corrected]
        return ("按更正后的时间窗计算 computed on corrected windows: " + "; ".join(parts))

    @property
    def complete(self) -> bool:
        """No required step lacks a recording and no required step has a gap."""
        return not self.missing_required and not any(
            g.rule is RecordingRule.REQUIRED for g in self.gaps)


def _rule(code: str, rules: Mapping[str, RecordingRule]) -> tuple[RecordingRule, str]:
    if code in rules:
        return rules[code], ""
    return RecordingRule.REQUIRED, f"unknown 执法环节 code {code!r}: treated as required"


def uncovered(start: datetime, end: datetime,
              intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The parts of ``[start, end)`` that no interval ``[a, b)`` covers, in order."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in intervals)
    holes: list[tuple[datetime, datetime]] = []
    cursor = start
    for a, b in clipped:
        if b <= a:
            continue
        if a > cursor:
            holes.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < end:
        holes.append((cursor, end))
    return holes


def _recording_end(start: datetime, duration_ms: int) -> datetime:
    # A recorder's clock may say year 9999: the recording then runs to the end of time.
    try:
        return start + timedelta(milliseconds=duration_ms)
    except OverflowError:
        return datetime.max.replace(tzinfo=start.tzinfo)


def _step_gaps(step: CaseStep, rule: RecordingRule, counted: Sequence[LinkedRecording], *,
               start: datetime, end: datetime, threshold: timedelta) -> list[Gap]:
    covered = [(r.captured_at, _recording_end(r.captured_at, r.duration_ms))
               for r in counted if r.duration_ms is not None and r.duration_ms > 0]
    return [Gap(step_id=step.step_id, code=step.code, rule=rule, start=a, end=b)
            for a, b in uncovered(start, end, covered)
            if b - a >= threshold]


def completeness(case: Case, *, rules: Mapping[str, RecordingRule],
                 recordings: Sequence[LinkedRecording],
                 gap_threshold: timedelta = DEFAULT_GAP_THRESHOLD) -> CompletenessReport:
    """The completeness report of ``case`` (steps in the case's order; module docstring)."""
    if gap_threshold <= timedelta(0):
        raise ValueError("gap_threshold must be positive")
    by_step: dict[str, list[LinkedRecording]] = {}
    for rec in recordings:
        by_step.setdefault(rec.step_id, []).append(rec)
    missing_required: list[MissingRecording] = []
    missing_should: list[MissingRecording] = []
    gaps: list[Gap] = []
    not_counted: list[NotCounted] = []
    unknown_duration: list[str] = []
    no_window: list[str] = []
    for step in case.steps:
        rule, note = _rule(step.code, rules)
        linked = by_step.get(step.step_id, [])
        counted = [r for r in linked if r.counts]
        not_counted += [NotCounted(step.step_id, r.sha256, r.why_not_counted)
                        for r in linked if not r.counts]
        unknown_duration += [r.sha256 for r in counted if r.duration_ms is None]
        if rule is RecordingRule.OPTIONAL:
            continue
        if not counted:
            missing = MissingRecording(step_id=step.step_id, code=step.code, rule=rule, note=note)
            (missing_required if rule is RecordingRule.REQUIRED else missing_should).append(missing)
            continue
        if step.started_at is None or step.ended_at is None:
            no_window.append(step.step_id)
            continue
        gaps += _step_gaps(step, rule, counted, start=step.started_at, end=step.ended_at,
                           threshold=gap_threshold)
    return CompletenessReport(
        case_id=case.case_id, major=case.major, gap_threshold=gap_threshold,
        missing_required=tuple(missing_required), missing_should=tuple(missing_should),
        gaps=tuple(gaps), not_counted=tuple(not_counted),
        unknown_duration=tuple(dict.fromkeys(unknown_duration)), no_window=tuple(no_window),
        corrected=tuple(s for s in case.steps if s.corrected_by is not None))
