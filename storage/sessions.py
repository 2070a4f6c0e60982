"""Server-side sessions (table ``sessions``): only SHA-256 of a session's secret is kept, as for
API tokens (storage/tokens.py: 256 random bits need no slow hash)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.engine import Row

from evidence.records import Session
from storage.account_tables import SESSIONS
from storage.dberrors import translate_errors

_S = SESSIONS.c
SECRET_BYTES = 32


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", errors="surrogatepass")).hexdigest()


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _session(r: Row[Any]) -> Session:
    return Session(id=r.id, officer_no=r.officer_no, created_at=_utc(r.created_at),
                   last_seen_at=_utc(r.last_seen_at),
                   ended_at=None if r.ended_at is None else _utc(r.ended_at),
                   ended_reason=r.ended_reason)


class SqlSessionRepo:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, officer_no: str, *, now: datetime) -> tuple[str, Session]:
        secret = secrets.token_urlsafe(SECRET_BYTES)
        with translate_errors("start a session"), self._engine.begin() as conn:
            new_id = conn.execute(insert(SESSIONS).values(
                secret_sha256=_sha(secret), officer_no=officer_no, created_at=now,
                last_seen_at=now).returning(_S.id)).scalar_one()
        return secret, Session(id=new_id, officer_no=officer_no, created_at=_utc(now),
                               last_seen_at=_utc(now))

    def find(self, secret: str) -> Session | None:
        with translate_errors("look up a session"), self._engine.connect() as conn:
            r = conn.execute(select(SESSIONS).where(_S.secret_sha256 == _sha(secret))).first()
        return None if r is None else _session(r)

    def touch(self, session_id: int, *, now: datetime) -> None:
        with translate_errors("touch a session"), self._engine.begin() as conn:
            conn.execute(update(SESSIONS).where(_S.id == session_id, _S.ended_at.is_(None))
                         .values(last_seen_at=now))

    def end(self, session_id: int, *, now: datetime, reason: str) -> None:
        with translate_errors("end a session"), self._engine.begin() as conn:
            conn.execute(update(SESSIONS).where(_S.id == session_id, _S.ended_at.is_(None))
                         .values(ended_at=now, ended_reason=reason))

    def end_all(self, officer_no: str, *, now: datetime, reason: str) -> int:
        with translate_errors("end sessions"), self._engine.begin() as conn:
            return conn.execute(update(SESSIONS).where(
                _S.officer_no == officer_no, _S.ended_at.is_(None))
                .values(ended_at=now, ended_reason=reason)).rowcount

    def list(self, officer_no: str) -> list[Session]:
        with translate_errors("list sessions"), self._engine.connect() as conn:
            rows = conn.execute(select(SESSIONS).where(_S.officer_no == officer_no)
                                .order_by(_S.id)).all()
        return [_session(r) for r in rows]
