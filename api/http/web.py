"""The pages' framework (docs/web.md): templates and their filters, sessions and CSRF, the
page route that turns errors into HTML pages, and the roles each page admits. The routes are in
``pages.py`` (case officers) and ``pages_audit.py`` (auditors).

Security model (the same auth as the REST API, deny by default):

- Sign-in posts 警号 and password (access/login.py, the same code as ``POST /api/login``); the
  server-side session's secret goes into the ``liuhen_token`` cookie (HttpOnly,
  SameSite=Strict, Path=/ui, Secure over HTTPS) and nowhere else: never a URL, a page or a log.
  Every page request looks the session up again (api/http/auth.py), so sign-out, revocation,
  expiry and disabling the account take effect at once.
- Every route declares its roles with ``allow(...)`` (or ``public``), like the REST routes;
  :class:`PageRoute` turns a 401 into the sign-in page and other errors into an HTML page.
- CSRF: the cookies are SameSite=Strict, and every POST carries a per-session form token,
  HMAC-SHA256 keyed with the session's API token over a random session id that sign-in sets in
  a second cookie; a cross-origin ``Origin`` header is refused as well.
- Playback is purpose-gated: the clip page's form records an ``accessed`` entry (with the
  stated purpose) through ``AccessLog.open`` before any byte is served; the media route then
  serves only for that ledger entry's holder, copy and purpose (``AccessLog.grant``), and each
  of its (ranged) reads goes through ``AccessLog.open`` again, coalesced with that access.
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
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Form, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from access.login import Login
from api.compose import Services
from api.errors import HEADINGS, family_of
from api.http import labels
from api.http.auth import TOKEN_COOKIE, Principal, Role, allow, login_service
from api.http.deps import get_casework
from api.http.errors import chinese_first, validation_message
from evidence.errors import (
    LiuhenError,
    NotFoundError,
    UnavailableError,
)
from evidence.ids import is_sha256_hex

log = logging.getLogger("liuhen.web")

PREFIX = "/ui"
SESSION_COOKIE = "liuhen_session"
"""A random id per sign-in: the per-session CSRF form token is an HMAC over it."""
SESSION_MAX_AGE_S = 12 * 3600  # one working day, then sign in again
VERIFY_UPLOAD_PATH = "/ui/verify"
"""The page's verify-by-upload (multipart): it gets the request gate's upload cap."""
DISPLAY_TZ = timezone(timedelta(hours=8), "UTC+8")
"""Pages show and read times in China Standard Time (no DST); the ledger keeps UTC."""
VARIANT_LABELS = {"playback": "播放副本 playback copy", "proxy": "低码率副本 proxy",
                  "original": "原始文件 original"}
MEDIA_TYPES = {".mp4": "video/mp4", ".m4a": "audio/mp4", ".jpg": "image/jpeg",
               ".jpeg": "image/jpeg", ".wav": "audio/wav", ".avi": "video/x-msvideo"}
STATIC_FILES = {"liuhen.css": "text/css", "stations.js": "text/javascript",
                "player.js": "text/javascript"}
"""The static files and their media types (no inline script anywhere)."""
NOTICES = {"attached": "已关联到执法环节 Attached to the case step.",
           "detached": "已解除关联 Detached (recorded in the ledger; nothing is deleted).",
           "signed-out": "已退出 Signed out.",
           "opened": "已立案 The case is open.",
           "step-recorded": "已记录执法环节 Step recorded.",
           "step-corrected": "已更正执法环节（账本保留原记录）Step corrected; the ledger keeps the "
                             "first record."}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "media-src 'self'; script-src 'self'; connect-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # forms then carry our Origin (no-referrer sends "null")
    "Cache-Control": "no-store",
}

PAGES_DIR = Path(__file__).resolve().parent
ROLE_NAMES = labels.ROLE_NAMES
READERS = (Role.OFFICER, Role.LEADER, Role.AUDITOR, Role.ADMIN)
EDITORS = (Role.OFFICER, Role.LEADER, Role.ADMIN)
SUPERVISORS = (Role.LEADER, Role.AUDITOR, Role.ADMIN)
Reader = Annotated[Principal, Depends(allow(*READERS))]
Editor = Annotated[Principal, Depends(allow(*EDITORS))]
Supervisor = Annotated[Principal, Depends(allow(*SUPERVISORS))]
CaseworkPage = Annotated[Services, Depends(get_casework)]
LoginDep = Annotated[Login, Depends(login_service)]


@functools.cache
def templates() -> Jinja2Templates:
    """The page templates, built on first use (nothing at import time: STYLE.md §6)."""
    t = Jinja2Templates(directory=PAGES_DIR / "templates")
    t.env.filters.update(when=_when, duration=_duration, basename=basename,
                         clip_state=labels.clip_state, segment=_segment,
                         entry_kind=labels.entry_kind, action=labels.action,
                         quarantine=labels.quarantine, media_kind=labels.media_kind,
                         role_name=role_name)
    t.env.globals["variant_labels"] = VARIANT_LABELS
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


def basename(name: str) -> str:
    return posixpath.basename(name) or name


def role_name(code: str) -> str:
    """``民警 officer``: roles Chinese first."""
    name = ROLE_NAMES.get(code)
    return f"{name} {code}" if name else code


# --- sessions and CSRF ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Me:
    """The signed-in user as the templates see it."""

    name: str
    role: str
    roles: frozenset[str] = frozenset()

    @property
    def can_casework(self) -> bool:
        return bool(self.roles & set(EDITORS))

    @property
    def can_read(self) -> bool:
        return bool(self.roles & set(READERS))

    @property
    def can_audit(self) -> bool:
        return bool(self.roles & set(SUPERVISORS))

    @property
    def can_admin(self) -> bool:
        return "admin" in self.roles


def csrf_token(request: Request) -> str:
    token = request.cookies.get(TOKEN_COOKIE, "")
    session = request.cookies.get(SESSION_COOKIE, "")
    if not token or not session:
        return ""
    return hmac.new(token.encode(), f"liuhen/csrf/v1\n{session}".encode(),
                    hashlib.sha256).hexdigest()


def same_origin(request: Request) -> None:
    """Refuse a form whose ``Origin`` names another host. Hosts only, not schemes: behind a
    TLS-terminating proxy the browser's origin is https while this server sees http."""
    origin = request.headers.get("origin")
    if origin is not None and origin.partition("://")[2] != request.headers.get("host", ""):
        raise HTTPException(status_code=403, detail="拒绝来自其他网站的表单 (a form from another "
                            "site is refused)")


