"""Case work: cases, steps and their corrections, links of clips to steps, clip search, and
the recording-completeness report (DESIGN.md §7; issue 6).

Every change is a ledger entry appended through the group-committed ``LedgerWriter``, then
folded into the catalogue so that the caller reads what it wrote (docs/catalogue.md). Nothing
is ever updated or deleted: a detach is an ``unlinked`` entry, a corrected step window a second
``case_step`` entry.

Concurrency: several API processes (and stations) may share one database. Case changes (open,
step, link, unlink) are linearizable: each runs under the database's casework lock
(``CaseLock``), reads the catalogue caught up inside it, checks, appends and folds before
releasing, so the check that refuses a second ``case_opened``, a second current link or an
unlink of what is not linked sees every earlier change, from any thread or process.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cases.ports import CaseCatalogue, CaseLock, LinkRetention, OfficerUnits
from evidence.bodies import (
    CaseOfficerBody,
    CaseOpenedBody,
    CaseStepBody,
    EntryBody,
    LinkedBody,
    StepKindDefinedBody,
    UnlinkedBody,
)
from evidence.bodies.casework import CASE_DUTIES
from evidence.completeness import (
    DEFAULT_GAP_THRESHOLD,
    CompletenessReport,
    LinkedRecording,
    completeness,
)
from evidence.errors import ConflictError, NotFoundError, NotPermittedError, PolicyViolationError
from evidence.identity import (
    DEFAULT_OFFICER_NO_PATTERN,
    MAX_CASE_ID_CHARS,
    InvalidInputError,
    canonical_officer_no,
    check_case_id,
    check_lookup,
    check_text,
    confusable_case_id,
)
from evidence.ids import is_sha256_hex
from evidence.records import (
    CLIP_ORDERS,
    Case,
    CaseStep,
    Clip,
    ClipQuery,
    Link,
    OfficerDevice,
)
from evidence.steps import CATALOGUE, RecordingRule, StepKind
from evidence.timerange import YearRange
from ledger.appending import LedgerWriter
from ledger.readmodel import Freshness

MAX_TITLE_CHARS = 200
MAX_ID_CHARS = MAX_CASE_ID_CHARS

_STEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
_KIND_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def check_step_id(step_id: str) -> str:
    if not _STEP_ID.match(step_id):
        raise InvalidInputError(f"环节编号 {step_id[:40]!r} 格式不对：1–32 个 A-Z a-z 0-9 . _ -，"
                                "以字母或数字开头 (step id: 1–32 of A-Z a-z 0-9 . _ -, starting "
                                "with a letter or digit)")
    return step_id


def check_kind_code(code: str) -> str:
    if not _KIND_CODE.match(code):
        raise InvalidInputError(f"执法环节代码 {code[:40]!r} 格式不对：1–32 个 a-z 0-9 _，以字母"
                                "开头 (step kind code: 1–32 of a-z 0-9 _, starting with a "
                                "letter)")
    return code


@dataclass(frozen=True, slots=True)
class CaseEditor:
    """Who asks to change a case (docs/access.md §Case ownership): ``name`` is the 警号 (or
    another actor name); ``admin`` may change any case; ``leads`` are the units (a leader's
    subtree) whose officers' cases they may change."""

    name: str
    admin: bool = False
    leads: frozenset[str] = frozenset()


class _NoAccounts:
    def unit_of(self, officer_no: str) -> str | None:
        return None


COUNTS_KEPT = 256
"""Clip counts kept between catalogue changes (:meth:`Cases.count_clips`)."""


