"""Units and accounts (DESIGN.md §8; docs/access.md): the bureau's unit tree and the people who
sign in, each change recorded in the ledger as an ``account_changed`` entry.

Order of writes: the account tables first (they refuse a duplicate 警号 or unit code, even
between two processes racing), then the ledger entry. A crash in between leaves a change
without its entry; the opposite order would leave entries for changes that never happened.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from access.passwords import hash_password
from access.ports import AccountRepo, SessionRepo
from evidence.bodies import AccountChangedBody
from evidence.errors import ConflictError, NotFoundError
from evidence.identity import (
    DEFAULT_OFFICER_NO_PATTERN,
    InvalidInputError,
    canonical_officer_no,
    check_text,
)
from evidence.records import Account, Unit
from ledger.appending import LedgerWriter
from ledger.ports import Clock

ROLES = {"officer": "民警", "leader": "领导", "auditor": "法制", "admin": "管理员"}
"""The roles a person may hold, with the name the pages and messages show."""
UNIT_CODE = re.compile(r"[0-9]{12}")
"""A unit code (机构代码): 12 ASCII digits, e.g. 110101000000."""
MAX_NAME_CHARS = 64
MAX_IMPORT_ROWS = 10_000  # one bureau's people; bound what one file makes us write


def check_unit_code(code: str) -> str:
    text = code.strip()
    if not UNIT_CODE.fullmatch(text):
        raise InvalidInputError(f"单位代码 {text[:40]!r} 格式不对：须为 12 位半角数字 "
                                "(a unit code is 12 ASCII digits)")
    return text


def parse_roles(values: Iterable[str]) -> tuple[str, ...]:
    """Role names from repeated options or comma lists (``officer,leader``), in the order of
    ROLES, each once; the Chinese names (民警, 领导, 法制, 管理员) are accepted too."""
    by_zh = {zh: en for en, zh in ROLES.items()}
    wanted: set[str] = set()
    for value in values:
        for part in value.replace("，", ",").split(","):
            name = part.strip()
            if not name:
                continue
            name = by_zh.get(name, name.lower())
            if name not in ROLES:
                known = "、".join(f"{en}（{zh}）" for en, zh in ROLES.items())
                raise InvalidInputError(f"角色 {part.strip()[:20]!r} 无效：只能是 {known} "
                                        f"(role: use one of {', '.join(ROLES)})")
            wanted.add(name)
    if not wanted:
        raise InvalidInputError("至少要给一个角色 --role (give at least one role)")
    return tuple(r for r in ROLES if r in wanted)


def roles_zh(roles: Iterable[str]) -> str:
    return "、".join(ROLES.get(r, r) for r in roles)


@dataclass
class Accounts:
    """Managing units and accounts; ``actor`` names who does it (recorded in the ledger)."""

    repo: AccountRepo
    sessions: SessionRepo
    writer: LedgerWriter
    clock: Clock
    officer_pattern: str = field(default=DEFAULT_OFFICER_NO_PATTERN)

    def add_unit(self, code: str, name: str, *, parent: str | None, actor: str) -> Unit:
        """A new unit under ``parent`` (which must exist); only the root (市局) has none."""
        unit = Unit(code=check_unit_code(code),
                    name=check_text("单位名称", name, max_chars=MAX_NAME_CHARS),
                    parent=None if parent is None else check_unit_code(parent))
        if unit.parent is not None:
            self._known_unit(unit.parent, what="上级单位")
        try:
            self.repo.add_unit(unit)
        except ConflictError:
            raise ConflictError(f"单位代码 {unit.code} 已存在 (unit {unit.code} exists)") from None
        self.writer.append(AccountChangedBody(change="unit_added", name=unit.name,
                                              unit=unit.parent or "", roles=()),
                           subject=unit.code, actor=actor)
        return unit

    def _known_unit(self, code: str, *, what: str = "单位") -> Unit:
        try:
            return self.repo.unit(code)
        except NotFoundError:
            raise NotFoundError(f"{what} {code} 不存在：请先用 liuhen units add 建立 "
                                f"(unknown unit {code})") from None

    def add_user(self, officer_no: str, *, name: str, unit: str, roles: Iterable[str],
                 password: str | None, actor: str, audit_unit: str | None = None) -> Account:
        """A new account; its 警号 in the bureau's one canonical form (evidence/identity.py)."""
        number = canonical_officer_no(officer_no, pattern=self.officer_pattern)
        account = Account(officer_no=number,
                          name=check_text("姓名", name, max_chars=MAX_NAME_CHARS),
                          unit=check_unit_code(unit), roles=parse_roles(roles),
                          created_at=self.clock(),
                          audit_unit=None if audit_unit is None else check_unit_code(audit_unit),
                          has_password=password is not None)
        self._known_unit(account.unit)
        if account.audit_unit is not None:
            self._known_unit(account.audit_unit, what="审核范围单位")
        hashed = None if password is None else hash_password(password)
        try:
            self.repo.add_account(account, password_hash=hashed)
        except ConflictError:
            raise ConflictError(f"警号 {number} 已有账号 (officer number {number} already has "
                                "an account)") from None
        self._ledger("user_added", account, actor=actor)
        return account

    def _ledger(self, change: str, account: Account, *, actor: str) -> None:
        self.writer.append(AccountChangedBody(change=change, name=account.name,
                                              unit=account.unit, roles=account.roles),
                           subject=account.officer_no, actor=actor)

    def _number(self, officer_no: str) -> str:
        return canonical_officer_no(officer_no, pattern=self.officer_pattern)

    def account(self, officer_no: str) -> Account:
        number = self._number(officer_no)
        try:
            return self.repo.account(number)
        except NotFoundError:
            raise NotFoundError(f"警号 {number} 没有账号 (no account for {number})") from None

    def disable(self, officer_no: str, *, actor: str) -> Account:
        """Disable an account and end its sessions at once (idempotent)."""
        account = self.account(officer_no)
        now = self.clock()
        if account.active:
            account = self.repo.set_disabled(account.officer_no, at=now)
            self._ledger("user_disabled", account, actor=actor)
        self.sessions.end_all(account.officer_no, now=now, reason="disabled")
        return account

    def enable(self, officer_no: str, *, actor: str) -> Account:
        account = self.account(officer_no)
        if not account.active:
            account = self.repo.set_disabled(account.officer_no, at=None)
            self._ledger("user_enabled", account, actor=actor)
        return account

    def set_roles(self, officer_no: str, roles: Iterable[str], *, actor: str) -> Account:
        """Replace a person's roles; open sessions see the new roles on their next request."""
        account = self.account(officer_no)
        account = self.repo.set_roles(account.officer_no, parse_roles(roles))
        self._ledger("roles_changed", account, actor=actor)
        return account

    def set_password(self, officer_no: str, password: str, *, actor: str) -> Account:
        account = self.account(officer_no)
        self.repo.set_password(account.officer_no, hash_password(password))
        self.repo.lock(account.officer_no, until=None)
        self._ledger("password_set", account, actor=actor)
        return account

    def revoke_sessions(self, officer_no: str, *, actor: str) -> int:
        account = self.account(officer_no)
        ended = self.sessions.end_all(account.officer_no, now=self.clock(), reason="revoked")
        self._ledger("sessions_revoked", account, actor=actor)
        return ended

    def revoke_session(self, officer_no: str, session_id: int, *, actor: str) -> None:
        """End one of a person's sessions (the admin pages); NotFoundError when the person
        has no such open session."""
        account = self.account(officer_no)
        if not any(s.id == session_id and s.ended_at is None
                   for s in self.sessions.list(account.officer_no)):
            raise NotFoundError(f"警号 {account.officer_no} 没有进行中的会话 {session_id} "
                                "(no such open session)")
        self.sessions.end(session_id, now=self.clock(), reason="revoked")
        self._ledger("sessions_revoked", account, actor=actor)

    def import_csv(self, text: str, *, actor: str) -> list[Account]:
        """Accounts from CSV with a header row ``警号,姓名,单位,角色`` (or ``officer_no,name,
        unit,roles``; roles comma- or ``|``-separated inside the cell). Every row is checked
        before any is written: one bad row refuses the file, naming its line."""
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
        if not rows:
            raise InvalidInputError("CSV 文件是空的 (the CSV file is empty)")
        header = [h.strip() for h in rows[0]]
        columns = {"警号": "officer_no", "姓名": "name", "单位": "unit", "角色": "roles",
                   "officer_no": "officer_no", "name": "name", "unit": "unit",
                   "roles": "roles"}
        keys = [columns.get(h) for h in header]
        if sorted(k for k in keys if k) != ["name", "officer_no", "roles", "unit"]:
            raise InvalidInputError("CSV 第 1 行须为表头：警号,姓名,单位,角色 (the first line must "
                                    "be the header officer_no,name,unit,roles)")
        if len(rows) - 1 > MAX_IMPORT_ROWS:
            raise InvalidInputError(f"CSV 行数过多：最多 {MAX_IMPORT_ROWS} 行 (too many rows)")
        planned: list[dict[str, str]] = []
        seen: set[str] = set()
        for line, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InvalidInputError(f"CSV 第 {line} 行有 {len(row)} 列，表头有 "
                                        f"{len(header)} 列 (line {line}: wrong number of cells)")
            values = {k: v for k, v in zip(keys, row, strict=True) if k}
            try:
                number = self._number(values["officer_no"])
                parse_roles([values["roles"].replace("|", ",")])
                check_text("姓名", values["name"], max_chars=MAX_NAME_CHARS)
                self._known_unit(check_unit_code(values["unit"]))
                if number in seen or self._exists(number):
                    raise ConflictError(f"警号 {number} 已有账号 (duplicate officer number)")
            except (InvalidInputError, NotFoundError, ConflictError) as exc:
                raise type(exc)(f"CSV 第 {line} 行：{exc}") from None
            seen.add(number)
            planned.append(values)
        return [self.add_user(v["officer_no"], name=v["name"], unit=v["unit"],
                              roles=[v["roles"].replace("|", ",")], password=None, actor=actor)
                for v in planned]

    def _exists(self, number: str) -> bool:
        try:
            self.repo.account(number)
        except NotFoundError:
            return False
        return True

    def subtree(self, code: str) -> frozenset[str]:
        """``code`` and every unit below it."""
        children: dict[str | None, list[str]] = {}
        for unit in self.repo.units():
            children.setdefault(unit.parent, []).append(unit.code)
        return subtree_of(code, children)


def subtree_of(code: str, children: dict[str | None, list[str]]) -> frozenset[str]:
    found = {code}
    todo = [code]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return frozenset(found)
