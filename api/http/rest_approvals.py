"""REST: 调阅审批 (docs/access.md §7): ask for access to clips or a case, list one's own and the
pending requests one may decide, decide. Every step is a ledger entry (access/approvals.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from access.approvals import MAX_CLIPS, MAX_REASON_CHARS, AccessRequest, Approvals
from api.http.auth import Principal, Role, allow
from api.http.deps import CaseworkDep
from api.http.errors import ERROR_RESPONSES
from evidence.bodies.approvals import GRANT_ACTIONS
from evidence.errors import NotFoundError, PolicyViolationError
from evidence.identity import MAX_PURPOSE_CHARS
from evidence.records import Account

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["approvals"])

People = Annotated[Principal, Depends(allow(Role.OFFICER, Role.LEADER, Role.AUDITOR,
                                             Role.ADMIN))]
GrantAction = Literal["view", "download_original"]
assert set(get_args(GrantAction)) == set(GRANT_ACTIONS)  # noqa: S101 - one list of actions


class RequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    clips: list[str] = Field(default=[], max_length=MAX_CLIPS, description="clip SHA-256s")
    case: str | None = Field(default=None, min_length=1, max_length=100,
                             description="a whole case instead of (or beside) clips")
    purpose: str = Field(min_length=1, max_length=MAX_PURPOSE_CHARS * 4)
    minutes: int | None = Field(default=None, ge=1, description="how long the grant lasts "
                                "once approved (default and maximum: the bureau's policy)")
    actions: list[GrantAction] = Field(default=["view"], min_length=1, max_length=2)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool
    reason: str = Field(default="", max_length=MAX_REASON_CHARS * 4,
                        description="required for a refusal")
    minutes: int | None = Field(default=None, ge=1, description="shorten the grant")


class RequestOut(BaseModel):
    id: int = Field(description="the ledger index of its access_requested entry")
    requester: str
    requested_at: datetime
    clips: list[str]
    case: str | None
    purpose: str
    actions: list[str]
    minutes: int
    status: Literal["pending", "approved", "rejected", "expired"]
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    expires_at: datetime | None
    uses: int
    expired_index: int | None

    @classmethod
    def of(cls, r: AccessRequest, now: datetime) -> RequestOut:
        return cls(id=r.id, requester=r.requester, requested_at=r.at, clips=list(r.clips),
                   case=r.case, purpose=r.purpose, actions=list(r.actions), minutes=r.minutes,
                   status=r.status(now),  # type: ignore[arg-type]  # one of the four
                   decided_by=r.decided_by, decided_at=r.decided_at, reason=r.reason,
                   expires_at=r.expires_at, uses=len(r.uses), expired_index=r.expired_index)


def person(who: Principal) -> Account:
    """The caller's account: approvals are for people, not for automation tokens (422)."""
    if who.account is None:
        raise PolicyViolationError("调阅审批仅限个人账号 (access requests are for people with "
                                "accounts, not for API tokens)")
    return who.account


def visible(approvals: Approvals, who: Account, request_id: int) -> AccessRequest:
    found = approvals.get(request_id)
    if not approvals.may_see(who, found):
        raise NotFoundError(f"未找到调阅申请 {request_id} (no access request {request_id})")
    return found


@router.post("/approvals", status_code=201, summary="ask for access to clips or a case")
def create_request(body: RequestIn, who: People, cw: CaseworkDep) -> RequestOut:
    made = cw.approvals.request(person(who), clips=body.clips, case=body.case,
                                purpose=body.purpose, minutes=body.minutes,
                                actions=body.actions)
    return RequestOut.of(made, cw.clock())


@router.get("/approvals", summary="one's own requests, or those pending one's decision")
def list_requests(who: People, cw: CaseworkDep,
                  which: Annotated[Literal["mine", "pending"], Query()] = "mine"
                  ) -> list[RequestOut]:
    account = person(who)
    cw.approvals.expire_due()
    found = (cw.approvals.mine(account.officer_no) if which == "mine"
             else cw.approvals.pending_for(account))
    now = cw.clock()
    return [RequestOut.of(r, now) for r in found]


RequestPath = Annotated[int, Path(ge=0, description="the request's id")]


@router.get("/approvals/{request_id}", summary="one request (its requester and approvers)")
def get_request(request_id: RequestPath, who: People, cw: CaseworkDep) -> RequestOut:
    cw.approvals.expire_due()
    return RequestOut.of(visible(cw.approvals, person(who), request_id), cw.clock())


@router.post("/approvals/{request_id}/decision", summary="approve or refuse, with a reason")
def decide(request_id: RequestPath, body: DecisionIn, who: People,
           cw: CaseworkDep) -> RequestOut:
    account = person(who)
    visible(cw.approvals, account, request_id)
    done = cw.approvals.decide(request_id, account, approve=body.approve, reason=body.reason,
                               minutes=body.minutes)
    return RequestOut.of(done, cw.clock())
