"""Case work in the pages (issue 16 item 4), under ``/ui/cases``: open a case, record and
correct its steps with a 执法环节 picker, attach clips from suggestions, and what the case page
shows beside its completeness report (the suggestions and the timeline). Every change goes
through cases/casework.py with the caller as editor, so the ownership rules of the REST API
hold here too (docs/access.md §Case ownership)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from api.compose import Services
from api.http import timeline
from api.http.auth import Principal
from api.http.rest_cases import editor
from api.http.timeline import shift
from api.http.web import (
    DISPLAY_TZ,
    CaseworkPage,
    Csrf,
    Editor,
    PageRoute,
    check_csrf,
    page,
    see_other,
    sha_in_path,
)
from evidence.completeness import CompletenessReport
from evidence.identity import InvalidInputError
from evidence.records import Case, CaseStep, Clip, ClipQuery
from evidence.steps import RecordingRule

router = APIRouter(route_class=PageRoute, include_in_schema=False)  # under pages.router (/ui)

SUGGEST_MARGIN = timedelta(minutes=30)
"""Recordings this long before or after a step's window are still suggested for it."""
SUGGESTIONS = 5
RULE_NAMES = {RecordingRule.REQUIRED: "必须录像", RecordingRule.SHOULD: "应当录像",
              RecordingRule.OPTIONAL: "可选"}
Text = Annotated[str, Form(max_length=200)]
Moment = Annotated[str, Form(max_length=40)]


def _local(cw: Services, what: str, text: str) -> datetime | None:
    """A ``datetime-local`` form value, read in UTC+8, within the bureau's years."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInputError(f"{what} {text[:40]!r} 不是日期和时间 (not a date and time)"
                                ) from None
    return cw.cases.years.check(what, moment if moment.tzinfo else
                                moment.replace(tzinfo=DISPLAY_TZ))


# --- open a case -----------------------------------------------------------------------------

@router.get("/new-case", name="web_case_new")
def new_case(request: Request, *, who: Editor, cw: CaseworkPage) -> Response:
    units = cw.accounts.repo.units()
    mine = who.account.unit if who.account is not None else ""
    return page(request, "case_new.html", who=who, title="立案 Open a case", units=units,
                 unit=mine)


@router.post("/new-case", name="web_case_create")
def create_case(request: Request, *, who: Editor, cw: CaseworkPage, csrf: Csrf,
                case_id: Text, title: Text, unit: Annotated[str, Form(max_length=32)] = "",
                major: Annotated[str, Form(max_length=8)] = "") -> Response:
    check_csrf(request, csrf)
    case = cw.cases.open_case(case_id, title=title, unit_no=unit, major=major == "on",
                              actor=who.name)
    return see_other(request, "web_case", query="done=opened", case_id=case.case_id)


# --- steps -----------------------------------------------------------------------------------

@router.post("/cases/{case_id}/steps", name="web_step_add")
def add_step(request: Request, *, case_id: str, who: Editor, cw: CaseworkPage, csrf: Csrf,
             code: Annotated[str, Form(max_length=32)], started_at: Moment = "",
             ended_at: Moment = "", officer: Annotated[str, Form(max_length=32)] = "") -> Response:
    check_csrf(request, csrf)
    cw.cases.record_step(case_id, code=code, started_at=_local(cw, "开始时间", started_at),
                         ended_at=_local(cw, "结束时间", ended_at),
                         officer=officer.strip() or None, actor=who.name,
                         editor=editor(who, cw))
    return see_other(request, "web_case", query="done=step-recorded", case_id=case_id)


@router.post("/cases/{case_id}/steps/{step_id}", name="web_step_correct")
def correct_step(request: Request, *, case_id: str, step_id: str, who: Editor,
                 cw: CaseworkPage, csrf: Csrf, started_at: Moment = "", ended_at: Moment = "",
                 officer: Annotated[str, Form(max_length=32)] = "") -> Response:
    """A corrected window (and officer) of a step; its code never changes (casework.py)."""
    check_csrf(request, csrf)
    step = _step(cw.cases.case(case_id), step_id)
    cw.cases.record_step(case_id, code=step.code, step_id=step.step_id,
                         started_at=_local(cw, "开始时间", started_at),
                         ended_at=_local(cw, "结束时间", ended_at),
                         officer=officer.strip() or None, actor=who.name, correct=True,
                         editor=editor(who, cw))
    return see_other(request, "web_case", query="done=step-corrected", case_id=case_id)


@router.post("/cases/{case_id}/steps/{step_id}/attach", name="web_step_attach")
def attach_suggested(request: Request, *, case_id: str, step_id: str, who: Editor,
                     cw: CaseworkPage, csrf: Csrf,
                     sha256: Annotated[str, Form(max_length=64)]) -> Response:
    check_csrf(request, csrf)
    sha = sha_in_path(sha256)
    cw.scopes.clip(who.scope, sha)
    cw.cases.link(case_id, step_id, sha, actor=who.name, editor=editor(who, cw))
    return see_other(request, "web_case", query="done=attached", case_id=case_id)


def _step(case: Case, step_id: str) -> CaseStep:
    for step in case.steps:
        if step.step_id == step_id:
            return step
    raise InvalidInputError(f"案件没有环节 {step_id[:32]!r} (no such step)")


# --- what the case page shows beside the report -----------------------------------------------

@dataclass(frozen=True)
class Suggestion:
    clip: Clip
    overlap_s: float
    """Seconds of the recording inside the step's window (0: only near it)."""
    distance_s: float
    """Seconds between the recording and the window when they do not overlap."""