@dataclass
class Cases:
    """Case work over one ledger's writer and read model (built by api/compose.py)."""

    writer: LedgerWriter
    catalogue: CaseCatalogue
    fresh: Freshness
    lock: CaseLock
    retention: LinkRetention
    officer_pattern: str = DEFAULT_OFFICER_NO_PATTERN
    """The bureau's 警号 pattern (``LIUHEN_OFFICER_NO_PATTERN``; evidence/identity.py)."""
    years: YearRange = field(default_factory=YearRange)
    """The times this bureau accepts (``LIUHEN_EARLIEST_YEAR``/``LATEST_YEAR``)."""
    units: OfficerUnits = field(default_factory=_NoAccounts)
    """Accounts' units: who leads whom, who may be put on a case."""
    _counts: dict[ClipQuery, int] = field(default_factory=dict, init=False, repr=False)
    _counted_at: object = field(default=None, init=False, repr=False)

    def _may_change(self, case: Case, editor: CaseEditor | None) -> None:
        """Only the case's officers (主办/协办; its opener while it has none), a leader of one
        of their units, or an admin change a case; anyone else gets NotPermittedError. No
        editor: a caller with no account (the CLI, automation tokens: docs/access.md)."""
        if editor is None or editor.admin:
            return
        officers = {o.officer for o in case.officers} or {case.opened_by}
        if editor.name in officers:
            return
        if editor.leads and any(self.units.unit_of(o) in editor.leads for o in officers):
            return
        raise NotPermittedError(f"{editor.name} 不是案件 {case.case_id!r} 的主办或协办民警，也不是"
                                f"其领导：不能修改此案件 ({editor.name} does not work on case "
                                f"{case.case_id!r} and does not lead its officers)")

    def assign_officer(self, case_id: str, officer: str, *, duty: str, on: bool, actor: str,
                       editor: CaseEditor | None = None) -> Case:
        """Append ``case_officer``: ``officer`` (who must have an account) works on the case as
        ``duty`` (主办/协办), or no longer (``on`` false)."""
        check_lookup("案件编号", case_id)
        number = self.officer_no(officer)
        if duty not in CASE_DUTIES:
            raise InvalidInputError(f"职责 {duty[:10]!r} 无效：只能是 主办 或 协办 (duty: 主办 "
                                    "or 协办)")
        if on and self.units.unit_of(number) is None:
            raise NotFoundError(f"警号 {number} 没有账号 (no account for {number})")
        with self._changing():
            case = self.catalogue.case(case_id)
            self._may_change(case, editor)
            self._record(CaseOfficerBody(officer=number, duty=duty, on=on), case.case_id,
                         actor=actor)
            return self.catalogue.case(case_id)

    def refresh(self, *, force: bool = False) -> None:
        self.fresh.refresh(force=force)

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """A case change: under the casework lock, reading the catalogue caught up inside it
        (module docstring, Concurrency)."""
        with self.lock.hold():
            self.refresh(force=True)
            yield

    def _record(self, body: EntryBody, subject: str, *, actor: str) -> int:
        receipt = self.writer.append(body, subject=subject, actor=actor)
        self.refresh(force=True)
        return receipt.index

    # --- cases and steps -------------------------------------------------------------------

    def cases(self, *, limit: int = 100, offset: int = 0, after: str | None = None,
              before: str | None = None) -> list[Case]:
        """Cases, newest opened first; ``after``/``before``: a page beyond that case number."""
        for cursor in (after, before):
            if cursor is not None:
                check_lookup("案件编号", cursor)
        self.refresh()
        return self.catalogue.cases(limit=limit, offset=offset, after=after, before=before)

    def count_cases(self) -> int:
        self.refresh()
        return self.catalogue.count_cases()

    def case(self, case_id: str) -> Case:
        check_lookup("案件编号", case_id)
        self.refresh()
        return self.catalogue.case(case_id)

    def officer_no(self, value: str) -> str:
        """``value`` as this bureau's canonical 警号 (evidence/identity.py), or refused."""
        return canonical_officer_no(value, pattern=self.officer_pattern)

    def open_case(self, case_id: str, *, title: str, unit_no: str, major: bool,
                  actor: str) -> Case:
        """Append ``case_opened``; ConflictError when the case id is taken, or when it only
        differs from an open case's by case, width or compatibility form (``A-1``/``a-1``)."""
        case_id = check_case_id(case_id)
        title = check_text("案件名称", title, max_chars=MAX_TITLE_CHARS)
        unit_no = check_text("单位编号", unit_no, max_chars=MAX_ID_CHARS, allow_empty=True)
        with self._changing():
            try:
                self.catalogue.case(case_id)
            except NotFoundError:
                pass
            else:
                raise ConflictError(f"案件 {case_id!r} 已立案 (case {case_id!r} is already open)")
            twin = confusable_case_id(case_id, self.catalogue.case_ids())
            if twin is not None:
                raise ConflictError(f"案件编号 {case_id!r} 与已有案件 {twin!r} 只差大小写或全半角，"
                                    f"易混淆：请用 {twin!r} 或另取编号 (case id {case_id!r} looks "
                                    f"like the existing {twin!r})")
            self._record(CaseOpenedBody(title=title, unit_no=unit_no, major=major), case_id,
                         actor=actor)
            if self.units.unit_of(actor) is not None:  # a person opened it: they lead it
                self._record(CaseOfficerBody(officer=actor, duty="主办", on=True), case_id,
                             actor=actor)
            return self.catalogue.case(case_id)

    def record_step(self, case_id: str, *, code: str, step_id: str | None = None,
                    started_at: datetime | None = None, ended_at: datetime | None = None,
                    officer: str | None = None, actor: str, correct: bool = False,
                    editor: CaseEditor | None = None) -> CaseStep:
        """Append ``case_step``: a new step of ``code`` (a known 执法环节), or with ``correct``
        a corrected window of an existing step (its code cannot change). A new step under an
        id the case already has is a ConflictError, never a correction."""
        check_lookup("案件编号", case_id)
        started_at = self.years.check_optional("started_at", started_at)
        ended_at = self.years.check_optional("ended_at", ended_at)
        if started_at and ended_at and ended_at < started_at:
            raise InvalidInputError("结束时间早于开始时间 (ended_at is before started_at)")
        if officer is not None:
            officer = self.officer_no(officer)
        if step_id is None and correct:
            raise PolicyViolationError("name the step to correct")
        if step_id is not None:
            step_id = check_step_id(step_id)
        with self._changing():
            case = self.catalogue.case(case_id)
            self._may_change(case, editor)
            kinds = {k.code for k in self.catalogue.step_kinds()}
            if code not in kinds:
                raise PolicyViolationError(f"unknown 执法环节 code {code!r}; known: "
                                           f"{', '.join(sorted(kinds))}")
            existing = {s.step_id: s for s in case.steps}
            if step_id is None:
                n = len(existing) + 1
                while f"s{n}" in existing:
                    n += 1
                step_id = f"s{n}"
            if correct:
                if step_id not in existing:
                    raise NotFoundError(f"案件 {case_id!r} 没有环节 {step_id!r} (case "
                                        f"{case_id!r} has no step {step_id!r})")
                if existing[step_id].code != code:
                    raise ConflictError(f"step {step_id!r} is {existing[step_id].code!r}; a "
                                        "step's code never changes: record a new step")
            elif step_id in existing:
                raise ConflictError(f"case {case_id!r} already has a step {step_id!r}")
            self._record(CaseStepBody(step=step_id, code=code, started_at=started_at,
                                      ended_at=ended_at, officer=officer),
                         case.case_id, actor=actor)
            return self._step(case_id, step_id)

    def _step(self, case_id: str, step_id: str) -> CaseStep:
        check_lookup("案件编号", case_id)
        for step in self.catalogue.case(case_id).steps:
            if step.step_id == step_id:
                return step
        raise NotFoundError(f"案件 {case_id!r} 没有环节 {step_id!r} (case {case_id!r} has no "
                            f"step {step_id!r})")

    def step_kinds(self) -> list[StepKind]:
        self.refresh()
        return self.catalogue.step_kinds()

    def define_step_kind(self, code: str, *, name: str, rule: str, actor: str) -> StepKind:
        """Append ``step_kind_defined``: a bureau's own 执法环节, or a new rule for one. The
        built-in steps the law requires recorded (查封扣押, 强制拆除, ...) stay required."""
        code = check_kind_code(code)
        name = check_text("环节名称", name, max_chars=MAX_TITLE_CHARS)
        try:
            recording = RecordingRule(rule)
        except ValueError:
            raise PolicyViolationError(f"rule {rule!r}: use one of "
                                       f"{', '.join(r.value for r in RecordingRule)}") from None
        builtin = next((k for k in CATALOGUE if k.code == code), None)
        if builtin is not None and builtin.rule is RecordingRule.REQUIRED \
                and recording is not RecordingRule.REQUIRED:
            raise PolicyViolationError(f"{builtin.name} ({code}) must be recorded in full by law "
                                       "(DESIGN.md §7); its rule cannot be weakened")
        self._record(StepKindDefinedBody(name=name, rule=recording), code, actor=actor)
        return self.catalogue.step_kind(code)

    # --- links -----------------------------------------------------------------------------

    def link(self, case_id: str, step_id: str, sha256: str, *, actor: str,
             editor: CaseEditor | None = None) -> tuple[Link, bool]:
        """Attach a clip to a case step; returns (the link, whether it is new). The clip moves
        to the ``case`` retention class first (the store's lock extended, ``retention_set``
        appended), then ``linked`` is appended: a link is never in the ledger while its clip
        can still expire. Attaching what is attached already answers with that link and
        appends nothing."""
        with self._changing():
            self._step(case_id, step_id)
            self._may_change(self.catalogue.case(case_id), editor)
            clip = self.catalogue.clip(sha256)
            if clip.disposed_index is not None:
                raise PolicyViolationError(f"clip {sha256} was disposed at ledger index "
                                           f"{clip.disposed_index}; it cannot be attached")
            for lk in self.catalogue.links(sha256=sha256, case_id=case_id,
                                                  current_only=True):
                if lk.step_id == step_id:
                    return lk, False
            self.retention.keep_for_case(clip, case_id=case_id, step_id=step_id, actor=actor)
            index = self._record(LinkedBody(case=case_id, step=step_id), sha256, actor=actor)
            return self._link(sha256, index), True

    def _link(self, sha256: str, linked_index: int) -> Link:
        return next(lk for lk in self.catalogue.links(sha256=sha256)
                    if lk.linked_index == linked_index)

    def unlink(self, case_id: str, step_id: str, sha256: str, *, actor: str,
               editor: CaseEditor | None = None) -> Link:
        """Detach: append ``unlinked`` for the clip's current link to that step; ConflictError
        when there is none. The retention the link gave the clip stays (retention only ever
        grows)."""
        with self._changing():
            self._step(case_id, step_id)
            self._may_change(self.catalogue.case(case_id), editor)
            current = [lk for lk in self.catalogue.links(sha256=sha256, case_id=case_id,
                                                                 current_only=True)
                       if lk.step_id == step_id]
            if not current:
                raise ConflictError(f"clip {sha256} is not attached to case {case_id!r} step "
                                    f"{step_id!r}")
            self._record(UnlinkedBody(case=case_id, step=step_id), sha256, actor=actor)
            return self._link(sha256, current[-1].linked_index)

    # --- clips -----------------------------------------------------------------------------

    def clips(self, query: ClipQuery) -> list[Clip]:
        """Search; every filter is checked first (a 警号 in its canonical form, times within
        the bureau's years, no control characters in the others, a known order, page cursors
        that are SHA-256 values)."""
        query = self._checked(query)
        self.refresh()
        return self.catalogue.clips(query)

    def officer_file(self, officer_no: str, *, since: datetime
                     ) -> tuple[list[OfficerDevice], list[datetime], list[str]]:
        """一人一档: ``officer_no``'s recorders (last docked first), the capture times of their
        clips from ``since`` on, and the cases they work on."""
        number = self.officer_no(officer_no)
        since = self.years.check("since", since)
        self.refresh()
        return (self.catalogue.officer_devices(number),
                self.catalogue.captured_since(number, since), self.catalogue.cases_of(number))

    def count_clips(self, query: ClipQuery) -> int:
        """How many clips the search ``query`` finds (its page and order ignored). Kept until
        the catalogue moves on, so that paging through one search counts it once (1M clips:
        ~100 ms on PostgreSQL each time)."""
        query = dataclasses.replace(self._checked(query), order="captured", after=None,
                                    before=None, limit=0, offset=0)
        self.refresh()
        if self._counted_at != self.fresh.cursor or len(self._counts) >= COUNTS_KEPT:
            self._counts, self._counted_at = {}, self.fresh.cursor
        if query not in self._counts:
            self._counts[query] = self.catalogue.count_clips(query)
        return self._counts[query]

    def _checked(self, query: ClipQuery) -> ClipQuery:
        if query.order not in CLIP_ORDERS:
            raise InvalidInputError(f"排序方式 {query.order[:20]!r} 无效 (unknown order; one of "
                                    f"{', '.join(CLIP_ORDERS)})")
        for cursor in (query.after, query.before):
            if cursor is not None and not is_sha256_hex(cursor):
                raise InvalidInputError("翻页位置不是 SHA-256 (the page cursor is not a "
                                        "SHA-256)")
        return dataclasses.replace(
            query, officer=None if query.officer is None else self.officer_no(query.officer),
            device=None if query.device is None else check_lookup("设备编号", query.device),
            case_id=None if query.case_id is None else check_lookup("案件编号", query.case_id),
            step_id=None if query.step_id is None else check_lookup("环节编号", query.step_id),
            start=self.years.check_optional("start", query.start),
            end=self.years.check_optional("end", query.end))

    def clip(self, sha256: str) -> Clip:
        self.refresh()
        return self.catalogue.clip(sha256)

    def links(self, *, sha256: str | None = None, case_id: str | None = None,
              current_only: bool = False) -> list[Link]:
        if case_id is not None:
            check_lookup("案件编号", case_id)
        self.refresh()
        return self.catalogue.links(sha256=sha256, case_id=case_id,
                                           current_only=current_only)

    # --- completeness ----------------------------------------------------------------------

    def completeness(self, case_id: str, *,
                     gap_threshold: timedelta = DEFAULT_GAP_THRESHOLD) -> CompletenessReport:
        case = self.case(case_id)
        rules: dict[str, RecordingRule] = {k.code: k.rule
                                           for k in self.catalogue.step_kinds()}
        recordings = []
        for lk in self.catalogue.links(case_id=case_id, current_only=True):
            clip = self.catalogue.clip(lk.sha256)
            recordings.append(LinkedRecording(
                sha256=clip.sha256, step_id=lk.step_id, captured_at=clip.captured_at,
                duration_ms=clip.duration_ms, stored=clip.original is not None,
                quarantined=clip.quarantine_reason is not None,
                disposed=clip.disposed_index is not None))
        return completeness(case, rules=rules, recordings=recordings,
                            gap_threshold=gap_threshold)
