"""The pages case officers use (docs/web.md), under ``/ui``: sign-in, clip search, a clip's
page with purpose-gated playback, attaching clips to case steps, cases and their completeness.
The auditors' pages are in ``pages_audit.py``; the framework (sessions, CSRF, error pages) in
``web.py``."""


from __future__ import annotations

import dataclasses
import logging
import posixpath
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import quote, unquote, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import FileResponse, RedirectResponse

from access.login import SignInRefusedError
from access.passwords import MAX_PASSWORD_CHARS
from api.compose import Services
from api.console import printable
from api.http import (
    labels,
    pages_admin,
    pages_approvals,
    pages_audit,
    pages_cases,
    pages_officers,
    pages_stations,
    pages_supervision,
)
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
from evidence.errors import ConflictError, NotFoundError
from evidence.identity import MAX_PURPOSE_CHARS, InvalidInputError, canonical_purpose
from evidence.records import Access, Case, Clip, ClipQuery, StoredObject

log = logging.getLogger("liuhen.web")

MAX_THUMB_BYTES = 4 << 20
CASE_PAGE_SIZE = 50

router = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)


# --- public: static files, sign-in, sign-out --------------------------------------------------

@router.get("/static/{name}", name="web_static", dependencies=[Depends(public)])
def static(name: str) -> Response:
    if name not in STATIC_FILES:
        raise HTTPException(status_code=404, detail=f"no static file {name!r}")
    return FileResponse(PAGES_DIR / "static" / name, media_type=STATIC_FILES[name],
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


CLIENT_CERT_HEADER = "x-client-cert"
"""The client certificate a TLCP/TLS gateway verified, URL-encoded PEM (nginx/Tongsuo
``$ssl_client_escaped_cert``); believed only from ``LIUHEN_TRUSTED_PROXIES``."""


@router.post("/signin/certificate", name="web_signin_certificate",
             dependencies=[Depends(public)])
def signin_certificate(request: Request, *, cw: CaseworkPage) -> Response:
    """Sign in with the certificate the gateway forwarded (docs/access.md §SM2 certificate
    login). A header from any other address is refused and logged: anyone can send one."""
    same_origin(request)
    pem = unquote(request.headers.get(CLIENT_CERT_HEADER, "")).encode()
    client = client_of(request)
    trusted = {a.strip() for a in cw.ledger.settings.trusted_proxies.split(",") if a.strip()}
    try:
        if not pem:
            raise SignInRefusedError("没有收到客户端证书：请通过本局的国密网关访问并选择证书 "
                                     "(no client certificate: come through the bureau's "
                                     "TLCP gateway)")
        if client not in trusted:
            cw.certificates.refuse_untrusted(pem, client=client)
        secret, _session = cw.certificates.forwarded(pem, client=client)
    except SignInRefusedError as exc:
        return page(request, "signin.html", who=None, title="登录 Sign in", status_code=401,
                    error=str(exc))
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


PAGE_SIZE = 50
"""Clips per page of the clip list; the page count has no limit (keyset pagination)."""
PRESETS = {"today": ("今天", 0, 1), "yesterday": ("昨天", -1, 0), "7d": ("最近 7 天", -6, 1),
           "30d": ("最近 30 天", -29, 1)}
"""Date presets: (label, first day, day after the last), in days from today in DISPLAY_TZ."""
ORDER_LABELS = {"captured": "拍摄时间（新→旧）", "officer": "警号", "device": "记录仪"}


def date_preset(now: datetime, preset: str | None) -> tuple[datetime, datetime] | None:
    """The capture-time window [start, end) of a date preset, in whole days of DISPLAY_TZ
    around ``now``; None for no preset."""
    if not preset:
        return None
    if preset not in PRESETS:
        raise InvalidInputError(f"日期范围 {preset[:20]!r} 无效 (unknown date preset)")
    _, first, after = PRESETS[preset]
    today = now.astimezone(DISPLAY_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=first), today + timedelta(days=after)


@router.get("/clips", name="web_clips")
def clips(request: Request, *, who: Reader, cw: CaseworkPage,
          officer: str | None = None, device: str | None = None, start: str | None = None,
          end: str | None = None, case: str | None = None, step: str | None = None,
          unit: str | None = None, preset: str | None = None, order: str = "captured",
          after: str | None = None, before: str | None = None) -> Response:
    """Every clip in the caller's scope, newest first unless sorted otherwise, PAGE_SIZE to a
    page by keyset (``after``/``before``: the SHA-256 of the last/first clip of the page
    shown), with the total count of the search."""
    q = {"officer": officer, "device": device, "start": start, "end": end, "case": case,
         "step": step, "unit": unit, "preset": preset}
    q = {k: (v.strip() if v else None) or None for k, v in q.items()}  # checked by Services
    units = [u for u in cw.accounts.repo.units()
             if who.scope.everything or u.code in who.scope.units | who.scope.orphan_units]
    within = None
    if q["unit"]:
        if q["unit"] not in {u.code for u in units}:
            raise InvalidInputError(f"单位 {q['unit'][:20]!r} 不在您的范围内 (no such unit in "
                                    "your scope)")
        within = cw.scopes.for_unit(q["unit"])
    window = date_preset(cw.clock(), q["preset"])
    query = ClipQuery(officer=q["officer"], device=q["device"],
                      start=window[0] if window else _local_time(cw, "start", q["start"]),
                      end=window[1] if window else _local_time(cw, "end", q["end"]),
                      case_id=q["case"], step_id=q["step"], within=within, order=order,
                      after=after or None, before=before or None, limit=PAGE_SIZE + 1)
    query = cw.scopes.query(who.scope, query)
    found = cw.cases.clips(query)
    more = len(found) > PAGE_SIZE
    if query.before is not None:
        found, has_prev, has_next = found[-PAGE_SIZE:], more, True
    else:
        found, has_prev, has_next = found[:PAGE_SIZE], query.after is not None, more
    total = cw.cases.count_clips(query)
    kept = {k: v for k, v in q.items() if v} | ({"order": order} if order != "captured" else {})

    def page_url(**cursor: str) -> str:
        return str(request.url_for("web_clips")) + "?" + urlencode(kept | cursor)

    return page(request, "clips.html", who=who, title="查找视频 Clips", q=q, clips=found,
                 total=total, units=units, presets=PRESETS, orders=ORDER_LABELS, order=order,
                 first_url=page_url() if has_prev else None,
                 prev_url=page_url(before=found[0].sha256) if has_prev and found else None,
                 next_url=page_url(after=found[-1].sha256) if has_next and found else None)


@router.get("/clips/{sha256}/{picture}.jpg", name="web_thumb")
def thumb(sha256: str, picture: str, who: Reader, cw: CaseworkPage) -> Response:
    """A clip's thumbnail (``thumb``) or keyframe strip (``strip``), made by the media stage,
    for a clip in the caller's scope. Not an access to the evidence (no ``accessed`` entry:
    a list of fifty clips would write fifty); the copies themselves stay purpose-gated."""
    if picture not in ("thumb", "strip"):
        raise HTTPException(status_code=404, detail="没有这个图片 (no such picture)")
    clip = cw.scopes.clip(who.scope, sha_in_path(sha256))
    obj = getattr(clip, picture)
    if obj is None or clip.disposed_index is not None:
        raise NotFoundError("该视频没有缩略图 (no thumbnail for this clip)")
    if obj.size > MAX_THUMB_BYTES:
        raise NotFoundError("缩略图过大 (the thumbnail is too large to show)")
    with cw.blobs.open(obj) as stream:
        data = stream.read()  # to the end: the store checks its hash there
    return Response(data, media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=3600",
                             "X-Content-Type-Options": "nosniff"})