def overlap(step: CaseStep, clip: Clip) -> tuple[float, float]:
    """(seconds of ``clip`` inside the step's window, seconds between them when apart)."""
    assert step.started_at is not None and step.ended_at is not None  # noqa: S101 - caller
    start = clip.captured_at
    end = start + timedelta(milliseconds=clip.duration_ms or 0)
    inside = (min(end, step.ended_at) - max(start, step.started_at)).total_seconds()
    if inside >= 0 and end > start:
        return inside, 0.0
    apart = max((step.started_at - end).total_seconds(), (start - step.ended_at).total_seconds())
    return 0.0, max(apart, 0.0)


def suggestions(cw: Services, who: Principal, case: Case, step: CaseStep,
                linked: set[str]) -> list[Suggestion]:
    """The step officer's (else the case's officers') recordings around the step's window,
    in the caller's scope and not yet attached to it, ranked by overlap, then by closeness."""
    if step.started_at is None or step.ended_at is None:
        return []
    officers = [step.officer] if step.officer else [o.officer for o in case.officers]
    found: dict[str, Clip] = {}
    for officer in officers[:5]:
        query = ClipQuery(officer=officer, start=shift(step.started_at, -SUGGEST_MARGIN),
                          end=shift(step.ended_at, SUGGEST_MARGIN), limit=50)
        try:
            near = cw.cases.clips(cw.scopes.query(who.scope, query))
        except InvalidInputError:  # a window outside the bureau's years: nothing to suggest
            return []
        for clip in near:
            if clip.sha256 not in linked and clip.disposed_index is None:
                found[clip.sha256] = clip
    ranked = [Suggestion(c, *overlap(step, c)) for c in found.values()]
    ranked.sort(key=lambda s: (-s.overlap_s, s.distance_s, s.clip.captured_at))
    return ranked[:SUGGESTIONS]


def case_extras(request: Request, cw: Services, who: Principal, case: Case, *,
                clips_by_step: dict[str, list[Clip]],
                report: CompletenessReport) -> dict[str, Any]:
    """The case page's step picker, suggestions per step (for editors) and timeline."""
    kinds = cw.cases.step_kinds()
    names = {str(k.code): k.name for k in kinds}
    suggested: dict[str, list[Suggestion]] = {}
    if who.role.value in ("officer", "leader", "admin"):
        for step in case.steps:
            linked = {str(c.sha256) for c in clips_by_step.get(step.step_id, [])}
            suggested[step.step_id] = suggestions(cw, who, case, step, linked)
    href = {str(c.sha256): str(request.url_for("web_clip", sha256=c.sha256))
            for cs in clips_by_step.values() for c in cs}
    drawn = timeline.build(case.steps, names, clips_by_step, report.gaps, href=href,
                           local=DISPLAY_TZ)
    return {"step_kinds": kinds, "rule_names": RULE_NAMES, "suggested": suggested,
            "timeline": drawn, "timeline_width": timeline.WIDTH,
            "timeline_label_w": timeline.LABEL_W, "local_input": _input_value}


def _input_value(moment: datetime | None) -> str:
    """A time as a ``datetime-local`` field's value, in UTC+8."""
    if moment is None:
        return ""
    try:
        return moment.astimezone(DISPLAY_TZ).strftime("%Y-%m-%dT%H:%M:%S")
    except OverflowError:  # past year 9999 in UTC+8: the field starts empty
        return ""
