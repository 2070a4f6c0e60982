"""Who is calling, and may they: API tokens, roles, and the guard every route declares.

- A caller presents ``Authorization: Bearer <token>``; a browser page may instead carry the token
  in the ``liuhen_token`` cookie (set HttpOnly, SameSite=Strict by the pages, so no other site
  can make a browser send it). Tokens are looked up by SHA-256 (storage/tokens.py); the token
  itself is never logged, echoed in an error, or stored.
- Roles: ``station`` (docking stations: verification and proofs), ``officer`` (民警),
  ``leader`` (领导: their unit's subtree), ``auditor`` (法制审核 / 调阅监督: read, change
  nothing), ``admin`` (管理员). People have accounts and sessions (access/login.py); tokens are
  for stations and automation. A caller with several roles passes a guard admitting any.
- Deny by default: every route names its roles with ``Depends(allow(...))`` (or ``public`` for
  the few that need no token), and ``create_app`` refuses to build an app with a route that
  does neither (:func:`unguarded_routes`). Page routes follow the same rule.
- The request gate (api/http/gate.py) authenticates a caller before a route that takes a body
  reads it, with :func:`authenticate`; the guard then uses what the gate found.

Usage in a route::

    @router.get("/x")
    def x(who: Annotated[Principal, Depends(allow(Role.OFFICER, Role.ADMIN))]) -> ...
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection
from starlette.routing import Match
from starlette.types import Scope

from access.login import Caller, Login
from api.http.labels import ROLE_NAMES
from evidence.errors import UnavailableError
from evidence.records import Account, ClipScope

TOKEN_COOKIE = "liuhen_token"  # noqa: S105 - the cookie's name, not a secret
"""The cookie a browser session carries its token in (HttpOnly, SameSite=Strict)."""


class Role(enum.StrEnum):
    STATION = "station"
    OFFICER = "officer"
    LEADER = "leader"
    AUDITOR = "auditor"
    ADMIN = "admin"
    DEVICE = "device"
    """A 4G recorder or phone uploading its own recordings (``liuhen devices add``)."""


_PRIMARY = (Role.ADMIN, Role.AUDITOR, Role.LEADER, Role.OFFICER, Role.STATION, Role.DEVICE)
"""The role an access entry records for a person with several: the first they hold."""


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: ``name`` is what the ledger records as the actor (an officer's
    警号, an auditor's id, a station id); ``roles`` what they may do, ``role`` the first of them
    in _PRIMARY order; ``scope`` the clips they see (access/scope.py)."""

    name: str
    role: Role
    token_id: int | None = None
    roles: frozenset[Role] = frozenset()
    scope: ClipScope = field(default_factory=lambda: ClipScope(everything=True))
    account: Account | None = None
    session_id: int | None = None

    @classmethod
    def of(cls, caller: Caller) -> Principal:
        roles = frozenset(Role(r) for r in caller.roles if r in set(Role))
        if not roles:
            raise _unauthorized("凭据的角色无效 (the credential has an unknown role; ask an admin)")
        role = next(r for r in _PRIMARY if r in roles)
        return cls(name=caller.name, role=role, token_id=caller.token_id, roles=roles,
                   scope=caller.scope, account=caller.account, session_id=caller.session_id)


_bearer = HTTPBearer(auto_error=False, description="a session from POST /api/login, or an API "
                     "token from `liuhen tokens create` (stations, automation)")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def login_service(request: Request) -> Login:
    login: Login | None = getattr(request.app.state, "login", None)
    if login is None:
        raise UnavailableError("the server is starting: no account store yet", retry_after_s=1.0)
    return login


def presented_token(conn: HTTPConnection) -> str:
    """The token a request presents: ``Authorization: Bearer``, else the session cookie; 401
    when there is none or the header is malformed. Reads headers only, never the body."""
    header = conn.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("malformed Authorization header: use 'Authorization: Bearer "
                                "<token>'")
        return token.strip()
    token = conn.cookies.get(TOKEN_COOKIE, "")
    if not token:
        raise _unauthorized("authentication required: send 'Authorization: Bearer <token>' "
                            "(sign in with POST /api/login; tokens for automation come from "
                            "`liuhen tokens create`)")
    return token


def authenticate(conn: HTTPConnection, login: Login) -> Principal:
    """The caller of a request (database reads); 401 when the session or token is missing,
    unknown, ended, expired or revoked. The messages never repeat the credential."""
    caller = login.authenticate(presented_token(conn))
    if caller is None:
        raise _unauthorized("未登录或会话已结束 (the session or token is unknown, ended, "
                            "expired or revoked): sign in again")
    return Principal.of(caller)


