"""REST: cases, their steps (执法环节), step kinds, attaching clips, completeness, access logs
of a case. Who may call what: docs/api.md §Roles."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from api.compose import Services
from api.http.auth import Principal, Role, allow
from api.http.deps import CaseworkDep
from api.http.errors import ERROR_RESPONSES
from api.http.schemas import (
    SHA256_PATTERN,
    AccessOut,
    CaseDetailOut,
    CaseIn,
    CaseOfficerIn,
    CaseOut,
    CompletenessOut,
    LinkIn,
    LinkOut,
    StepIn,
    StepKindIn,
    StepKindOut,
    StepOut,
    StepWindowIn,
)
from cases.casework import CaseEditor
from evidence.errors import NotFoundError
from evidence.records import Access

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["cases"])

Readers = Annotated[Principal, Depends(allow(Role.OFFICER, Role.LEADER, Role.AUDITOR,
                                              Role.ADMIN))]
Editors = Annotated[Principal, Depends(allow(Role.OFFICER, Role.LEADER, Role.ADMIN))]
Supervisors = Annotated[Principal, Depends(allow(Role.LEADER, Role.AUDITOR, Role.ADMIN))]
Admins = Annotated[Principal, Depends(allow(Role.ADMIN))]

CaseIdPath = Annotated[str, Path(min_length=1, max_length=100, description="case number")]
StepIdPath = Annotated[str, Path(min_length=1, max_length=32)]
ShaPath = Annotated[str, Path(pattern=SHA256_PATTERN, description="clip SHA-256")]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def editor(who: Principal, cw: CaseworkDep) -> CaseEditor | None:
    """The caller as cases/casework.py checks case ownership."""
    return cw.scopes.editor(who.account, name=who.name, everything=who.scope.everything)


def visible_accesses(cw: Services, who: Principal, found: list[Access]) -> list[Access]:
    """The accesses of clips in the caller's scope (the others are left out, uncounted)."""
    if who.scope.everything:
        return found
    seen: dict[str, bool] = {}
    return [a for a in found
            if seen.setdefault(a.sha256, cw.scopes.visible(who.scope, a.sha256))]


def _detail(cw: CaseworkDep, case_id: str, who: Principal) -> CaseDetailOut:
    """A case with its links to the clips the caller may see (the others are left out: a
    clip's existence does not leak through a case)."""
    case = cw.cases.case(case_id)
    seen: dict[str, bool] = {}
    links = [LinkOut.of(lk) for lk in cw.cases.links(case_id=case_id)
             if who.scope.everything
             or seen.setdefault(lk.sha256, cw.scopes.visible(who.scope, lk.sha256))]
    return CaseDetailOut(**CaseOut.of(case).model_dump(), links=links)


@router.post("/cases", status_code=201, summary="open a case")
def open_case(body: CaseIn, who: Editors, cw: CaseworkDep) -> CaseDetailOut:
    case = cw.cases.open_case(body.case_id, title=body.title, unit_no=body.unit_no,
                              major=body.major, actor=who.name)
    return _detail(cw, case.case_id, who)


@router.get("/cases", summary="list cases, newest first")
def list_cases(who: Readers, cw: CaseworkDep, limit: Limit = 100,
               offset: Offset = 0) -> list[CaseOut]:
    return [CaseOut.of(c) for c in cw.cases.cases(limit=limit, offset=offset)]


@router.get("/cases/{case_id}", summary="a case with its steps and links")
def get_case(case_id: CaseIdPath, who: Readers, cw: CaseworkDep) -> CaseDetailOut:
    return _detail(cw, case_id, who)


@router.post("/cases/{case_id}/steps", status_code=201, summary="record a step of a case")
def add_step(case_id: CaseIdPath, body: StepIn, who: Editors, cw: CaseworkDep) -> StepOut:
    return StepOut.of(cw.cases.record_step(case_id, code=body.code, step_id=body.step_id,
                                     started_at=body.started_at, ended_at=body.ended_at,
                                     officer=body.officer, actor=who.name,
                                     editor=editor(who, cw)))


@router.put("/cases/{case_id}/steps/{step_id}",
            summary="correct a step's time window or officer (fields left out are kept)")
