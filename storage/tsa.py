"""RFC 3161 over HTTP (RFC 3161 §3.4): the adapter behind the consumer's TimestampAuthority.

``HttpTimestampAuthority.timestamp(message)`` POSTs a TimeStampReq for SHA-256(message) — or
SM3(message) for a TSA configured with ``imprint="sm3"``, as Chinese TSAs (GM/T 0033) sign
SM2-with-SM3 over SM3 imprints — and returns the TSA's DER TimeStampResp verbatim: that is the
token liuhen stores (see ``integrity/timestamp.py`` and ``integrity/timestamp_sm.py``). It
checks only what tells a usable reply from a useless one — PKIStatus granted and an imprint over
our message — not the signature or chain: that is ``verify_timestamp``'s job with the configured
roots, and it runs on the stored bytes.

Error mapping (STYLE.md §3):

- connection failures, timeouts, HTTP 5xx/429, PKIStatus ``waiting`` or ``rejection`` →
  ``UnavailableError``: no token was issued, nothing to quarantine; retry later or ask another TSA.
  (A rejection may be permanent, e.g. ``badAlg``; its status text is in the message.)
- other HTTP errors, a reply that does not parse, a granted token over other bytes, or any other
  status (grantedWithMods, revocationWarning, revocationNotification) → ``VerificationError``:
  the TSA answered, and the answer must not be used.

The request nonce is not compared: a replayed token over the same message still truthfully attests
that the message existed at its genTime, which is all the ledger relies on.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import httpx
from rfc3161_client import PKIStatus, decode_timestamp_response

from evidence.errors import UnavailableError, VerificationError
from integrity.timestamp import MAX_TOKEN_BYTES, STEP, build_request
from integrity.timestamp_sm import build_sm3_request, sm3

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
_RETRY_STATUSES = {PKIStatus.WAITING, PKIStatus.REJECTION}


class HttpTimestampAuthority:
    """One RFC 3161 TSA reached by HTTP POST; ``name`` identifies it in config and ledger entries.

    Each call opens its own short-lived connection, so an instance is safe to share between
    threads. ``timeout_s`` bounds connect, read and write separately. ``imprint`` is the hash
    the request carries: ``sha256`` (international TSAs) or ``sm3`` (SM2 TSAs).
    """

    def __init__(self, url: str, *, timeout_s: float = 10.0, name: str,
                 imprint: Literal["sha256", "sm3"] = "sha256") -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.name = name
        self.imprint = imprint

    def __repr__(self) -> str:
        return (f"HttpTimestampAuthority({self.url!r}, name={self.name!r}, "
                f"imprint={self.imprint!r})")

    def timestamp(self, message: bytes) -> bytes:
        """Get a token over the imprint of ``message``; returns the DER TimeStampResp as
        received."""
        query = build_sm3_request(message) if self.imprint == "sm3" else build_request(message)
        try:
            reply = httpx.post(
                self.url,
                content=query,
                headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE},
                timeout=self.timeout_s,
            )
        except httpx.HTTPError as exc:  # connect/read/write errors and timeouts
            raise UnavailableError(f"TSA {self.name} unreachable: {exc!r}") from exc

        if reply.status_code >= 500 or reply.status_code == 429:
            raise UnavailableError(f"TSA {self.name} answered HTTP {reply.status_code}")
        if reply.status_code != 200:
            raise VerificationError(
                f"TSA {self.name} answered HTTP {reply.status_code}", step=STEP
            )
        return self._check_reply(reply.content, message)

    def _check_reply(self, der: bytes, message: bytes) -> bytes:
        if len(der) > MAX_TOKEN_BYTES:
            raise VerificationError(
                f"TSA {self.name} reply is {len(der)} bytes", step=STEP
            )
        try:
            response = decode_timestamp_response(der)
            status = response.status
        except ValueError as exc:
            raise VerificationError(
                f"TSA {self.name} reply is not a TimeStampResp: {exc}", step=STEP
            ) from exc
        if status in _RETRY_STATUSES:
            raise UnavailableError(
                f"TSA {self.name} did not grant: PKIStatus {status} {response.status_string}"
            )
        if status != PKIStatus.GRANTED:
            raise VerificationError(
                f"TSA {self.name} PKIStatus {status} {response.status_string}",
                step=STEP,
            )
        try:
            imprint = response.tst_info.message_imprint.message
        except ValueError as exc:
            raise VerificationError(
                f"TSA {self.name} granted without a usable token: {exc}", step=STEP
            ) from exc
        expected = sm3(message) if self.imprint == "sm3" else hashlib.sha256(message).digest()
        if imprint != expected:
            raise VerificationError(
                f"TSA {self.name} returned a token over other bytes", step=STEP
            )
        return der
