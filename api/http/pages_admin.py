"""The admin pages (管理员; docs/supervision.md §Admin pages), under ``/ui/admin``: units, people
(add, disable/enable, roles, password, sessions), API tokens, recorders, step kinds, retention
classes and legal holds. Admins only; every form carries the CSRF token, and every change goes
through the use case the command line uses (access/accounts.py, storage tokens, jobs/retention
``set_hold``), so account changes and holds are ledgered as they are from ``liuhen``.

Read-only here: the device registry (recorders are assigned at the station), step kinds (the
built-in catalogue plus ``POST /api/step-kinds``) and retention classes (``DATA/retention.toml``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from access.accounts import ROLES, check_unit_code
from access.passwords import MAX_PASSWORD_CHARS
from api.compose import Services, recorder_assignments
from api.http.auth import Principal, Role, allow
from api.http.web import CaseworkPage, Csrf, PageRoute, check_csrf, page, sha_in_path
from evidence.errors import PolicyViolationError
from evidence.identity import InvalidInputError, canonical_actor, canonical_officer_no
from evidence.records import Account, Unit
from jobs.retention import set_hold

router = APIRouter(prefix="/admin", route_class=PageRoute, include_in_schema=False)
"""Included by pages.router, which adds the /ui prefix."""

Admin = Annotated[Principal, Depends(allow(Role.ADMIN))]
Text64 = Annotated[str, Form(max_length=64)]
TOKEN_ROLES = ("station", "officer", "leader", "auditor", "admin")
DONE = {"unit": "已添加单位 Unit added.", "user": "已添加账号 Account added.",
        "disabled": "已停用账号并结束其会话 Account disabled; its sessions ended.",
        "enabled": "已启用账号 Account enabled.", "roles": "已更新角色 Roles changed.",
        "password": "已重设密码并解除锁定 Password reset; lockout cleared.",
        "revoked": "已结束会话 Session ended.", "token-revoked": "已吊销令牌 Token revoked.",
        "hold": "已更新法律保全 Legal hold changed."}


def _done(request: Request, route: str, what: str, **params: str) -> Response:
    url = str(request.url_for(route, **params))
    return RedirectResponse(f"{url}?ok={what}", status_code=303)


def _page(request: Request, name: str, *, who: Principal, title: str, **context: Any
          ) -> Response:
    done = DONE.get(request.query_params.get("ok", ""))
    return page(request, name, who=who, title=title, notice=done, roles=ROLES, **context)


@router.get("", name="web_admin")
def overview(request: Request, *, who: Admin) -> Response:
    return _page(request, "admin/index.html", who=who, title="系统管理 Admin")


# --- units ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TreeRow:
    unit: Unit
    depth: int


def unit_tree(units: list[Unit]) -> list[TreeRow]:
    """The units in tree order (each after its parent), with their depth."""
    children: dict[str | None, list[Unit]] = {}
    for u in sorted(units, key=lambda u: u.code):
        children.setdefault(u.parent, []).append(u)
    rows: list[TreeRow] = []
    known = {u.code for u in units}

    def walk(parent: str | None, depth: int) -> None:
        for u in children.get(parent, []):
            rows.append(TreeRow(u, depth))
            walk(u.code, depth + 1)

    walk(None, 0)
    for parent in sorted(p for p in children if p is not None and p not in known):
        walk(parent, 0)  # a parent missing from the table: shown at the top, not hidden
    return rows


@router.get("/units", name="web_admin_units")
def units(request: Request, *, who: Admin, cw: CaseworkPage) -> Response:
    return _page(request, "admin/units.html", who=who, title="单位 Units",
                 tree=unit_tree(cw.accounts.repo.units()))


@router.post("/units", name="web_admin_unit_add")
def unit_add(request: Request, *, who: Admin, cw: CaseworkPage, csrf: Csrf, code: Text64,
             name: Text64, parent: Text64 = "") -> Response:
    check_csrf(request, csrf)
    cw.accounts.add_unit(code, name, parent=parent.strip() or None, actor=who.name)
    return _done(request, "web_admin_units", "unit")


# --- people -----------------------------------------------------------------------------------

@router.get("/users", name="web_admin_users")
def users(request: Request, *, who: Admin, cw: CaseworkPage) -> Response:
    people = sorted(cw.accounts.repo.accounts(), key=lambda a: a.officer_no)
    return _page(request, "admin/users.html", who=who, title="账号 Accounts", people=people,
                 units={u.code: u.name for u in cw.accounts.repo.units()})


@router.post("/users", name="web_admin_user_add")
def user_add(request: Request, *, who: Admin, cw: CaseworkPage, csrf: Csrf,
             officer_no: Text64, name: Text64, unit: Text64,
             role: Annotated[list[str], Form(max_length=4)],
             password: Annotated[str, Form(max_length=MAX_PASSWORD_CHARS)] = "",
             audit_unit: Text64 = "") -> Response:
    check_csrf(request, csrf)
    account = cw.accounts.add_user(officer_no, name=name, unit=unit, roles=role,
                                   password=password or None, actor=who.name,
                                   audit_unit=audit_unit.strip() or None)
    return _done(request, "web_admin_user", "user", officer_no=account.officer_no)


def _account(cw: Services, officer_no: str) -> Account:
    return cw.accounts.account(officer_no)


@router.get("/users/{officer_no}", name="web_admin_user")
def user(request: Request, *, officer_no: str, who: Admin, cw: CaseworkPage) -> Response:
    account = _account(cw, officer_no)
    sessions = sorted(cw.accounts.sessions.list(account.officer_no), key=lambda s: -s.id)
    return _page(request, "admin/user.html", who=who, title=f"账号 {account.officer_no}",
                 account=account, sessions=sessions)


@router.post("/users/{officer_no}/disable", name="web_admin_user_disable")
def user_disable(request: Request, *, officer_no: str, who: Admin, cw: CaseworkPage,
                 csrf: Csrf) -> Response:
    check_csrf(request, csrf)
    account = cw.accounts.disable(officer_no, actor=who.name)
    return _done(request, "web_admin_user", "disabled", officer_no=account.officer_no)


@router.post("/users/{officer_no}/enable", name="web_admin_user_enable")
def user_enable(request: Request, *, officer_no: str, who: Admin, cw: CaseworkPage,
                csrf: Csrf) -> Response:
    check_csrf(request, csrf)
    account = cw.accounts.enable(officer_no, actor=who.name)
    return _done(request, "web_admin_user", "enabled", officer_no=account.officer_no)


@router.post("/users/{officer_no}/roles", name="web_admin_user_roles")
def user_roles(request: Request, *, officer_no: str, who: Admin, cw: CaseworkPage,
               csrf: Csrf, role: Annotated[list[str], Form(max_length=4)]) -> Response:
    check_csrf(request, csrf)
    account = cw.accounts.set_roles(officer_no, role, actor=who.name)
    return _done(request, "web_admin_user", "roles", officer_no=account.officer_no)


@router.post("/users/{officer_no}/password", name="web_admin_user_password")
def user_password(request: Request, *, officer_no: str, who: Admin, cw: CaseworkPage,
                  csrf: Csrf,
                  password: Annotated[str, Form(max_length=MAX_PASSWORD_CHARS)]) -> Response:
    check_csrf(request, csrf)
    account = cw.accounts.set_password(officer_no, password, actor=who.name)
    return _done(request, "web_admin_user", "password", officer_no=account.officer_no)


@router.post("/users/{officer_no}/sessions/{session_id}/revoke",
             name="web_admin_session_revoke")
def session_revoke(request: Request, *, officer_no: str, session_id: int, who: Admin,
                   cw: CaseworkPage, csrf: Csrf) -> Response:
    check_csrf(request, csrf)
    account = _account(cw, officer_no)
    cw.accounts.revoke_session(account.officer_no, session_id, actor=who.name)
    return _done(request, "web_admin_user", "revoked", officer_no=account.officer_no)


@router.post("/users/{officer_no}/sessions/revoke", name="web_admin_sessions_revoke")
def sessions_revoke(request: Request, *, officer_no: str, who: Admin, cw: CaseworkPage,
                    csrf: Csrf) -> Response:
    check_csrf(request, csrf)
    account = _account(cw, officer_no)
    cw.accounts.revoke_sessions(account.officer_no, actor=who.name)
    return _done(request, "web_admin_user", "revoked", officer_no=account.officer_no)


# --- API tokens -------------------------------------------------------------------------------

def _tokens_page(request: Request, who: Principal, cw: Services, **context: Any) -> Response:
    tokens = sorted(cw.tokens.list(), key=lambda t: -t.id)
    return _page(request, "admin/tokens.html", who=who, title="API 令牌 Tokens", tokens=tokens,
                 token_roles=TOKEN_ROLES, now=cw.clock(), **context)


@router.get("/tokens", name="web_admin_tokens")
def tokens(request: Request, *, who: Admin, cw: CaseworkPage) -> Response:
    return _tokens_page(request, who, cw)


@router.post("/tokens", name="web_admin_token_add")
def token_add(request: Request, *, who: Admin, cw: CaseworkPage, csrf: Csrf, name: Text64,
              role: Text64, expires_days: Annotated[int, Form(ge=1, le=3660)],
              scope: Text64 = "all") -> Response:
    """Issue a token (as ``liuhen tokens create``), shown on this answer only; tokens made here
    always expire."""
    check_csrf(request, csrf)
    if role not in TOKEN_ROLES:
        raise InvalidInputError(f"角色 {role[:20]!r} 无效 (role: use one of "
                                f"{', '.join(TOKEN_ROLES)})")
    holder = (canonical_officer_no(name, pattern=cw.accounts.officer_pattern)
              if role == "officer" else canonical_actor(name))
    scope = scope.strip() or "all"
    if scope != "all":
        scope = cw.accounts.repo.unit(check_unit_code(scope)).code
    now = cw.clock()
    secret, record = cw.tokens.issue(name=holder, role=role, now=now, scope=scope,
                                     expires_at=now + timedelta(days=expires_days))
    return _tokens_page(request, who, cw, issued=record, secret=secret)


@router.post("/tokens/{token_id}/revoke", name="web_admin_token_revoke")
def token_revoke(request: Request, *, token_id: int, who: Admin, cw: CaseworkPage,
                 csrf: Csrf) -> Response:
    check_csrf(request, csrf)
    cw.tokens.revoke(token_id, now=cw.clock())
    return _done(request, "web_admin_tokens", "token-revoked")


# --- recorders, step kinds, retention, legal holds (mostly read-only) -----------------------

@router.get("/devices", name="web_admin_devices")
def devices(request: Request, *, who: Admin, cw: CaseworkPage) -> Response:
    stations = sorted((t for t in cw.tokens.list() if t.role == "station"),
                      key=lambda t: (t.name, t.id))
    return _page(request, "admin/devices.html", who=who, title="执法记录仪 Recorders",
                 assignments=recorder_assignments(cw.ledger), stations=stations)


@router.get("/catalogue", name="web_admin_catalogue")
def catalogue(request: Request, *, who: Admin, cw: CaseworkPage) -> Response:
    policy = cw.retention.policy
    return _page(request, "admin/catalogue.html", who=who, title="环节与保存期限 Steps and "
                 "retention", kinds=cw.cases.step_kinds(), policy=policy,
                 classes=sorted(policy.classes.items()))


@router.get("/holds", name="web_admin_holds")
def holds(request: Request, *, who: Admin, cw: CaseworkPage) -> Response:
    cw.ledger.catalogue.catch_up()
    return _page(request, "admin/holds.html", who=who, title="法律保全 Legal holds",
                 held=cw.ledger.catalogue.held())


@router.post("/holds", name="web_admin_hold_set")
def hold_set(request: Request, *, who: Admin, cw: CaseworkPage, csrf: Csrf,
             sha256: Annotated[str, Form(max_length=80)], on: Annotated[str, Form(max_length=3)],
             reason: Annotated[str, Form(max_length=500)]) -> Response:
    """Put on or lift a legal hold (jobs/retention.py ``set_hold``: the store, then the
    ``legal_hold`` entry)."""
    check_csrf(request, csrf)
    if on not in ("on", "off"):
        raise PolicyViolationError("on 只能是 on 或 off (on: use on or off)")
    cw.ledger.catalogue.catch_up()
    set_hold(cw.retention, sha_in_path(sha256.strip()), on == "on", actor=who.name,
             reason=reason)
    return _done(request, "web_admin_holds", "hold")
