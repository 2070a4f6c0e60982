"""REST: signing in and out (``POST /api/login``, ``POST /api/logout``) and a person's sessions
(docs/access.md §Sessions). People get a server-side session: its secret comes back as
``token`` (send it as ``Authorization: Bearer``) and in the pages' HttpOnly cookie."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from access.login import SignInRefusedError
from access.passwords import MAX_PASSWORD_CHARS
from api.http.auth import ALL_ROLES, Principal, Role, allow, public
from api.http.deps import CaseworkDep
from api.http.errors import ERROR_RESPONSES
from api.http.web import client_of, set_session_cookies, signin_redirect
from evidence.errors import NotFoundError
from evidence.records import Session
from integrity.sm2cert import MAX_PEM_BYTES

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["sign-in"])

People = Annotated[Principal, Depends(allow(*(ALL_ROLES - {Role.STATION})))]
Anyone = Annotated[Principal, Depends(allow(*ALL_ROLES))]


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    officer_no: str = Field(min_length=1, max_length=64, description="警号")
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS)


class LoginOut(BaseModel):
    token: str = Field(description="the session's secret: send as 'Authorization: Bearer'")
    officer_no: str
    name: str
    roles: list[str]
    session_id: int
    idle_timeout_s: int
    expires_at: datetime = Field(description="the absolute end of the session")


class SessionOut(BaseModel):
    id: int
    officer_no: str
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None
    ended_reason: str | None

    @classmethod
    def of(cls, s: Session) -> SessionOut:
        return cls(id=s.id, officer_no=s.officer_no, created_at=s.created_at,
                   last_seen_at=s.last_seen_at, ended_at=s.ended_at,
                   ended_reason=s.ended_reason)


@router.post("/login", dependencies=[Depends(public)], summary="sign in with 警号 and password",
             responses={401: {"description": "wrong 警号 or password, or locked or disabled"}})
def login(body: LoginIn, request: Request, response: Response, cw: CaseworkDep) -> LoginOut:
    try:
        secret, session = cw.login.password(body.officer_no, body.password,
                                            client=client_of(request))
    except SignInRefusedError as exc:
        raise HTTPException(status_code=401, detail=str(exc)) from None
    return _signed_in(request, response, cw, secret, session)


class ChallengeOut(BaseModel):
    challenge: str = Field(description="sign its UTF-8 bytes with the certificate's SM2 key "
                           "(user ID 1234567812345678); valid once, until expires_at")
    expires_at: datetime


class CertificateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    challenge: str = Field(min_length=1, max_length=100)
    certificate: str = Field(min_length=1, max_length=MAX_PEM_BYTES,
                             description="the officer's certificate, PEM")
    signature: str = Field(min_length=1, max_length=200,
                           description="SM2 signature over the challenge, DER, base64")


@router.post("/login/challenge", dependencies=[Depends(public)],
             summary="a challenge for signing in with an SM2 certificate")
def login_challenge(cw: CaseworkDep) -> ChallengeOut:
    c = cw.certificates.challenge()
    return ChallengeOut(challenge=c.challenge, expires_at=c.expires_at)


@router.post("/login/certificate", dependencies=[Depends(public)],
             summary="sign in with an SM2 certificate: the signed answer to a challenge",
             responses={401: {"description": "challenge unknown, used or expired; certificate "
                              "refused; wrong key; no account"}})
def login_certificate(body: CertificateIn, request: Request, response: Response,
                      cw: CaseworkDep) -> LoginOut:
    try:
        signature = base64.b64decode(body.signature, validate=True)
    except ValueError:  # not base64 (binascii.Error), or not ASCII
        signature = b""  # refused as a bad signature, and logged, below
    try:
        secret, session = cw.certificates.answer(
            body.challenge, body.certificate.encode("utf-8", "replace"), signature,
            client=client_of(request))
    except SignInRefusedError as exc:
        raise HTTPException(status_code=401, detail=str(exc)) from None
    return _signed_in(request, response, cw, secret, session)


def _signed_in(request: Request, response: Response, cw: CaseworkDep, secret: str,
               session: Session) -> LoginOut:
    account = cw.accounts.account(session.officer_no)
    set_session_cookies(request, response, secret)
    policy = cw.login.policy
    return LoginOut(token=secret, officer_no=account.officer_no, name=account.name,
                    roles=list(account.roles), session_id=session.id,
                    idle_timeout_s=int(policy.idle.total_seconds()),
                    expires_at=session.created_at + policy.absolute)


@router.post("/logout", status_code=204, summary="end the caller's session on the server")
def logout(request: Request, who: Anyone, cw: CaseworkDep) -> Response:
    if who.session_id is not None:
        cw.accounts.sessions.end(who.session_id, now=cw.clock(), reason="signed out")
    done = signin_redirect(request)  # clears the pages' cookies
    out = Response(status_code=204)
    for key, value in done.headers.items():
        if key.lower() == "set-cookie":
            out.headers.append(key, value)
    return out


OfficerPath = Annotated[str, Path(min_length=1, max_length=32, description="警号")]


def _own_or_admin(who: Principal, officer_no: str) -> None:
    if who.name != officer_no and Role.ADMIN not in who.roles:
        raise NotFoundError(f"警号 {officer_no} 没有账号 (no account for {officer_no})")


@router.get("/users/{officer_no}/sessions", summary="a person's sessions (own, or any: admin)")
def list_sessions(officer_no: OfficerPath, who: People, cw: CaseworkDep) -> list[SessionOut]:
    _own_or_admin(who, officer_no)
    account = cw.accounts.account(officer_no)
    return [SessionOut.of(s) for s in cw.accounts.sessions.list(account.officer_no)]


@router.delete("/users/{officer_no}/sessions", summary="end every open session of a person")
def revoke_sessions(officer_no: OfficerPath, who: People, cw: CaseworkDep) -> dict[str, int]:
    _own_or_admin(who, officer_no)
    return {"ended": cw.accounts.revoke_sessions(officer_no, actor=who.name)}