def _my_access(cw: Services, who: Principal, sha: str, index: int | None) -> Access | None:
    return None if index is None else cw.access.grant(sha, index, actor=who.name,
                                                      role=who.role.value)


@router.get("/clips/{sha256}", name="web_clip")
def clip_page(request: Request, *, sha256: str, who: Reader, cw: CaseworkPage,
              access: int | None = None, cases_after: str | None = None,
              cases_before: str | None = None) -> Response:
    sha = sha_in_path(sha256)
    clip = cw.scopes.clip(who.scope, sha)
    links = cw.cases.links(sha256=sha, current_only=True)
    choices = []
    cases_shown = None
    if who.role in EDITORS:
        names = {k.code: k.name for k in cw.cases.step_kinds()}
        cases_shown = cases_page(cw, after=cases_after, before=cases_before)
        choices = [(c, [(s, names.get(s.code, s.code)) for s in c.steps])
                   for c in cases_shown.cases if c.steps]
    grant = _my_access(cw, who, sha, access)
    return page(request, "clip.html", who=who, title=f"视频 Clip {sha[:12]}", clip=clip,
                 links=links, step_choices=choices, cases_shown=cases_shown,
                 variants=_variants(clip),
                 actions=_actions(clip), kind=labels.media_kind(clip),
                 variant_labels=VARIANT_LABELS, max_purpose=MAX_PURPOSE_CHARS, grant=grant,
                 grant_type=None if grant is None else _media_type(clip, grant.variant))


def _variants(clip: Clip) -> list[str]:
    """The copies the clip page offers: none once disposed; only the original of a
    quarantined clip (no player for content the media stage refused, DESIGN.md §3 step 4)."""
    if clip.disposed_index is not None:
        return []
    if clip.quarantine_reason:
        return ["original"] if clip.original is not None else []
    return [v for v in ("playback", "proxy", "original") if getattr(clip, v) is not None]


def _actions(clip: Clip) -> list[str]:
    """``play`` (in the page's player) and ``download``; a quarantined clip downloads only."""
    return ["download"] if clip.quarantine_reason else ["play", "download"]