def check_csrf(request: Request, form_token: str) -> None:
    same_origin(request)
    expected = csrf_token(request)
    if not expected or not hmac.compare_digest(expected, form_token):
        raise HTTPException(status_code=403, detail="表单已过期或不是本站的：请刷新页面后重试 (the "
                            "form expired or did not come from this site: reload the page and "
                            "try again)")


Csrf = Annotated[str, Form(max_length=128)]


def page(request: Request, name: str, *, who: Principal | None, title: str,
          status_code: int = 200, **context: object) -> HTMLResponse:
    notice = NOTICES.get(request.query_params.get("done", ""))
    values: dict[str, Any] = {"title": title, "me": None if who is None else
                              Me(name=who.name, role=ROLE_NAMES.get(who.role, who.role),
                                 roles=frozenset(r.value for r in (who.roles or {who.role}))),
                              "csrf": csrf_token(request), "notice": notice, **context}
    response = templates().TemplateResponse(request, name, values, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def see_other(request: Request, route: str, *, query: str = "", **params: str) -> Response:
    url = str(request.url_for(route, **params))
    return RedirectResponse(url + (f"?{query}" if query else ""), status_code=303)


def client_of(request: Request) -> str | None:
    """The peer address, for the failed sign-in log (no proxy headers are trusted)."""
    return None if request.client is None else request.client.host


def set_session_cookies(request: Request, response: Response, secret: str) -> None:
    """The session's secret in ``liuhen_token`` and a random CSRF session id beside it: both
    HttpOnly, SameSite=Strict, Path=/ui, Secure over HTTPS (behind a TLS proxy too, when the
    browser reached us by https)."""
    secure = request.url.scheme == "https"
    for cookie, value in ((TOKEN_COOKIE, secret), (SESSION_COOKIE, secrets.token_urlsafe(24))):
        response.set_cookie(cookie, value, max_age=SESSION_MAX_AGE_S, path=PREFIX,
                            secure=secure, httponly=True, samesite="strict")


def signin_redirect(request: Request) -> Response:
    response = see_other(request, "web_signin")
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
                    return signin_redirect(request)
                return error_page(request, exc.status_code, _http_heading(exc.status_code),
                              str(exc.detail))
            except RequestValidationError as exc:
                detail = "; ".join(validation_message(e) for e in exc.errors()[:5])
                return error_page(request, 422, "输入有误 Invalid input", detail)
            except LiuhenError as exc:
                status, code, _ = family_of(exc)
                response = error_page(request, status, HEADINGS[code], str(exc))
                if isinstance(exc, UnavailableError):
                    response.headers["Retry-After"] = str(max(1, int(exc.retry_after_s)))
                return response

        return page_handler


def _http_heading(status: int) -> str:
    return {403: "无权访问 Forbidden", 404: "未找到 Not found",
            416: "范围无效 Range not satisfiable"}.get(status, f"错误 Error {status}")


def error_page(request: Request, status: int, heading: str, message: str) -> HTMLResponse:
    """An error as a page with a way back: to the page the user came from (when it is one of
    ours) and home."""
    who: Principal | None = getattr(request.state, "principal", None)
    referer = request.headers.get("referer", "")
    ours = str(request.url_for("web_home"))
    back = referer if referer.startswith(ours) and referer != str(request.url) else None
    return page(request, "error.html", who=who, title=heading, status_code=status,
                 heading=heading, message=chinese_first(heading.partition(" ")[0], message),
                 back=back)


def sha_in_path(sha256: str) -> str:
    sha = sha256.lower()
    if not is_sha256_hex(sha):
        raise NotFoundError(f"{sha256[:80]!r} 不是 SHA-256（64 位十六进制数字）(is not a "
                            "SHA-256: 64 hexadecimal digits)")
    return sha