def current_principal(
    request: Request,
    _scheme: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    tokens: Annotated[Login, Depends(login_service)],
) -> Principal:
    """The caller (:func:`authenticate`), as the request gate already found it when it did
    (api/http/gate.py); ``_scheme`` only declares bearer auth in the OpenAPI document."""
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal):
        return known
    principal = authenticate(request, tokens)
    request.state.principal = principal
    return principal


class RoleGuard:
    """A dependency admitting only ``roles`` (403 for the others); see :func:`allow`."""

    def __init__(self, roles: frozenset[Role]) -> None:
        if not roles:
            raise ValueError("a guard admitting no role is a route nobody can call")
        self.roles = roles

    def __call__(self, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not (principal.roles or {principal.role}) & self.roles:
            allowed = ", ".join(sorted(self.roles))
            names = "、".join(ROLE_NAMES.get(r, r) for r in sorted(self.roles))
            mine = ROLE_NAMES.get(principal.role, principal.role)
            raise HTTPException(status_code=403, detail=f"您的角色（{mine}）无权执行此操作，"
                                f"仅限：{names} (role {principal.role} may not do this; "
                                f"allowed: {allowed})")
        return principal

    def __repr__(self) -> str:
        return f"allow({', '.join(sorted(self.roles))})"


def allow(*roles: Role) -> RoleGuard:
    """The guard of a route: only callers with one of ``roles`` get through."""
    return RoleGuard(frozenset(roles))


ALL_ROLES = frozenset(Role) - {Role.DEVICE}
"""Everyone who may read the ledger's public answers (proofs, verify-by-hash): not a device,
which only uploads its own recordings (api/http/rest_uploads.py)."""


def public() -> None:
    """Marks a route that needs no token (health check). Use sparingly."""


def _guards(dependant: object) -> Iterator[object]:
    call = getattr(dependant, "call", None)
    if isinstance(call, RoleGuard) or call is public:
        yield call
    for sub in getattr(dependant, "dependencies", None) or ():
        yield from _guards(sub)


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """One route as the app serves it (router prefixes and router-level dependencies applied)."""

    path: str
    methods: frozenset[str]
    roles: frozenset[Role] | None
    """The roles admitted (the intersection of the route's role guards); None without any."""
    public: bool
    kind: str
    """``api`` for FastAPI routes, else the route's class name (Route, Mount, ...)."""
    body: bool = False
    """The route reads a request body: JSON or form fields, or a body its OpenAPI operation
    declares (a stream the endpoint reads itself)."""


def _routes(app: FastAPI) -> Iterator[tuple[RouteContext, RouteInfo]]:
    for ctx in iter_route_contexts(app.router.routes):
        original = ctx.original_route
        path = str(ctx.path or getattr(original, "path", ""))
        methods = frozenset(ctx.methods or ())
        if not isinstance(original, APIRoute):
            yield ctx, RouteInfo(path=path, methods=methods, roles=None, public=False,
                                 kind=type(original).__name__)
            continue
        guards = list(_guards(ctx.dependant))
        role_sets = [g.roles for g in guards if isinstance(g, RoleGuard)]
        roles = None
        if role_sets:
            roles = frozenset(Role)
            for admitted in role_sets:
                roles &= admitted
        body = ctx.body_field is not None or "requestBody" in (ctx.openapi_extra or {})
        yield ctx, RouteInfo(path=path, methods=methods, roles=roles,
                             public=any(g is public for g in guards), kind="api", body=body)


def route_table(app: FastAPI) -> list[RouteInfo]:
    """Every route of ``app`` with the guards it declares, through included routers."""
    return [info for _, info in _routes(app)]


def route_matcher(app: FastAPI) -> Callable[[Scope], RouteInfo | None]:
    """The route ``app`` runs for a request scope (the router's first full match), or None."""
    table = list(_routes(app))

    def match(scope: Scope) -> RouteInfo | None:
        for ctx, info in table:
            found, _ = ctx.matches(scope)
            if found is Match.FULL:
                return info
        return None

    return match


def unguarded_routes(app: FastAPI) -> list[str]:
    """Routes that declare neither roles nor ``public``: an app with any is refused. Mounted
    sub-apps (static files) and FastAPI's own schema route are not API routes."""
    own = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    bad = []
    for info in route_table(app):
        if info.kind == "api":
            if info.roles is None and not info.public:
                bad.append(f"{sorted(info.methods)} {info.path}")
        elif info.kind != "Mount" and info.path not in own:
            bad.append(f"{info.kind} {info.path!r}")
    return bad
