"""Server-rendered web pages under ``/ui`` (docs/web.md): case officers find clips, play the
playback copy and attach clips to case steps; auditors verify clips and read access logs.

Security model (the same auth as the REST API, deny by default):

- Sign-in posts an API token once; it goes into the ``liuhen_token`` cookie (HttpOnly,
  SameSite=Strict, Path=/ui, Secure over HTTPS) and nowhere else: never a URL, a page or a log.
  Every page request looks the token up again (api/http/auth.py), so revocation is immediate.
- Every route declares its roles with ``allow(...)`` (or ``public``), like the REST routes;
  :class:`PageRoute` turns a 401 into the sign-in page and other errors into an HTML page.
- CSRF: the cookies are SameSite=Strict, and every POST carries a per-session form token,
  HMAC-SHA256 keyed with the session's API token over a random session id that sign-in sets in
  a second cookie; a cross-origin ``Origin`` header is refused as well.
- Playback is purpose-gated: the clip page's form records an ``accessed`` entry (with the
  stated purpose) through :meth:`Services.access` before any byte is served; the media route
  then serves only for that ledger entry's holder, copy and purpose (:func:`media`), and each
  of its (ranged) reads goes through ``Services.access`` again, coalesced with that access.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import posixpath
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, BinaryIO
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from access.ports import TokenRepo
from api.compose import Services
from api.console import printable
from api.http.auth import TOKEN_COOKIE, Principal, Role, allow, public, token_repo
from api.http.deps import get_casework
from api.http.errors import chinese_first, validation_message
from api.http.ranges import copy_response, parse_range
from evidence.completeness import CompletenessReport
from evidence.errors import (
    ConflictError,
    LiuhenError,
    NotFoundError,
    PolicyViolationError,
    UnavailableError,
    VerificationError,
)
from evidence.identity import MAX_PURPOSE_CHARS, InvalidInputError, canonical_purpose
from evidence.ids import is_sha256_hex
from evidence.records import Access, Clip, ClipQuery
from integrity.bundle import check_checkpoint, check_included
from ledger.proofs import Verification

log = logging.getLogger("liuhen.web")

PREFIX = "/ui"
SESSION_COOKIE = "liuhen_session"
"""A random id per sign-in: the per-session CSRF form token is an HMAC over it."""
SESSION_MAX_AGE_S = 12 * 3600  # one working day, then sign in again
VERIFY_UPLOAD_PATH = "/ui/verify"
"""The page's verify-by-upload (multipart): it gets the request gate's upload cap."""
HASH_CHUNK_BYTES = 1 << 20
DISPLAY_TZ = timezone(timedelta(hours=8), "UTC+8")
"""Pages show and read times in China Standard Time (no DST); the ledger keeps UTC."""
VARIANT_LABELS = {"playback": "播放副本 playback copy", "proxy": "低码率副本 proxy",
                  "original": "原始文件 original"}
MEDIA_TYPES = {".mp4": "video/mp4", ".m4a": "audio/mp4", ".jpg": "image/jpeg",
               ".jpeg": "image/jpeg", ".wav": "audio/wav", ".avi": "video/x-msvideo"}
STATIC_FILES = frozenset({"liuhen.css"})
NOTICES = {"attached": "已关联到执法环节 Attached to the case step.",
           "detached": "已解除关联 Detached (recorded in the ledger; nothing is deleted).",
           "signed-out": "已退出 Signed out."}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "media-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # forms then carry our Origin (no-referrer sends "null")
    "Cache-Control": "no-store",
}

_HERE = Path(__file__).resolve().parent
_LIUHEN_ERRORS: tuple[tuple[type[LiuhenError], int, str], ...] = (
    (VerificationError, 422, "核验失败 Verification failed"),
    (NotFoundError, 404, "未找到 Not found"),
    (ConflictError, 409, "冲突 Conflict"),
    (PolicyViolationError, 422, "不允许 Refused by policy"),
    (UnavailableError, 503, "暂不可用 Unavailable"),
)

READERS = (Role.OFFICER, Role.AUDITOR, Role.ADMIN)
EDITORS = (Role.OFFICER, Role.ADMIN)
SUPERVISORS = (Role.AUDITOR, Role.ADMIN)
Reader = Annotated[Principal, Depends(allow(*READERS))]
Editor = Annotated[Principal, Depends(allow(*EDITORS))]
Supervisor = Annotated[Principal, Depends(allow(*SUPERVISORS))]
CaseworkPage = Annotated[Services, Depends(get_casework)]
Tokens = Annotated[TokenRepo, Depends(token_repo)]


@functools.cache
def templates() -> Jinja2Templates:
    """The page templates, built on first use (nothing at import time: STYLE.md §6)."""
    t = Jinja2Templates(directory=_HERE / "templates")
    t.env.filters.update(when=_when, duration=_duration, basename=_basename,
                         clip_state=_clip_state, segment=_segment)
    return t


def _when(moment: datetime | None) -> str:
    """A time as the pages show it, in UTC+8; in UTC when UTC+8 is past year 9999 (a time the
    ledger may hold from an older version or a recorder's clock: shown, never an error)."""
    if moment is None:
        return "—"
    try:
        moment, zone = moment.astimezone(DISPLAY_TZ), "UTC+8"
    except OverflowError:
        moment, zone = moment.astimezone(UTC), "UTC"
    return f"{moment.year:04d}-{moment:%m-%d %H:%M:%S} ({zone})"


def _segment(value: str) -> str:
    """``value`` percent-encoded as one URL path segment (a case number may hold any text)."""
    return quote(value, safe="")


def _duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    seconds = ms // 1000
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{ms % 1000:03d}"


def _basename(name: str) -> str:
    return posixpath.basename(name) or name


def _clip_state(clip: Clip) -> str:
    if clip.disposed_index is not None:
        return "已处置 disposed"
    if clip.quarantine_reason:
        return f"隔离 quarantined: {clip.quarantine_reason}"
    if clip.original is None:
        return "待存储 not stored yet"
    return "已存储并核验 stored" + (" · 有播放副本 playable" if clip.playback else "")


# --- sessions and CSRF ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Me:
    """The signed-in user as the templates see it."""

    name: str
    role: str

    @property
    def can_casework(self) -> bool:
        return self.role in EDITORS

    @property
    def can_read(self) -> bool:
        return self.role in READERS

    @property
    def can_audit(self) -> bool:
        return self.role in SUPERVISORS


def _csrf_token(request: Request) -> str:
    token = request.cookies.get(TOKEN_COOKIE, "")
    session = request.cookies.get(SESSION_COOKIE, "")
    if not token or not session:
        return ""
    return hmac.new(token.encode(), f"liuhen/csrf/v1\n{session}".encode(),
                    hashlib.sha256).hexdigest()


def _same_origin(request: Request) -> None:
    """Refuse a form whose ``Origin`` names another host. Hosts only, not schemes: behind a
    TLS-terminating proxy the browser's origin is https while this server sees http."""
    origin = request.headers.get("origin")
    if origin is not None and origin.partition("://")[2] != request.headers.get("host", ""):
        raise HTTPException(status_code=403, detail="拒绝来自其他网站的表单 (a form from another "
                            "site is refused)")


def _check_csrf(request: Request, form_token: str) -> None:
    _same_origin(request)
    expected = _csrf_token(request)
    if not expected or not hmac.compare_digest(expected, form_token):
        raise HTTPException(status_code=403, detail="表单已过期或不是本站的：请刷新页面后重试 (the "
                            "form expired or did not come from this site: reload the page and "
                            "try again)")


Csrf = Annotated[str, Form(max_length=128)]


def _page(request: Request, name: str, *, who: Principal | None, title: str,
          status_code: int = 200, **context: object) -> HTMLResponse:
    notice = NOTICES.get(request.query_params.get("done", ""))
    values: dict[str, Any] = {"title": title, "me": None if who is None else
                              Me(name=who.name, role=who.role.value),
                              "csrf": _csrf_token(request), "notice": notice, **context}
    response = templates().TemplateResponse(request, name, values, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def _see_other(request: Request, route: str, *, query: str = "", **params: str) -> Response:
    url = str(request.url_for(route, **params))
    return RedirectResponse(url + (f"?{query}" if query else ""), status_code=303)


def _signin_redirect(request: Request) -> Response:
    response = _see_other(request, "web_signin")
    for cookie in (TOKEN_COOKIE, SESSION_COOKIE):
        if cookie in request.cookies:
            response.delete_cookie(cookie, path=PREFIX, secure=request.url.scheme == "https",
                                   httponly=True, samesite="strict")
    return response


class PageRoute(APIRoute):
    """A page route: errors come back as HTML pages, and a missing or unknown token as the
    sign-in page, instead of the REST API's JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except StarletteHTTPException as exc:
                if exc.status_code == 401:
                    return _signin_redirect(request)
                return _error(request, exc.status_code, _http_heading(exc.status_code),
                              str(exc.detail))
            except RequestValidationError as exc:
                detail = "; ".join(validation_message(e) for e in exc.errors()[:5])
                return _error(request, 422, "输入有误 Invalid input", detail)
            except LiuhenError as exc:
                status, heading = next(((s, h) for family, s, h in _LIUHEN_ERRORS
                                        if isinstance(exc, family)), (500, "错误 Error"))
                response = _error(request, status, heading, str(exc))
                if isinstance(exc, UnavailableError):
                    response.headers["Retry-After"] = str(max(1, int(exc.retry_after_s)))
                return response

        return page_handler


def _http_heading(status: int) -> str:
    return {403: "无权访问 Forbidden", 404: "未找到 Not found",
            416: "范围无效 Range not satisfiable"}.get(status, f"错误 Error {status}")


def _error(request: Request, status: int, heading: str, message: str) -> HTMLResponse:
    who: Principal | None = getattr(request.state, "principal", None)
    return _page(request, "error.html", who=who, title=heading, status_code=status,
                 heading=heading, message=chinese_first(heading.partition(" ")[0], message))


router = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)


# --- public: static files, sign-in, sign-out --------------------------------------------------

@router.get("/static/{name}", name="web_static", dependencies=[Depends(public)])
def static(name: str) -> Response:
    if name not in STATIC_FILES:
        raise HTTPException(status_code=404, detail=f"no static file {name!r}")
    return FileResponse(_HERE / "static" / name, media_type="text/css",
                        headers={"Cache-Control": "max-age=3600"})


@router.get("/signin", name="web_signin", dependencies=[Depends(public)])
def signin_form(request: Request) -> Response:
    return _page(request, "signin.html", who=None, title="登录 Sign in")


@router.post("/signin", dependencies=[Depends(public)])
def signin(request: Request, *, tokens: Tokens,
           token: Annotated[str, Form(max_length=200)]) -> Response:
    _same_origin(request)
    record = tokens.authenticate(token.strip())
    if record is None:
        return _page(request, "signin.html", who=None, title="登录 Sign in", status_code=401,
                     error="令牌无效或已吊销 The token is unknown or revoked.")
    if record.role == Role.STATION:
        return _page(request, "signin.html", who=None, title="登录 Sign in", status_code=403,
                     error="采集站令牌不能登录网页 A station token cannot sign in to the pages.")
    log.info("web sign-in by %s (%s, token id %d)", record.name, record.role, record.id)
    response = _see_other(request, "web_home")
    secure = request.url.scheme == "https"
    for cookie, value in ((TOKEN_COOKIE, token.strip()),
                          (SESSION_COOKIE, secrets.token_urlsafe(24))):
        response.set_cookie(cookie, value, max_age=SESSION_MAX_AGE_S, path=PREFIX,
                            secure=secure, httponly=True, samesite="strict")
    return response


@router.post("/signout", name="web_signout", dependencies=[Depends(public)])
def signout(request: Request, *, csrf: Csrf = "") -> Response:
    if request.cookies.get(TOKEN_COOKIE):
        _check_csrf(request, csrf)
    response = _signin_redirect(request)
    response.headers["Location"] += "?done=signed-out"
    return response


@router.get("/", name="web_home")
def home(request: Request, *, who: Reader) -> Response:
    return _page(request, "home.html", who=who, title="首页 Home")


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
        found = cw.cases.clips(ClipQuery(officer=q["officer"], device=q["device"],
                                   start=_local_time(cw, "start", q["start"]),
                                   end=_local_time(cw, "end", q["end"]), case_id=q["case"],
                                   step_id=q["step"], limit=200))
    return _page(request, "clips.html", who=who, title="查找视频 Clips", q=q, clips=found,
                 searched=searched)


def _sha(sha256: str) -> str:
    sha = sha256.lower()
    if not is_sha256_hex(sha):
        raise NotFoundError(f"{sha256[:80]!r} 不是 SHA-256（64 位十六进制数字）(is not a "
                            "SHA-256: 64 hexadecimal digits)")
    return sha


def _my_access(cw: Services, who: Principal, sha: str, index: int | None) -> Access | None:
    return None if index is None else cw.access.grant(sha, index, actor=who.name,
                                                      role=who.role.value)


@router.get("/clips/{sha256}", name="web_clip")
def clip_page(request: Request, *, sha256: str, who: Reader, cw: CaseworkPage,
              access: int | None = None) -> Response:
    sha = _sha(sha256)
    clip = cw.cases.clip(sha)
    links = cw.cases.links(sha256=sha, current_only=True)
    choices = []
    if who.role in EDITORS:
        names = {k.code: k.name for k in cw.cases.step_kinds()}
        choices = [(c, [(s, names.get(s.code, s.code)) for s in c.steps])
                   for c in cw.cases.cases(limit=100) if c.steps]
    variants = [v for v in ("playback", "proxy", "original") if getattr(clip, v) is not None]
    if clip.disposed_index is not None:
        variants = []
    return _page(request, "clip.html", who=who, title=f"视频 Clip {sha[:12]}", clip=clip,
                 links=links, step_choices=choices, variants=variants,
                 variant_labels=VARIANT_LABELS, max_purpose=MAX_PURPOSE_CHARS,
                 grant=_my_access(cw, who, sha, access))


@router.post("/clips/{sha256}/access", name="web_access")
def access_clip(request: Request, *, sha256: str, who: Reader, cw: CaseworkPage, csrf: Csrf,
                purpose: Annotated[str, Form(max_length=MAX_PURPOSE_CHARS * 4)] = "",
                variant: Annotated[str, Form(max_length=16)] = "playback",
                action: Annotated[str, Form(max_length=16)] = "play") -> Response:
    """Record the access with its purpose (``accessed`` in the ledger), then show the player."""
    _check_csrf(request, csrf)
    sha = _sha(sha256)
    opened_action = "download" if action == "download" else "play"
    opened = cw.access.open(sha, action=opened_action, variant=variant,
                       purpose=canonical_purpose(purpose), actor=who.name, role=who.role.value)
    opened.stream.close()  # the bytes go out through the media route, under this access
    index = opened.access_index
    if index is None:  # not a continuation, so never coalesced: recorded, or it raised
        raise ConflictError("调阅未能记录，请重新填写事由 (the access was not recorded; state "
                            "the purpose again)")
    return _see_other(request, "web_clip", query=f"access={index}", sha256=sha)


def _media_type(key: str) -> str:
    return MEDIA_TYPES.get(posixpath.splitext(key)[1].lower(), "application/octet-stream")




@router.get("/clips/{sha256}/media/{variant}", name="web_media")
def media(request: Request, *, sha256: str, variant: str, who: Reader, cw: CaseworkPage,
          access: int) -> Response:
    """Stream a copy for a recorded access of this user (``access`` = its ledger index): inline
    for a ``play`` access, as an attachment for a ``download`` one."""
    sha = _sha(sha256)
    granted = _my_access(cw, who, sha, access)
    if granted is None or granted.variant != variant:
        raise HTTPException(status_code=403, detail="请先在视频页面填写调阅事由 (state a purpose "
                            "on the clip page first: "
                            "this access is not yours, not for this copy, or has expired")
    clip = cw.cases.clip(sha)
    obj = getattr(clip, variant, None)
    wanted = parse_range(request.headers.get("range"), obj.size) if obj is not None else None
    # part of the recorded access (recorded again past ACCESS_COALESCE, and as a download when
    # it reads the whole copy)
    whole = (0, obj.size - 1) if obj is not None else (0, 0)
    opened = cw.access.open(sha, action=granted.action, variant=variant, purpose=granted.purpose,
                       actor=who.name, role=who.role.value, case_id=granted.case_id,
                       byte_range=whole if wanted is None else (wanted.start, wanted.end))
    suffix = posixpath.splitext(opened.object.key)[1].lower()
    filename = (_basename(clip.name_on_device) if variant == "original"
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
    _check_csrf(request, csrf)
    case_id, step_id = _target(target)
    cw.cases.link(case_id, step_id, _sha(sha256), actor=who.name)
    return _see_other(request, "web_clip", query="done=attached", sha256=_sha(sha256))


@router.post("/clips/{sha256}/detach", name="web_detach")
def detach(request: Request, *, sha256: str, who: Editor, cw: CaseworkPage, csrf: Csrf,
           case: Annotated[str, Form(max_length=100)],
           step: Annotated[str, Form(max_length=32)]) -> Response:
    _check_csrf(request, csrf)
    cw.cases.unlink(case, step, _sha(sha256), actor=who.name)
    return _see_other(request, "web_clip", query="done=detached", sha256=_sha(sha256))


# --- cases and completeness ---------------------------------------------------------------

@router.get("/cases", name="web_cases")
def cases(request: Request, *, who: Reader, cw: CaseworkPage) -> Response:
    return _page(request, "cases.html", who=who, title="案件 Cases",
                 cases=cw.cases.cases(limit=200))


@router.get("/cases/{case_id}", name="web_case")
def case_page(request: Request, *, case_id: str, who: Reader, cw: CaseworkPage) -> Response:
    case = cw.cases.case(case_id)
    kinds = {k.code: k for k in cw.cases.step_kinds()}
    links = cw.cases.links(case_id=case_id, current_only=True)
    clips_by_step: dict[str, list[Clip]] = {}
    for link in links:
        clips_by_step.setdefault(link.step_id, []).append(cw.cases.clip(link.sha256))
    report: CompletenessReport = cw.cases.completeness(case_id)
    return _page(request, "case.html", who=who, title=f"案件 Case {case.case_id}", case=case,
                 kinds=kinds, clips_by_step=clips_by_step, report=report)


# --- auditors: verification and access logs -------------------------------------------------

@dataclass(frozen=True, slots=True)
class CheckedEntry:
    index: int
    kind: str
    at: datetime
    actor: str
    station: str
    included: bool | None
    """True: the inclusion proof leads to the signed checkpoint root; None: no checkpoint
    covers the entry yet."""


@dataclass(frozen=True, slots=True)
class Checked:
    verification: Verification
    entries: tuple[CheckedEntry, ...]
    checkpoint_ok: bool
    failure: str | None

    @property
    def verified(self) -> bool:
        return (self.failure is None and self.verification.acquired and self.checkpoint_ok
                and all(e.included for e in self.entries))


def _check(cw: Services, sha: str) -> Checked:
    """Re-check what the ledger returned: the checkpoint's log signature against the trust
    root, and every entry's inclusion proof from its own bytes (docs/verification.md, B3-B4)."""
    v = cw.proofs.verify(sha)
    trust = cw.ledger.trust
    entries: list[CheckedEntry] = []
    failure = None
    checkpoint_ok = False
    try:
        if v.checkpoint is not None:
            checkpoint = check_checkpoint(v.checkpoint.note, trust=trust)
            checkpoint_ok = True
        for e in v.entries:
            included = None
            if e.proof is not None and v.checkpoint is not None:
                check_included(e.index, e.data, e.proof, checkpoint=checkpoint)
                included = True
            entries.append(CheckedEntry(index=e.index, kind=e.kind, at=e.at, actor=e.actor,
                                        station=e.station, included=included))
    except VerificationError as exc:
        failure = str(exc)
    return Checked(verification=v, entries=tuple(entries), checkpoint_ok=checkpoint_ok,
                   failure=failure)


def _verify_page(request: Request, who: Principal, cw: Services, sha: str | None, *,
                 source: str = "") -> Response:
    checked = None
    if sha is not None:
        try:
            checked = _check(cw, sha)
        except NotFoundError as exc:
            return _page(request, "verify.html", who=who, title="核验 Verify", sha256=sha,
                         checked=None, unknown=str(exc), source=source, status_code=404)
    return _page(request, "verify.html", who=who, title="核验 Verify", sha256=sha or "",
                 checked=checked, unknown=None, source=source)


@router.get("/verify", name="web_verify")
def verify(request: Request, *, who: Supervisor, cw: CaseworkPage,
           sha256: str | None = None) -> Response:
    sha = sha256.strip().lower() if sha256 and sha256.strip() else None
    if sha is not None and not is_sha256_hex(sha):
        raise InvalidInputError("SHA-256 是 64 位十六进制数字 (a SHA-256 is 64 hexadecimal "
                                "digits)")
    return _verify_page(request, who, cw, sha, source="hash")


@router.post("/verify", name="web_verify_upload")
async def verify_upload(request: Request, *, who: Supervisor, cw: CaseworkPage, csrf: Csrf,
                        file: UploadFile) -> Response:
    """Hash an uploaded file (streamed from the spooled upload) and verify that hash. The
    request gate capped the upload and read none of it before the auditor was known."""
    _check_csrf(request, csrf)
    # Off the event loop: hashing gigabytes and the ledger queries would stall every request.
    sha = await run_in_threadpool(_sha256_of, file.file)
    return await run_in_threadpool(_verify_page, request, who, cw, sha, source="upload")


def _sha256_of(stream: BinaryIO) -> str:
    stream.seek(0)
    digest = hashlib.sha256()
    while chunk := stream.read(HASH_CHUNK_BYTES):
        digest.update(chunk)
    return digest.hexdigest()


@router.get("/access-log", name="web_access_log")
def access_log(request: Request, *, who: Supervisor, cw: CaseworkPage, clip: str | None = None,
               officer: str | None = None, actor: str | None = None,
               case: str | None = None) -> Response:
    q = {k: (v.strip() if v else None) or None
         for k, v in {"clip": clip, "officer": officer, "actor": actor, "case": case}.items()}
    rows: list[Access] = []
    scope = ""
    if q["clip"]:
        rows, scope = cw.access.log(sha256=_sha(q["clip"])), f"视频 clip {q['clip'][:16]}…"
    elif q["officer"]:
        rows, scope = cw.access.log(officer=q["officer"]), f"警号 {q['officer']} 的视频 clips of"
    elif q["actor"]:
        rows, scope = cw.access.log(actor=q["actor"]), f"调阅人 viewer {q['actor']}"
    elif q["case"]:
        rows, scope = cw.access.log(case_id=q["case"]), f"案件 case {q['case']}"
    return _page(request, "access_log.html", who=who, title="调阅记录 Access log", q=q,
                 rows=rows, scope=scope, searched=any(q.values()))



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
