"""Units, accounts and failed sign-ins in the ledger's database (storage/account_tables.py).

Concurrency: a duplicate 警号 or unit code is refused by the primary key, so two processes
adding the same one at once get one success and one ConflictError (storage/dberrors.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.engine import Row

from evidence.errors import NotFoundError
from evidence.records import Account, Unit
from storage.account_tables import ACCOUNTS, FAILURES, UNITS
from storage.dberrors import translate_errors

_A = ACCOUNTS.c


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _account(r: Row[Any]) -> Account:
    created = _utc(r.created_at)
    assert created is not None  # noqa: S101 - NOT NULL column
    return Account(officer_no=r.officer_no, name=r.name, unit=r.unit,
                   roles=tuple(x for x in r.roles.split(",") if x), created_at=created,
                   disabled_at=_utc(r.disabled_at), audit_unit=r.audit_unit,
                   has_password=r.password_hash is not None)


class SqlAccountRepo:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _one(self, action: str, stmt: Any) -> Row[Any] | None:
        with translate_errors(action), self._engine.connect() as conn:
            return conn.execute(stmt).first()

    def unit(self, code: str) -> Unit:
        r = self._one("read a unit", select(UNITS).where(UNITS.c.code == code))
        if r is None:
            raise NotFoundError(f"单位 {code} 不存在 (no unit {code})")
        return Unit(code=r.code, name=r.name, parent=r.parent)

    def units(self) -> list[Unit]:
        with translate_errors("read units"), self._engine.connect() as conn:
            rows = conn.execute(select(UNITS).order_by(UNITS.c.code)).all()
        return [Unit(code=r.code, name=r.name, parent=r.parent) for r in rows]

    def add_unit(self, unit: Unit) -> None:
        with translate_errors(f"单位 {unit.code} 已存在 (add unit {unit.code})"), \
                self._engine.begin() as conn:
            conn.execute(insert(UNITS).values(code=unit.code, name=unit.name,
                                              parent=unit.parent))

    def account(self, officer_no: str) -> Account:
        r = self._one("read an account", select(ACCOUNTS).where(_A.officer_no == officer_no))
        if r is None:
            raise NotFoundError(f"警号 {officer_no} 没有账号 (no account for {officer_no})")
        return _account(r)

    def unit_of(self, officer_no: str) -> str | None:
        """The unit of ``officer_no``'s account, None without one (cases/ports.OfficerUnits)."""
        r = self._one("read an account's unit", select(_A.unit).where(_A.officer_no == officer_no))
        return None if r is None else str(r.unit)

    def accounts(self) -> list[Account]:
        with translate_errors("read accounts"), self._engine.connect() as conn:
            rows = conn.execute(select(ACCOUNTS).order_by(_A.unit, _A.officer_no)).all()
        return [_account(r) for r in rows]

    def add_account(self, account: Account, *, password_hash: str | None) -> None:
        with translate_errors(f"add the account of {account.officer_no}"), \
                self._engine.begin() as conn:
            conn.execute(insert(ACCOUNTS).values(
                officer_no=account.officer_no, name=account.name, unit=account.unit,
                roles=",".join(account.roles), audit_unit=account.audit_unit,
                password_hash=password_hash, created_at=account.created_at,
                disabled_at=account.disabled_at, locked_until=None))

    def _update(self, officer_no: str, action: str, **values: object) -> None:
        with translate_errors(action), self._engine.begin() as conn:
            done = conn.execute(update(ACCOUNTS).where(_A.officer_no == officer_no)
                                .values(**values)).rowcount
        if done == 0:
            raise NotFoundError(f"警号 {officer_no} 没有账号 (no account for {officer_no})")

    def set_disabled(self, officer_no: str, *, at: datetime | None) -> Account:
        self._update(officer_no, "disable an account", disabled_at=at)
        return self.account(officer_no)

    def set_roles(self, officer_no: str, roles: tuple[str, ...]) -> Account:
        self._update(officer_no, "change roles", roles=",".join(roles))
        return self.account(officer_no)

    def password_hash(self, officer_no: str) -> str | None:
        r = self._one("read a password hash",
                      select(_A.password_hash).where(_A.officer_no == officer_no))
        return None if r is None else r.password_hash

    def set_password(self, officer_no: str, password_hash: str) -> None:
        self._update(officer_no, "set a password", password_hash=password_hash)

    def locked_until(self, officer_no: str) -> datetime | None:
        r = self._one("read a lockout",
                      select(_A.locked_until).where(_A.officer_no == officer_no))
        return None if r is None else _utc(r.locked_until)

    def lock(self, officer_no: str, *, until: datetime | None) -> None:
        self._update(officer_no, "lock an account", locked_until=until)

    def record_failure(self, officer_no: str, *, at: datetime, reason: str,
                       client: str | None) -> None:
        with translate_errors("log a failed sign-in"), self._engine.begin() as conn:
            conn.execute(insert(FAILURES).values(officer_no=officer_no, at=at, reason=reason,
                                                 client=client))

    def failures_since(self, officer_no: str, since: datetime) -> int:
        stmt = select(func.count()).select_from(FAILURES).where(
            FAILURES.c.officer_no == officer_no, FAILURES.c.at >= since,
            FAILURES.c.reason == "password")
        r = self._one("count failed sign-ins", stmt)
        return 0 if r is None else int(r[0])
