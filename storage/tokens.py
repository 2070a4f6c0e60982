"""API tokens (table ``api_tokens``, migration 0004): the one catalogue table not folded from
the ledger.

Threat model: the database may be read by people who must not act as its users (backups,
replicas, a DBA). So only SHA-256 of a token is kept; the token itself (32 random bytes from
``secrets``, 256 bits, so an unsalted fast hash is enough: there is nothing to guess) is shown
once, when issued. A lookup hashes the presented token and finds the row by its unique hash.
Tokens are never written to a log by this module; callers must not log them either.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, insert, select, update
from sqlalchemy.engine import Row

from evidence.errors import NotFoundError
from evidence.records import ApiToken
from storage.catalogue_tables import ApiTokenRow
from storage.dberrors import translate_errors

_TOKENS = cast(Table, ApiTokenRow.__table__)
_T = _TOKENS.c

TOKEN_PREFIX = "lh_"  # noqa: S105 - a public marker, not a secret
"""Marks a liuhen token, so secret scanners and people recognise one."""
TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 200  # bound what is hashed for a presented token


def token_sha256(token: str) -> str:
    """The stored form of a token: SHA-256 of its UTF-8, lowercase hex."""
    return hashlib.sha256(token.encode("utf-8", errors="surrogatepass")).hexdigest()


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _token(r: Row[Any]) -> ApiToken:
    return ApiToken(id=r.id, name=r.name, role=r.role, created_at=_utc(r.created_at),
                    revoked_at=None if r.revoked_at is None else _utc(r.revoked_at),
                    expires_at=None if r.expires_at is None else _utc(r.expires_at),
                    scope=r.scope)


class SqlTokenRepo:
    """API tokens in the ledger's database (one engine shared with the ledger)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def issue(self, *, name: str, role: str, now: datetime, expires_at: datetime | None = None,
              scope: str = "all") -> tuple[str, ApiToken]:
        """Create a token for ``name`` with ``role``, valid until ``expires_at`` (None: no
        expiry) for the clips of ``scope`` (``all`` or a unit code); returns (the token, its
        record). The token is not kept anywhere: this is the only time it exists outside its
        holder's hands."""
        if not name.strip():
            raise ValueError("a token needs the name of its holder")
        token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
        with translate_errors("issue an API token"), self._engine.begin() as conn:
            new_id = conn.execute(insert(_TOKENS).values(
                token_sha256=token_sha256(token), name=name, role=role, created_at=now,
                revoked_at=None, expires_at=expires_at, scope=scope)
                .returning(_T.id)).scalar_one()
        return token, ApiToken(id=new_id, name=name, role=role, created_at=_utc(now),
                               expires_at=None if expires_at is None else _utc(expires_at),
                               scope=scope)

    def authenticate(self, token: str, *, now: datetime | None = None) -> ApiToken | None:
        """The active token record for a presented token, else None (unknown, revoked, or
        expired at ``now``)."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        with translate_errors("look up an API token"), self._engine.connect() as conn:
            row = conn.execute(select(_TOKENS).where(_T.token_sha256 == token_sha256(token),
                                                     _T.revoked_at.is_(None))).first()
        if row is None:
            return None
        record = _token(row)
        if now is not None and record.expires_at is not None and record.expires_at <= now:
            return None
        return record

    def revoke(self, token_id: int, *, now: datetime) -> ApiToken:
        """Revoke a token by id (idempotent: a revoked token keeps its first revocation time)."""
        with translate_errors("revoke an API token"), self._engine.begin() as conn:
            conn.execute(update(_TOKENS).where(_T.id == token_id, _T.revoked_at.is_(None))
                         .values(revoked_at=now))
            row = conn.execute(select(_TOKENS).where(_T.id == token_id)).first()
        if row is None:
            raise NotFoundError(f"no API token with id {token_id}")
        return _token(row)

    def list(self, *, include_revoked: bool = True) -> list[ApiToken]:
        stmt = select(_TOKENS).order_by(_T.id)
        if not include_revoked:
            stmt = stmt.where(_T.revoked_at.is_(None))
        with translate_errors("list API tokens"), self._engine.connect() as conn:
            return [_token(r) for r in conn.execute(stmt).all()]