@router.post("/clips/{sha256}/access", name="web_access")
def access_clip(request: Request, *, sha256: str, who: Reader, cw: CaseworkPage, csrf: Csrf,
                purpose: Annotated[str, Form(max_length=MAX_PURPOSE_CHARS * 4)] = "",
                variant: Annotated[str, Form(max_length=16)] = "playback",
                action: Annotated[str, Form(max_length=16)] = "play") -> Response:
    """Record the access with its purpose (``accessed`` in the ledger), then show the player."""
    check_csrf(request, csrf)
    sha = sha_in_path(sha256)
    clip = cw.scopes.clip(who.scope, sha)
    opened_action = "download" if action == "download" else "play"
    if opened_action not in _actions(clip) or variant not in _variants(clip):
        # refused before anything is recorded: no access for a player the page does not show
        raise InvalidInputError(f"此内容已隔离（{labels.quarantine(clip)}），只能下载原始文件 "
                                "(quarantined: only the original can be downloaded)"
                                if clip.quarantine_reason else
                                f"没有这个副本 {variant[:16]!r} (no such copy of this clip)")
    canonical_purpose(purpose)  # a missing purpose is refused before a grant is used
    cw.approvals.use(who.account, who.scope, clip, variant=variant)  # grant_used, or 403
    opened = cw.access.open(sha, action=opened_action, variant=variant,
                       purpose=canonical_purpose(purpose), actor=who.name, role=who.role.value)
    opened.stream.close()  # the bytes go out through the media route, under this access
    index = opened.access_index
    if index is None:  # not a continuation, so never coalesced: recorded, or it raised
        raise ConflictError("调阅未能记录，请重新填写事由 (the access was not recorded; state "
                            "the purpose again)")
    return see_other(request, "web_clip", query=f"access={index}", sha256=sha)


def _suffix(clip: Clip, variant: str) -> str:
    """The copy's file extension: a derivative's key carries it, an original's key does not
    (``originals/ab/<sha>``), so the recorder's file name gives it."""
    obj: StoredObject | None = getattr(clip, variant, None)
    if variant == "original" or obj is None:
        return posixpath.splitext(clip.name_on_device)[1].lower()
    return posixpath.splitext(obj.key)[1].lower()


def _media_type(clip: Clip, variant: str) -> str:
    kind = labels.media_kind(clip)
    media_type = MEDIA_TYPES.get(_suffix(clip, variant), "application/octet-stream")
    if kind == "photo" and not media_type.startswith("image/"):
        return "image/jpeg"  # a photo the media stage kept whatever its name (JPEG-only today)
    return media_type


def download_name(clip: Clip, variant: str) -> str:
    """The name a download gets: the recorder's own file name for the original, its stem with
    the copy's name and extension for a derivative (``20261124_0800_010203.playback.mp4``)."""
    name = basename(clip.name_on_device)
    if variant == "original":
        return name
    return f"{posixpath.splitext(name)[0]}.{variant}{_suffix(clip, variant)}"


def content_disposition(disposition: str, filename: str) -> str:
    """RFC 6266 with an ASCII ``filename`` for old clients and the exact UTF-8 name in
    ``filename*`` (RFC 5987), so a Chinese file name survives."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_"
                       for c in filename)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"




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
    download = granted.action == "download"
    disposition = "attachment" if download else "inline"
    media_type = "application/octet-stream" if download else _media_type(clip, variant)
    return copy_response(opened.stream, size=opened.object.size, wanted=wanted,
                         media_type=media_type,
                         disposition=content_disposition(disposition,
                                                         download_name(clip, variant)),
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


@dataclasses.dataclass(frozen=True)
class CasePage:
    """One page of cases (newest first) and the cursors of its neighbours (None: no page)."""

    cases: list[Case]
    total: int
    after: str | None
    """Pass as ``after`` for the next page."""
    before: str | None
    """Pass as ``before`` for the previous page."""
    first: bool
    """A first-page link is worth showing (this is not the first page)."""


def cases_page(cw: Services, *, after: str | None, before: str | None,
              size: int = CASE_PAGE_SIZE) -> CasePage:
    found = cw.cases.cases(limit=size + 1, after=after or None, before=before or None)
    more = len(found) > size
    if before:
        found, has_prev, has_next = found[-size:], more, True
    else:
        found, has_prev, has_next = found[:size], bool(after), more
    return CasePage(cases=found, total=cw.cases.count_cases(),
                    after=found[-1].case_id if has_next and found else None,
                    before=found[0].case_id if has_prev and found else None, first=has_prev)


@router.get("/cases", name="web_cases")
def cases(request: Request, *, who: Reader, cw: CaseworkPage, after: str | None = None,
          before: str | None = None) -> Response:
    return page(request, "cases.html", who=who, title="案件 Cases",
                 cases=cases_page(cw, after=after, before=before))


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
                 kinds=kinds, clips_by_step=clips_by_step, report=report,
                 **pages_cases.case_extras(request, cw, who, case, clips_by_step=clips_by_step,
                                           report=report))


router.include_router(pages_audit.router)  # before the catch-all below
router.include_router(pages_supervision.router)
router.include_router(pages_approvals.router)
router.include_router(pages_admin.router)
router.include_router(pages_cases.router)
router.include_router(pages_officers.router)
router.include_router(pages_stations.router)


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
