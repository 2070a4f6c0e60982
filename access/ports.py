"""The interfaces access owns (STYLE.md §2), satisfied by storage/ and chosen by api/compose.py."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from evidence.records import ApiToken


class TokenRepo(Protocol):
    """API tokens for stations and automation, kept as their SHA-256 only (storage/tokens.py)."""

    def issue(self, *, name: str, role: str, now: datetime) -> tuple[str, ApiToken]: ...

    def authenticate(self, token: str) -> ApiToken | None: ...

    def revoke(self, token_id: int, *, now: datetime) -> ApiToken: ...

    def list(self, *, include_revoked: bool = True) -> list[ApiToken]: ...