def correct_step(case_id: CaseIdPath, step_id: StepIdPath, body: StepWindowIn, who: Editors,
                 cw: CaseworkDep) -> StepOut:
    step = next((s for s in cw.cases.case(case_id).steps if s.step_id == step_id), None)
    if step is None:
        raise NotFoundError(f"case {case_id!r} has no step {step_id!r}")
    sent = body.model_fields_set  # fields left out keep their recorded value
    return StepOut.of(cw.cases.record_step(
        case_id, code=step.code, step_id=step_id, actor=who.name, correct=True,
        editor=editor(who, cw),
        started_at=body.started_at if "started_at" in sent else step.started_at,
        ended_at=body.ended_at if "ended_at" in sent else step.ended_at,
        officer=body.officer if "officer" in sent else step.officer))


@router.get("/step-kinds", summary="the 执法环节 catalogue with recording rules",
            tags=["step kinds"])
def list_step_kinds(who: Readers, cw: CaseworkDep) -> list[StepKindOut]:
    return [StepKindOut.of(k) for k in cw.cases.step_kinds()]


@router.post("/step-kinds", status_code=201, summary="define or redefine a bureau's own 执法环节",
             tags=["step kinds"])
def define_step_kind(body: StepKindIn, who: Admins, cw: CaseworkDep) -> StepKindOut:
    return StepKindOut.of(cw.cases.define_step_kind(body.code, name=body.name, rule=body.rule,
                                              actor=who.name))


@router.post("/cases/{case_id}/steps/{step_id}/links", status_code=201,
             summary="attach a clip to a step (extends its retention: case evidence is kept)",
             responses={200: {"model": LinkOut,
                              "description": "attached already: the existing link"}})
def link_clip(case_id: CaseIdPath, step_id: StepIdPath, body: LinkIn, *, who: Editors,
              cw: CaseworkDep, response: Response) -> LinkOut:
    sha = body.sha256.lower()
    cw.scopes.clip(who.scope, sha)  # attaching needs to see the clip
    link, created = cw.cases.link(case_id, step_id, sha, actor=who.name,
                                  editor=editor(who, cw))
    if not created:
        response.status_code = 200
    return LinkOut.of(link)


@router.delete("/cases/{case_id}/steps/{step_id}/links/{sha256}",
               summary="detach a clip from a step (an `unlinked` entry; nothing is deleted)")
def unlink_clip(case_id: CaseIdPath, step_id: StepIdPath, sha256: ShaPath, who: Editors,
                cw: CaseworkDep) -> LinkOut:
    return LinkOut.of(cw.cases.unlink(case_id, step_id, sha256.lower(), actor=who.name,
                                      editor=editor(who, cw)))


@router.post("/cases/{case_id}/officers", summary="put an officer on a case (主办/协办) or off it")
def assign_officer(case_id: CaseIdPath, body: CaseOfficerIn, who: Editors,
                   cw: CaseworkDep) -> CaseDetailOut:
    cw.cases.assign_officer(case_id, body.officer, duty=body.duty, on=body.on, actor=who.name,
                            editor=editor(who, cw))
    return _detail(cw, case_id, who)


@router.get("/cases/{case_id}/completeness", summary="recording completeness of a case")
def case_completeness(case_id: CaseIdPath, who: Readers, cw: CaseworkDep,
                      gap_s: Annotated[int, Query(ge=1, le=86_400,
                                                  description="smallest gap reported, s")] = 60,
                      ) -> CompletenessOut:
    gap = timedelta(seconds=gap_s)
    out = CompletenessOut.of(cw.cases.completeness(case_id, gap_threshold=gap))
    if who.scope.everything:
        return out
    # computed on every clip of the case; names only the clips the caller may see
    return out.model_copy(update={
        "not_counted": [n for n in out.not_counted if cw.scopes.visible(who.scope, n.sha256)],
        "unknown_duration": [s for s in out.unknown_duration
                             if cw.scopes.visible(who.scope, s)]})


@router.get("/cases/{case_id}/accesses", summary="who viewed the case's clips, and why",
            tags=["access log"])
def case_accesses(case_id: CaseIdPath, who: Supervisors, cw: CaseworkDep,
                  limit: Limit = 500) -> list[AccessOut]:
    found = cw.access.log(case_id=case_id, limit=limit)
    return [AccessOut.of(a) for a in visible_accesses(cw, who, found)]
