"""The 调阅审批 pages (docs/access.md §8): ask for access to a clip or a case (purpose,
duration, actions), see one's own requests and their answers, and — for approvers — the
pending requests one may decide, approved or refused with a reason. The same use cases as the
REST routes (api/http/rest_approvals.py); every step is a ledger entry (access/approvals.py).
Once approved, the clip page plays and downloads within the grant as it does in one's scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from access.approvals import MAX_REASON_CHARS
from api.http.rest_approvals import person, visible
from api.http.web import CaseworkPage, Csrf, PageRoute, Reader, check_csrf, page
from evidence.bodies.approvals import GRANT_ACTIONS
from evidence.identity import MAX_PURPOSE_CHARS, InvalidInputError

router = APIRouter(route_class=PageRoute, include_in_schema=False)
"""Included by pages.router, which adds the /ui prefix."""

STATUS = {"pending": "待审批 Pending", "approved": "已批准 Approved",
          "rejected": "已拒绝 Refused", "expired": "已过期 Expired"}
ACTIONS = {"view": "查看 View", "download_original": "下载原始文件 Download original"}
assert set(ACTIONS) == set(GRANT_ACTIONS)  # noqa: S101 - one list of actions
NOTICES = {"requested": "已提交调阅申请，等待审批。The request is in the ledger, awaiting "
                        "a decision.",
           "approved": "已批准：申请人可在时限内调阅。Approved: the grant is in the ledger.",
           "rejected": "已拒绝，理由已记录。Refused: the reason is in the ledger."}


@router.get("/approvals", name="web_approvals")
def approvals(request: Request, *, who: Reader, cw: CaseworkPage, clip: str = "",
              case: str = "") -> Response:
    account = person(who)
    cw.approvals.expire_due()
    mine = cw.approvals.mine(account.officer_no)
    pending = cw.approvals.pending_for(account)
    notice = NOTICES.get(request.query_params.get("done", ""))
    return page(request, "approvals.html", who=who, title="调阅审批 Access approvals",
                mine=mine, pending=pending, now=cw.clock(), status=STATUS, actions=ACTIONS,
                clip=clip[:64], case=case[:100], policy=cw.approvals.policy, notice=notice,
                max_purpose=MAX_PURPOSE_CHARS, max_reason=MAX_REASON_CHARS)


def _done(request: Request, what: str) -> Response:
    return RedirectResponse(str(request.url_for("web_approvals")) + f"?done={what}",
                            status_code=303)


@router.post("/approvals", name="web_approvals_request")
def ask(request: Request, *, who: Reader, cw: CaseworkPage, csrf: Csrf,
        purpose: Annotated[str, Form(max_length=MAX_PURPOSE_CHARS * 4)],
        minutes: Annotated[int | None, Form(ge=1)] = None,
        clip: Annotated[str, Form(max_length=64)] = "",
        case: Annotated[str, Form(max_length=100)] = "",
        actions: Annotated[list[str] | None, Form()] = None) -> Response:
    """A request for one clip or a whole case: an ``access_requested`` entry."""
    check_csrf(request, csrf)
    chosen = actions or ["view"]
    if not set(chosen) <= set(GRANT_ACTIONS):
        raise InvalidInputError("未知的调阅方式 (unknown action)")
    cw.approvals.request(person(who), clips=[clip.strip()] if clip.strip() else [],
                         case=case.strip() or None, purpose=purpose, minutes=minutes,
                         actions=chosen)
    return _done(request, "requested")


@router.post("/approvals/{request_id}/decision", name="web_approvals_decide")
def decide(request: Request, *, request_id: int, who: Reader, cw: CaseworkPage, csrf: Csrf,
           approve: Annotated[str, Form(pattern="^(yes|no)$")],
           reason: Annotated[str, Form(max_length=MAX_REASON_CHARS * 4)] = "",
           minutes: Annotated[int | None, Form(ge=1)] = None) -> Response:
    """Approve or refuse (a refusal needs a reason): an ``access_decided`` entry."""
    check_csrf(request, csrf)
    account = person(who)
    visible(cw.approvals, account, request_id)
    cw.approvals.decide(request_id, account, approve=approve == "yes", reason=reason,
                        minutes=minutes)
    return _done(request, "approved" if approve == "yes" else "rejected")
