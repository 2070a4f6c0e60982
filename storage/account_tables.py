"""Units, accounts, sessions and failed sign-ins (migration 0008; docs/access.md).

Not folded from the ledger: these tables are the record of who may sign in. Every change to a
unit or an account is also a ledger entry (``account_changed``), so the audit shows who created
or disabled whom; sessions and failed sign-ins are operational state kept here only (a failed
sign-in is an anonymous caller's doing: written to the ledger, any stranger could grow the
permanent log without bound).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.ledger_tables import LedgerBase

_Id64 = BigInteger().with_variant(Integer(), "sqlite")
_Tz = DateTime(timezone=True)


class UnitRow(LedgerBase):
    __tablename__ = "units"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    parent: Mapped[str | None] = mapped_column(Text, ForeignKey("units.code",
                                                                name="fk_units_parent"))


class AccountRow(LedgerBase):
    __tablename__ = "accounts"

    officer_no: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(Text, ForeignKey("units.code", name="fk_accounts_unit"),
                                      index=True)
    roles: Mapped[str] = mapped_column(Text)
    """Role names, comma-separated (access/accounts.py ROLES)."""
    audit_unit: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str | None] = mapped_column(Text)
    """argon2id, PHC string; None: no password login."""
    created_at: Mapped[datetime] = mapped_column(_Tz)
    disabled_at: Mapped[datetime | None] = mapped_column(_Tz)
    locked_until: Mapped[datetime | None] = mapped_column(_Tz)


class SessionRow(LedgerBase):
    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(_Id64, primary_key=True, autoincrement=True)
    secret_sha256: Mapped[str] = mapped_column(Text, unique=True)
    officer_no: Mapped[str] = mapped_column(Text, index=True)
    created_at: Mapped[datetime] = mapped_column(_Tz)
    last_seen_at: Mapped[datetime] = mapped_column(_Tz)
    ended_at: Mapped[datetime | None] = mapped_column(_Tz)
    ended_reason: Mapped[str | None] = mapped_column(Text)


class LoginFailureRow(LedgerBase):
    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_officer_at", "officer_no", "at"),)

    id: Mapped[int] = mapped_column(_Id64, primary_key=True, autoincrement=True)
    officer_no: Mapped[str] = mapped_column(Text)
    """As typed (bounded, made printable): failures for unknown names are logged too."""
    at: Mapped[datetime] = mapped_column(_Tz)
    reason: Mapped[str] = mapped_column(Text)
    client: Mapped[str | None] = mapped_column(Text)


UNITS = cast(Table, UnitRow.__table__)
ACCOUNTS = cast(Table, AccountRow.__table__)
SESSIONS = cast(Table, SessionRow.__table__)
FAILURES = cast(Table, LoginFailureRow.__table__)
