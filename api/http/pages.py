"""The pages case officers use (docs/web.md), under ``/ui``: sign-in, clip search, a clip's
page with purpose-gated playback, attaching clips to case steps, cases and their completeness.
The auditors' pages are in ``pages_audit.py``; the framework (sessions, CSRF, error pages) in
``web.py``."""


from __future__ import annotations

import dataclasses
import logging
import posixpath
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import FileResponse, RedirectResponse

from access.login import SignInRefusedError
from access.passwords import MAX_PASSWORD_CHARS
from api.compose import Services
from api.console import printable
from api.http import pages_admin, pages_audit, pages_supervision
from api.http.auth import TOKEN_COOKIE, Principal, public
from api.http.ranges import copy_response, parse_range
from api.http.rest_cases import editor
from api.http.web import (
    DISPLAY_TZ,
    EDITORS,
    MEDIA_TYPES,
    PAGES_DIR,
    PREFIX,
    STATIC_FILES,
    VARIANT_LABELS,
    CaseworkPage,
    Csrf,
    Editor,
    LoginDep,
    PageRoute,
    Reader,
    basename,
    check_csrf,
    client_of,
    page,
    same_origin,
    see_other,
    set_session_cookies,
    sha_in_path,
    signin_redirect,
)
from evidence.completeness import CompletenessReport
from evidence.errors import (
    ConflictError,
)
from evidence.identity import MAX_PURPOSE_CHARS, InvalidInputError, canonical_purpose
from evidence.records import Access, Clip, ClipQuery

log = logging.getLogger("liuhen.web")

router = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)


# --- public: static files, sign-in, sign-out --------------------------------------------------

@router.get("/static/{name}", name="web_static", dependencies=[Depends(public)])
def static(name: str) -> Response:
    if name not in STATIC_FILES:
        raise HTTPException(status_code=404, detail=f"no static file {name!r}")
    return FileResponse(PAGES_DIR / "static" / name, media_type="text/css",
                        headers={"Cache-Control": "max-age=3600"})


@router.get("/signin", name="web_signin", dependencies=[Depends(public)])
def signin_form(request: Request) -> Response:
    return page(request, "signin.html", who=None, title="登录 Sign in")


@router.post("/signin", dependencies=[Depends(public)])
def signin(request: Request, *, login: LoginDep,
           officer_no: Annotated[str, Form(max_length=64)],
           password: Annotated[str, Form(max_length=MAX_PASSWORD_CHARS)]) -> Response:
    same_origin(request)
    try:
        secret, _session = login.password(officer_no, password, client=client_of(request))
    except SignInRefusedError as exc:
        return page(request, "signin.html", who=None, title="登录 Sign in", status_code=401,
                    error=str(exc), officer_no=officer_no[:32])
    response = see_other(request, "web_home")
    set_session_cookies(request, response, secret)
    return response


@router.post("/signout", name="web_signout", dependencies=[Depends(public)])
def signout(request: Request, *, login: LoginDep, csrf: Csrf = "") -> Response:
    if request.cookies.get(TOKEN_COOKIE):
        check_csrf(request, csrf)
        caller = login.authenticate(request.cookies.get(TOKEN_COOKIE, ""))
        if caller is not None:
            login.logout(caller)  # ended on the server: the old cookie is refused from now on
    response = signin_redirect(request)
    response.headers["Location"] += "?done=signed-out"
    return response


@router.get("/", name="web_home")
def home(request: Request, *, who: Reader) -> Response:
    return page(request, "home.html", who=who, title="首页 Home")


# --- case officers: clips -----------------------------------------------------------------------

