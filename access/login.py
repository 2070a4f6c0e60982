"""Signing in and who is calling (DESIGN.md §8; docs/access.md §Sessions).

People sign in with 警号 and password (argon2id) and get a server-side session: a random
secret (256 bits) the server keeps only as SHA-256, ended by sign-out, by revocation, by
disabling the account, after ``idle`` without a request and after ``absolute`` since sign-in.
Stations and automation present API tokens (storage/tokens.py), scoped and expiring.

Throttling: each failed sign-in of a 警号 is written to ``login_failures`` (the reason, the
client address); ``max_failures`` within ``failure_window`` lock the 警号 for ``lockout``,
during which even the right password is refused (and the refusal is logged too). A locked or
unknown 警号 gets the same answer as a wrong password: the caller learns nothing about which.

Every time comes from the injected clock (tests move a fake one across the limits).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from access.passwords import dummy_hash, password_matches
from access.ports import AccountRepo, Grants, SessionRepo, TokenRepo
from access.scope import Scopes
from evidence.errors import NotFoundError, PolicyViolationError
from evidence.records import Account, ClipScope, Session
from ledger.ports import Clock

log = logging.getLogger("liuhen.access")

SESSION_PREFIX = "lhs_"
"""Marks a session secret (a token is ``lh_…``): one lookup per credential, never both."""
MAX_CREDENTIAL_CHARS = 200  # bound what is hashed for a presented credential
MAX_ECHO_CHARS = 32  # of a typed 警号 in the failure log


class SignInRefusedError(PolicyViolationError):
    """Wrong 警号 or password, a locked or disabled account (HTTP 401): one message for all."""


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    max_failures: int = 5
    failure_window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    touch_every: timedelta = timedelta(minutes=1)
    """A session's last-seen time is written at most this often: a page with thumbnails and a
    live board is dozens of requests a minute, each otherwise a write; idle expiry is late by
    at most this much."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a credential belongs to: ``name`` is the ledger's actor, ``roles`` what they may do,
    ``scope`` which clips they see; ``account`` for people (and tokens naming one),
    ``session_id`` or ``token_id`` for the credential itself."""

    name: str
    roles: tuple[str, ...]
    scope: ClipScope
    account: Account | None = None
    session_id: int | None = None
    token_id: int | None = None


_REFUSED = ("警号或密码错误，或账号已锁定、停用 (wrong officer number or password, or the "
            "account is locked or disabled)")


@dataclass
class Login:
    accounts: AccountRepo
    sessions: SessionRepo
    tokens: TokenRepo
    scopes: Scopes
    clock: Clock
    policy: LoginPolicy = field(default_factory=LoginPolicy)
    grants: Grants | None = None
    """Adds a person's live grants (调阅审批) to their scope; None: no approvals."""

    def _scope(self, account: Account, scope: ClipScope) -> ClipScope:
        return scope if self.grants is None else self.grants.widen(account.officer_no, scope)

    def password(self, officer_no: str, password: str, *,
                 client: str | None = None) -> tuple[str, Session]:
        """A new session for a right 警号 and password; SignInRefusedError otherwise, each
        failure logged and counted towards the lockout."""
        typed = officer_no.strip()[:MAX_ECHO_CHARS]
        now = self.clock()
        account = self.account_of(typed)
        stored = None if account is None else self.accounts.password_hash(account.officer_no)
        ok = password_matches(stored or dummy_hash(), password) and stored is not None
        reason = None
        if account is None:
            reason = "unknown"
        elif not account.active:
            reason = "disabled"
        elif (until := self.accounts.locked_until(account.officer_no)) and until > now:
            reason = "locked"
        elif not ok:
            reason = "password"
        if reason is not None:
            self.failed(typed, account, reason=reason, client=client)
            raise SignInRefusedError(_REFUSED)
        assert account is not None  # noqa: S101 - reason is None only with an account
        self.accounts.lock(account.officer_no, until=None)
        return self.open_session(account, how="password")

    def open_session(self, account: Account, *, how: str) -> tuple[str, Session]:
        """A new session of ``account``, signed in by ``how`` (password, certificate): the
        one end of every sign-in."""
        secret, session = self.sessions.create(account.officer_no, now=self.clock())
        log.info("sign-in of %s by %s (session %d)", account.officer_no, how, session.id)
        return SESSION_PREFIX + secret, session

    def account_of(self, typed: str) -> Account | None:
        try:
            return self.accounts.account(typed)
        except NotFoundError:
            return None

    def failed(self, typed: str, account: Account | None, *, reason: str,
               client: str | None) -> None:
        """Log a failed sign-in (table and log); a wrong password counts towards the lockout."""
        now = self.clock()
        self.accounts.record_failure(typed, at=now, reason=reason, client=client)
        log.warning("failed sign-in for %r from %s: %s", typed, client or "?", reason)
        if account is None or reason != "password":
            return
        since = now - self.policy.failure_window
        if self.accounts.failures_since(account.officer_no, since) >= self.policy.max_failures:
            self.accounts.lock(account.officer_no, until=now + self.policy.lockout)
            log.warning("%s locked until %s after %d failed sign-ins", account.officer_no,
                        now + self.policy.lockout, self.policy.max_failures)

    def logout(self, caller: Caller) -> None:
        """End the caller's session on the server (a token is not ended by sign-out)."""
        if caller.session_id is not None:
            self.sessions.end(caller.session_id, now=self.clock(), reason="signed out")

    def authenticate(self, credential: str) -> Caller | None:
        """The caller a session secret or an API token belongs to; None when it is unknown,
        ended, expired, revoked, or its account is disabled."""
        if not credential or len(credential) > MAX_CREDENTIAL_CHARS:
            return None
        if credential.startswith(SESSION_PREFIX):
            return self._session(credential.removeprefix(SESSION_PREFIX))
        return self._token(credential)

    def _session(self, secret: str) -> Caller | None:
        session = self.sessions.find(secret)
        if session is None or session.ended_at is not None:
            return None
        now = self.clock()
        if now - session.last_seen_at >= self.policy.idle:
            self.sessions.end(session.id, now=now, reason="idle")
            return None
        if now - session.created_at >= self.policy.absolute:
            self.sessions.end(session.id, now=now, reason="expired")
            return None
        account = self.account_of(session.officer_no)
        if account is None or not account.active:
            self.sessions.end(session.id, now=now, reason="disabled")
            return None
        if now - session.last_seen_at >= self.policy.touch_every:
            self.sessions.touch(session.id, now=now)
        return Caller(name=account.officer_no, roles=account.roles,
                      scope=self._scope(account, self.scopes.for_account(account)),
                      account=account, session_id=session.id)

    def _token(self, token: str) -> Caller | None:
        record = self.tokens.authenticate(token, now=self.clock())
        if record is None:
            return None
        account = self.account_of(record.name)
        if account is not None and not account.active:
            return None  # a disabled person's tokens stop with them
        if record.role == "device":
            scope = ClipScope()  # a recorder uploads; it sees no clip, not even its own
        elif record.scope != "all":
            scope = self.scopes.for_unit(record.scope)
        elif account is not None:
            scope = self._scope(account, self.scopes.for_account(account))
        else:
            scope = ClipScope(everything=True)  # automation (docs/access.md §Tokens)
        return Caller(name=record.name, roles=(record.role,), scope=scope, account=account,
                      token_id=record.id)
