"""Signing in with the officer's SM2 certificate (GB/T 39786-2021 level 3; docs/access.md
§9, ADR 0016).

Two ways, both ending in ``Login.open_session`` like a password sign-in:

- **Challenge–response** (CLI and API clients): :meth:`CertificateLogin.challenge` hands out a
  random challenge, valid ``challenge_ttl`` and usable once; the client answers with its
  certificate and the SM2 signature of its key over the challenge's bytes
  (:meth:`CertificateLogin.answer`). Replaying an answer finds the challenge gone.
- **Forwarded by a gateway** (browsers): a TLCP/TLS gateway that verified the client's
  certificate during its handshake forwards it; :meth:`CertificateLogin.forwarded` checks it
  against the CA again. Whether the request came from a trusted gateway is the HTTP layer's
  decision (``LIUHEN_TRUSTED_PROXIES``), made before this is called.

Every refusal is written to ``login_failures`` (reason ``certificate:<step>``, the 警号 the
certificate claims) with one message to the caller. The lockout after wrong passwords does not
apply: a certificate cannot be guessed; a disabled account is refused.

Concurrency: the open challenges live in this process's memory behind a lock. The server runs
one process (``liuhen serve``); a challenge is answered at the process that issued it. At most
``MAX_OPEN_CHALLENGES`` are open; a flood pushes out the oldest, never grows memory.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NoReturn

from access.login import Login, SignInRefusedError
from evidence.errors import VerificationError
from evidence.records import Session
from integrity.sm2cert import (
    BureauCA,
    OfficerCertificate,
    claimed_officer_no,
    verify_answer,
    verify_certificate,
)

CHALLENGE_PREFIX = "liuhen-login:"
"""Begins every challenge: a signature over one cannot be mistaken for any other signature."""
MAX_OPEN_CHALLENGES = 10_000  # bound the memory an anonymous caller can fill

_REFUSED = ("证书登录失败：证书无效、已过期、已吊销、非本局签发，或签名不符 (certificate "
            "sign-in refused)")


@dataclass(frozen=True, slots=True)
class Challenge:
    challenge: str
    """Sign its UTF-8 bytes with the certificate's key (SM2, user ID 1234567812345678)."""
    expires_at: datetime


@dataclass
class CertificateLogin:
    login: Login
    ca: Callable[[], BureauCA | None]
    """The bureau's CA and CRL as configured now (read at each sign-in, so a refreshed CRL
    counts at once); None: certificate sign-in is not configured and every attempt is refused."""
    challenge_ttl: timedelta = timedelta(minutes=2)
    _open: OrderedDict[str, datetime] = field(default_factory=OrderedDict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def challenge(self) -> Challenge:
        """A fresh challenge (256 random bits), valid ``challenge_ttl``, usable once."""
        now = self.login.clock()
        text = CHALLENGE_PREFIX + secrets.token_urlsafe(32)
        expires = now + self.challenge_ttl
        with self._lock:
            while self._open and (len(self._open) >= MAX_OPEN_CHALLENGES
                                  or next(iter(self._open.values())) <= now):
                self._open.popitem(last=False)  # expired (they are in expiry order) or oldest
            self._open[text] = expires
        return Challenge(challenge=text, expires_at=expires)

    def answer(self, challenge: str, cert_pem: bytes, signature: bytes, *,
               client: str | None = None) -> tuple[str, Session]:
        """A session for the officer whose certificate answered ``challenge``; SignInRefused
        otherwise (unknown, expired or used challenge; certificate refused at a step C1–C6)."""
        with self._lock:
            expires = self._open.pop(challenge, None)  # single use, right or wrong
        if expires is None or self.login.clock() >= expires:
            self._refuse(cert_pem, "certificate:challenge", client)
        return self._sign_in(cert_pem, client=client,
                             answer=lambda cert: verify_answer(cert, challenge.encode(),
                                                               signature))

    def forwarded(self, cert_pem: bytes, *, client: str | None = None) -> tuple[str, Session]:
        """A session for the officer of a certificate a trusted gateway forwarded (its holder
        proved the key in the gateway's handshake); checked C1–C5 here again."""
        return self._sign_in(cert_pem, client=client, answer=None)

    def refuse_untrusted(self, cert_pem: bytes, *, client: str | None) -> NoReturn:
        """Log and refuse a forwarded certificate from an address that is not a gateway's."""
        self._refuse(cert_pem, "certificate:untrusted-proxy", client)

    def _sign_in(self, cert_pem: bytes, *, client: str | None,
                 answer: Callable[[OfficerCertificate], None] | None) -> tuple[str, Session]:
        ca = self.ca()
        if ca is None:
            self._refuse(cert_pem, "certificate:no-ca", client)
        try:
            cert = verify_certificate(cert_pem, ca=ca, now=self.login.clock())
            if answer is not None:
                answer(cert)
        except VerificationError as exc:
            self._refuse(cert_pem, f"certificate:{exc.step}", client)
        account = self.login.account_of(cert.officer_no)
        if account is None or not account.active:
            self._refuse(cert_pem, "certificate:" + ("unknown" if account is None
                                                     else "disabled"), client)
        return self.login.open_session(account, how=f"certificate {cert.serial:x}")

    def _refuse(self, cert_pem: bytes, reason: str, client: str | None) -> NoReturn:
        typed = claimed_officer_no(cert_pem) or "?"
        self.login.failed(typed, self.login.account_of(typed), reason=reason, client=client)
        raise SignInRefusedError(_REFUSED)