def _local_time(cw: Services, what: str, text: str | None) -> datetime | None:
    """A ``datetime-local`` form value, read in DISPLAY_TZ, within the bureau's years."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"{what} {text[:40]!r} 不是日期和时间 (not a date and time)"
                                ) from None
    # In UTC: SQLite keeps the catalogue's times as naive UTC text, compared as text.
    local = moment if moment.tzinfo else moment.replace(tzinfo=DISPLAY_TZ)
    return cw.cases.years.check(what, local)


@router.get("/clips", name="web_clips")
def clips(request: Request, *, who: Reader, cw: CaseworkPage,
          officer: str | None = None, device: str | None = None, start: str | None = None,
          end: str | None = None, case: str | None = None, step: str | None = None) -> Response:
    q = {"officer": officer, "device": device, "start": start, "end": end, "case": case,
         "step": step}
    q = {k: (v.strip() if v else None) or None for k, v in q.items()}  # checked by Services
    searched = any(q.values()) or "officer" in request.query_params
    found: list[Clip] = []
    if searched:
        query = ClipQuery(officer=q["officer"], device=q["device"],
                          start=_local_time(cw, "start", q["start"]),
                          end=_local_time(cw, "end", q["end"]), case_id=q["case"],
                          step_id=q["step"], limit=200)
        found = cw.cases.clips(cw.scopes.query(who.scope, query))
    return page(request, "clips.html", who=who, title="查找视频 Clips", q=q, clips=found,
                 searched=searched)


def _my_access(cw: Services, who: Principal, sha: str, index: int | None) -> Access | None:
    return None if index is None else cw.access.grant(sha, index, actor=who.name,
                                                      role=who.role.value)


@router.get("/clips/{sha256}", name="web_clip")
def clip_page(request: Request, *, sha256: str, who: Reader, cw: CaseworkPage,
              access: int | None = None) -> Response:
    sha = sha_in_path(sha256)
    clip = cw.scopes.clip(who.scope, sha)
    links = cw.cases.links(sha256=sha, current_only=True)
    choices = []
    if who.role in EDITORS:
        names = {k.code: k.name for k in cw.cases.step_kinds()}
        choices = [(c, [(s, names.get(s.code, s.code)) for s in c.steps])
                   for c in cw.cases.cases(limit=100) if c.steps]
    variants = [v for v in ("playback", "proxy", "original") if getattr(clip, v) is not None]
    if clip.disposed_index is not None:
        variants = []
    return page(request, "clip.html", who=who, title=f"视频 Clip {sha[:12]}", clip=clip,
                 links=links, step_choices=choices, variants=variants,
                 variant_labels=VARIANT_LABELS, max_purpose=MAX_PURPOSE_CHARS,
                 grant=_my_access(cw, who, sha, access))


@router.post("/clips/{sha256}/access", name="web_access")
def access_clip(request: Request, *, sha256: str, who: Reader, cw: CaseworkPage, csrf: Csrf,
                purpose: Annotated[str, Form(max_length=MAX_PURPOSE_CHARS * 4)] = "",
                variant: Annotated[str, Form(max_length=16)] = "playback",
                action: Annotated[str, Form(max_length=16)] = "play") -> Response:
    """Record the access with its purpose (``accessed`` in the ledger), then show the player."""
    check_csrf(request, csrf)
    sha = sha_in_path(sha256)
    clip = cw.scopes.clip(who.scope, sha)
    canonical_purpose(purpose)  # a missing purpose is refused before a grant is used
    cw.approvals.use(who.account, who.scope, clip, variant=variant)  # grant_used, or 403
    opened_action = "download" if action == "download" else "play"
    opened = cw.access.open(sha, action=opened_action, variant=variant,
                       purpose=canonical_purpose(purpose), actor=who.name, role=who.role.value)
    opened.stream.close()  # the bytes go out through the media route, under this access
    index = opened.access_index
    if index is None:  # not a continuation, so never coalesced: recorded, or it raised
        raise ConflictError("调阅未能记录，请重新填写事由 (the access was not recorded; state "
                            "the purpose again)")
    return see_other(request, "web_clip", query=f"access={index}", sha256=sha)


def _media_type(key: str) -> str:
    return MEDIA_TYPES.get(posixpath.splitext(key)[1].lower(), "application/octet-stream")




@router.get("/clips/{sha256}/media/{variant}", name="web_media")
def media(request: Request, *, sha256: str, variant: str, who: Reader, cw: CaseworkPage,
          access: int) -> Response:
    """Stream a copy for a recorded access of this user (``access`` = its ledger index): inline
    for a ``play`` access, as an attachment for a ``download`` one."""
    sha = sha_in_path(sha256)
    granted = _my_access(cw, who, sha, access)
    if granted is None or granted.variant != variant:
        raise HTTPException(status_code=403, detail="请先在视频页面填写调阅事由 (state a purpose "
                            "on the clip page first: "
                            "this access is not yours, not for this copy, or has expired")
    clip = cw.scopes.clip(who.scope, sha)
    obj = getattr(clip, variant, None)
    wanted = parse_range(request.headers.get("range"), obj.size) if obj is not None else None
    # part of the recorded access (recorded again past ACCESS_COALESCE, and as a download when
    # it reads the whole copy)
    whole = (0, obj.size - 1) if obj is not None else (0, 0)
    opened = cw.access.open(sha, action=granted.action, variant=variant, purpose=granted.purpose,
                       actor=who.name, role=who.role.value, case_id=granted.case_id,
                       byte_range=whole if wanted is None else (wanted.start, wanted.end))
    suffix = posixpath.splitext(opened.object.key)[1].lower()
    filename = (basename(clip.name_on_device) if variant == "original"
                else f"{sha[:16]}-{variant}{suffix}")
    download = granted.action == "download"
    disposition = "attachment" if download else "inline"
    media_type = "application/octet-stream" if download else _media_type(opened.object.key)
    return copy_response(opened.stream, size=opened.object.size, wanted=wanted,
                         media_type=media_type,
                         disposition=f"{disposition}; filename*=UTF-8''{quote(filename)}",
                         what=f"{variant} of {sha}",
                         headers={"X-Content-Type-Options": "nosniff"})


def _target(target: str) -> tuple[str, str]:
    case_id, sep, step_id = target.rpartition("|")
    if not sep or not case_id or not step_id:
        raise InvalidInputError("请选择案件的执法环节 (choose a case step)")
    return case_id, step_id


@router.post("/clips/{sha256}/attach", name="web_attach")
def attach(request: Request, *, sha256: str, who: Editor, cw: CaseworkPage, csrf: Csrf,
           target: Annotated[str, Form(max_length=200)]) -> Response:
    check_csrf(request, csrf)
    case_id, step_id = _target(target)
    sha = sha_in_path(sha256)
    cw.scopes.clip(who.scope, sha)
    cw.cases.link(case_id, step_id, sha, actor=who.name, editor=editor(who, cw))
    return see_other(request, "web_clip", query="done=attached", sha256=sha_in_path(sha256))


@router.post("/clips/{sha256}/detach", name="web_detach")
def detach(request: Request, *, sha256: str, who: Editor, cw: CaseworkPage, csrf: Csrf,
           case: Annotated[str, Form(max_length=100)],
           step: Annotated[str, Form(max_length=32)]) -> Response:
    check_csrf(request, csrf)
    cw.cases.unlink(case, step, sha_in_path(sha256), actor=who.name, editor=editor(who, cw))
    return see_other(request, "web_clip", query="done=detached", sha256=sha_in_path(sha256))


# --- cases and completeness ---------------------------------------------------------------

@router.get("/cases", name="web_cases")
def cases(request: Request, *, who: Reader, cw: CaseworkPage) -> Response:
    return page(request, "cases.html", who=who, title="案件 Cases",
                 cases=cw.cases.cases(limit=200))


@router.get("/cases/{case_id}", name="web_case")
def case_page(request: Request, *, case_id: str, who: Reader, cw: CaseworkPage) -> Response:
    case = cw.cases.case(case_id)
    kinds = {k.code: k for k in cw.cases.step_kinds()}
    links = cw.cases.links(case_id=case_id, current_only=True)
    clips_by_step: dict[str, list[Clip]] = {}
    for link in links:
        if cw.scopes.visible(who.scope, link.sha256):
            clips_by_step.setdefault(link.step_id, []).append(cw.cases.clip(link.sha256))
    report: CompletenessReport = cw.cases.completeness(case_id)
    if not who.scope.everything:  # computed on every clip; names only those the caller sees
        report = dataclasses.replace(
            report, not_counted=tuple(n for n in report.not_counted
                                      if cw.scopes.visible(who.scope, n.sha256)),
            unknown_duration=tuple(s for s in report.unknown_duration
                                   if cw.scopes.visible(who.scope, s)))
    return page(request, "case.html", who=who, title=f"案件 Case {case.case_id}", case=case,
                 kinds=kinds, clips_by_step=clips_by_step, report=report)


router.include_router(pages_audit.router)  # before the catch-all below
router.include_router(pages_supervision.router)
router.include_router(pages_admin.router)


# --- what no route above answers -----------------------------------------------------------------
# Declared last: routes match in order, so this one only sees the paths no page has.

@router.get("/{unknown:path}", name="web_not_found", dependencies=[Depends(public)])
def not_found(unknown: str) -> Response:
    raise HTTPException(status_code=404, detail=f"没有这个页面：/ui/{printable(unknown[:200])}")


front_door = APIRouter(include_in_schema=False)
"""``/``: a person who types the server's address lands on the pages, not on a JSON 404."""


@front_door.get("/", dependencies=[Depends(public)])
def root(request: Request) -> Response:
    return RedirectResponse(str(request.url_for("web_home")), status_code=307)
