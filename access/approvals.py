"""调阅审批: requests for access, decisions, time-limited grants (DESIGN.md §8; docs/access.md §7).

A person asks for clips, or a whole case, with a purpose, the actions wanted (``view``,
``download_original``) and a duration; an approver decides with a reason; an approval is a grant
until ``expires_at``. Everything is a ledger entry (evidence/bodies/approvals.py): the request
(``access_requested``; its ledger index is the request's id), the decision
(``access_decided``), each use of a grant (``grant_used``) and its expiry (``grant_expired``).
The state is folded from those entries on every read (``find_kinds`` on the ledger's kind
index): there are few, and no second copy can disagree with the ledger.

Who decides (the bureau's policy, ``DATA/approvals.toml``): a person holding one of
``approvers`` roles (default 领导 and 法制), never the requester, whose own scope (by role and
unit, grants left out) holds every requested clip, or the unit of the requested case.

What a grant does: while live, its clips (or the clips linked to its case) are in the grantee's
scope (``ClipScope.granted_clips``/``granted_cases``, added by :meth:`Approvals.widen` at every
request's authentication); once expired they are not, and the expiry is ledgered the first time
anyone's request notices it. The policy's ``needs_approval`` actions (default:
``download_original``, any read of an original copy) need a live grant even inside one's scope.
Automation tokens without an account are not people and are not asked for approvals.

Concurrency: decisions and expiries are written under the casework lock (one at a time per
database), each re-folding first, so a request is decided once and expired once.

All times come from the injected clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from access.ports import AccountRepo
from access.scope import Scopes, not_found
from cases.ports import CaseLock
from evidence.bodies.approvals import (
    GRANT_ACTIONS,
    AccessDecidedBody,
    AccessRequestedBody,
    GrantExpiredBody,
    GrantUsedBody,
)
from evidence.errors import (
    ConflictError,
    NotFoundError,
    NotPermittedError,
    PolicyViolationError,
)
from evidence.identity import InvalidInputError, canonical_purpose, check_lookup
from evidence.ids import is_sha256_hex
from evidence.records import Account, Case, Clip, ClipScope, EntryKind, LedgerEntry
from integrity.entry import decode_entry
from ledger.appending import LedgerWriter
from ledger.ports import Clock

KINDS = (EntryKind.ACCESS_REQUESTED, EntryKind.ACCESS_DECIDED, EntryKind.GRANT_USED,
         EntryKind.GRANT_EXPIRED)
MAX_CLIPS = 200  # one request names a handful of clips; a case names the rest
MAX_REASON_CHARS = 500
USE_COALESCE = timedelta(minutes=10)
"""A use of the same grant for the same clip, action and copy within this long of the last is
part of it (a player's ranged reads), as ``accessed`` entries are coalesced."""
EXPIRY_ACTOR = "liuhen"
ROLES = ("officer", "leader", "auditor", "admin")


class ApprovalEntries(Protocol):
    """The ledger's entries by kind (storage/ledger_store.py)."""

    def find_kinds(self, kinds: Sequence[str]) -> list[LedgerEntry]: ...


class CaseLookup(Protocol):
    def case(self, case_id: str) -> Case: ...

    def clip(self, sha256: str) -> Clip: ...


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    """The bureau's approval policy (``DATA/approvals.toml``; docs/access.md §7)."""

    approvers: tuple[str, ...] = ("leader", "auditor")
    needs_approval: tuple[str, ...] = ("download_original",)
    default_minutes: int = 240
    max_minutes: int = 7 * 24 * 60

    @classmethod
    def from_doc(cls, doc: Mapping[str, object]) -> ApprovalPolicy:
        """The policy a TOML document states over the defaults; PolicyViolationError naming
        the key for an unknown key or a bad value."""
        known = {"approvers", "needs_approval", "default_minutes", "max_minutes"}
        unknown = sorted(set(doc) - known)
        if unknown:
            raise PolicyViolationError(f"approvals.toml: 未知的设置 {unknown} (unknown keys; "
                                       f"known: {sorted(known)})")
        lists: dict[str, tuple[str, ...]] = {}
        for key, allowed in (("approvers", ROLES), ("needs_approval", GRANT_ACTIONS)):
            if key in doc:
                value = doc[key]
                if not isinstance(value, list) or not all(v in allowed for v in value):
                    raise PolicyViolationError(f"approvals.toml: {key} 应为 {list(allowed)} "
                                               f"中的若干项 (must list some of {list(allowed)})")
                lists[key] = tuple(str(v) for v in value)
        numbers: dict[str, int] = {}
        for key in ("default_minutes", "max_minutes"):
            if key in doc:
                value = doc[key]
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise PolicyViolationError(f"approvals.toml: {key} 应为正整数 (must be a "
                                               "positive integer of minutes)")
                numbers[key] = value
        base = cls()
        policy = cls(approvers=lists.get("approvers", base.approvers),
                     needs_approval=lists.get("needs_approval", base.needs_approval),
                     default_minutes=numbers.get("default_minutes", base.default_minutes),
                     max_minutes=numbers.get("max_minutes", base.max_minutes))
        if not policy.approvers:
            raise PolicyViolationError("approvals.toml: approvers 不能为空：没有人能审批 "
                                       "(no approver role: nobody could decide)")
        if policy.default_minutes > policy.max_minutes:
            raise PolicyViolationError("approvals.toml: default_minutes > max_minutes")
        return policy


@dataclass(frozen=True, slots=True)
class Use:
    at: datetime
    actor: str
    clip: str
    action: str
    variant: str
    index: int


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """One request as folded from its entries; ``id`` is its ``access_requested`` index."""

    id: int
    requester: str
    at: datetime
    clips: tuple[str, ...]
    case: str | None
    purpose: str
    actions: tuple[str, ...]
    minutes: int
    approved: bool | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    expires_at: datetime | None = None
    expired_index: int | None = None
    uses: tuple[Use, ...] = field(default=())

    def status(self, now: datetime) -> str:
        """``pending``, ``rejected``, ``approved`` (a live grant) or ``expired``."""
        if self.approved is None:
            return "pending"
        if not self.approved:
            return "rejected"
        return "approved" if self.live(now) else "expired"

    def live(self, now: datetime) -> bool:
        return bool(self.approved) and self.expires_at is not None and now < self.expires_at


def fold(entries: Sequence[LedgerEntry]) -> dict[int, AccessRequest]:
    """The requests the approval entries record, by id (entries in index order)."""
    found: dict[int, AccessRequest] = {}
    for row in entries:
        entry = decode_entry(row.data)
        match entry.kind:
            case EntryKind.ACCESS_REQUESTED:
                asked = AccessRequestedBody.from_body(entry.body)
                found[row.index] = AccessRequest(
                    id=row.index, requester=entry.actor, at=entry.at, clips=asked.clips,
                    case=asked.case, purpose=asked.purpose, actions=asked.actions,
                    minutes=asked.minutes)
            case EntryKind.ACCESS_DECIDED:
                decided = AccessDecidedBody.from_body(entry.body)
                if (r := found.get(decided.request)) is not None and r.approved is None:
                    found[r.id] = replace(r, approved=decided.approved, decided_by=entry.actor,
                                          decided_at=entry.at, reason=decided.reason,
                                          expires_at=decided.expires_at)
            case EntryKind.GRANT_USED:
                used = GrantUsedBody.from_body(entry.body)
                if (r := found.get(used.request)) is not None:
                    found[r.id] = replace(r, uses=(*r.uses, Use(
                        at=entry.at, actor=entry.actor, clip=entry.subject, action=used.action,
                        variant=used.variant, index=row.index)))
            case EntryKind.GRANT_EXPIRED:
                expired = GrantExpiredBody.from_body(entry.body)
                if (r := found.get(expired.request)) is not None and r.expired_index is None:
                    found[r.id] = replace(r, expired_index=row.index)
            case _:
                pass
    return found


def grant_action(variant: str) -> str:
    """The grant action a read of ``variant`` is: any read of the original is
    ``download_original`` (a browser playing it inline has the whole file too)."""
    return "download_original" if variant == "original" else "view"


@dataclass
class Approvals:
    writer: LedgerWriter
    entries: ApprovalEntries
    scopes: Scopes
    accounts: AccountRepo
    catalogue: CaseLookup
    lock: CaseLock
    clock: Clock
    policy: ApprovalPolicy = field(default_factory=ApprovalPolicy)

    # --- reading -------------------------------------------------------------------------------

    def all(self) -> dict[int, AccessRequest]:
        return fold(self.entries.find_kinds([k.value for k in KINDS]))

    def get(self, request_id: int) -> AccessRequest:
        found = self.all().get(request_id)
        if found is None:
            raise NotFoundError(f"未找到调阅申请 {request_id} (no access request {request_id})")
        return found

    def mine(self, officer_no: str) -> list[AccessRequest]:
        """A person's own requests, newest first."""
        return sorted((r for r in self.all().values() if r.requester == officer_no),
                      key=lambda r: -r.id)

    def pending_for(self, approver: Account) -> list[AccessRequest]:
        """The pending requests ``approver`` may decide, oldest first."""
        return [r for r in sorted(self.all().values(), key=lambda r: r.id)
                if r.approved is None and self.may_decide(approver, r)]

    def decided_by(self, approver: Account, *, limit: int = 50) -> list[AccessRequest]:
        return sorted((r for r in self.all().values() if r.decided_by == approver.officer_no),
                      key=lambda r: -r.id)[:limit]

    def may_see(self, who: Account, request: AccessRequest) -> bool:
        return (who.officer_no in (request.requester, request.decided_by)
                or self.may_decide(who, request))

    def may_decide(self, approver: Account, request: AccessRequest) -> bool:
        """Policy role, not the requester, and the request's clips (or case unit) in the
        approver's own scope (grants left out)."""
        if (not approver.active or approver.officer_no == request.requester
                or not set(approver.roles) & set(self.policy.approvers)):
            return False
        scope = self.scopes.for_account(approver)  # by role, unit and cases: no grants
        for sha in request.clips:
            try:
                clip = self.catalogue.clip(sha)
            except NotFoundError:
                return False
            if not self.scopes.admits(scope, clip):
                return False
        if request.case is not None and not scope.everything:
            try:
                unit = self.catalogue.case(request.case).unit_no
            except NotFoundError:
                return False
            if unit not in scope.units:
                return False
        return True

    # --- writing -------------------------------------------------------------------------------

    def request(self, requester: Account, *, clips: Sequence[str] = (), case: str | None = None,
                purpose: str | None, minutes: int | None = None,
                actions: Sequence[str] = ("view",)) -> AccessRequest:
        """Record ``access_requested``. Any well-formed SHA-256 may be asked for (whether it
        was recorded here is not revealed); a case must exist (case metadata is readable)."""
        shas = tuple(dict.fromkeys(s.strip().lower() for s in clips if s.strip()))
        bad = [s for s in shas if not is_sha256_hex(s)]
        if bad:
            raise InvalidInputError(f"不是 SHA-256：{bad[0][:80]!r} (not a SHA-256 hex digest)")
        if len(shas) > MAX_CLIPS:
            raise InvalidInputError(f"一次最多申请 {MAX_CLIPS} 个视频 (at most {MAX_CLIPS} clips "
                                    "per request: ask for the case instead)")
        if case is not None:
            case = check_lookup("案件编号", case)
            self.catalogue.case(case)
        if not shas and case is None:
            raise InvalidInputError("请给出视频或案件 (name clips or a case)")
        wanted = tuple(dict.fromkeys(actions))
        if not wanted or any(a not in GRANT_ACTIONS for a in wanted):
            raise InvalidInputError(f"调阅操作应为 {'、'.join(GRANT_ACTIONS)} (actions: some of "
                                    f"{', '.join(GRANT_ACTIONS)})")
        length = self._minutes(minutes)
        body = AccessRequestedBody(clips=shas, purpose=canonical_purpose(purpose),
                                   actions=wanted, minutes=length, case=case)
        index = self.writer.append(body, subject=requester.officer_no,
                                   actor=requester.officer_no).index
        return self.get(index)

    def _minutes(self, minutes: int | None) -> int:
        length = self.policy.default_minutes if minutes is None else minutes
        if not 1 <= length <= self.policy.max_minutes:
            raise InvalidInputError(f"期限应为 1 至 {self.policy.max_minutes} 分钟 (duration: 1 "
                                    f"to {self.policy.max_minutes} minutes)")
        return length

    def decide(self, request_id: int, approver: Account, *, approve: bool, reason: str,
               minutes: int | None = None) -> AccessRequest:
        """Record ``access_decided``; an approval grants until now + ``minutes`` (at most what
        was asked). A reason is required for a refusal. NotPermittedError for one who may not
        decide; ConflictError when already decided."""
        reason = reason.strip()
        if len(reason) > MAX_REASON_CHARS:
            raise InvalidInputError(f"理由最长 {MAX_REASON_CHARS} 字 (reason: at most "
                                    f"{MAX_REASON_CHARS} characters)")
        if not reason:
            if not approve:
                raise InvalidInputError("驳回须说明理由 (a refusal needs a reason)")
            reason = "同意"
        with self.lock.hold():
            request = self.get(request_id)
            if request.requester == approver.officer_no:
                raise NotPermittedError("不能审批自己的申请 (you may not decide your own request)")
            if not self.may_decide(approver, request):
                raise NotPermittedError(f"无权审批调阅申请 {request_id} (you may not decide "
                                        "this request)")
            if request.approved is not None:
                raise ConflictError(f"调阅申请 {request_id} 已处理 (already decided)")
            expires = None
            if approve:
                length = request.minutes if minutes is None else min(minutes, request.minutes)
                expires = self.clock() + timedelta(minutes=self._minutes(length))
            self.writer.append(AccessDecidedBody(request=request_id, approved=approve,
                                                 reason=reason, expires_at=expires),
                               subject=request.requester, actor=approver.officer_no)
        return self.get(request_id)

    def expire_due(self) -> list[int]:
        """Ledger ``grant_expired`` for every grant past its end not yet recorded; their ids."""
        now = self.clock()
        due = [r for r in self.all().values()
               if r.approved and r.expired_index is None and not r.live(now)]
        if not due:
            return []
        done = []
        with self.lock.hold():
            for r in due:
                current = self.get(r.id)
                if current.expired_index is not None or current.expires_at is None:
                    continue
                self.writer.append(GrantExpiredBody(request=r.id, expired_at=current.expires_at),
                                   subject=r.requester, actor=EXPIRY_ACTOR)
                done.append(r.id)
        return done

    # --- grants in scope -----------------------------------------------------------------------

    def live_grants(self, officer_no: str) -> list[AccessRequest]:
        now = self.clock()
        return [r for r in self.all().values() if r.requester == officer_no and r.live(now)]

    def widen(self, officer_no: str, scope: ClipScope) -> ClipScope:
        """``scope`` with the clips and cases of the person's live ``view`` grants (expiries
        past due are ledgered first)."""
        self.expire_due()
        grants = [r for r in self.live_grants(officer_no) if "view" in r.actions]
        if not grants or scope.everything:
            return scope
        return replace(scope,
                       granted_clips=frozenset(s for r in grants for s in r.clips),
                       granted_cases=frozenset(r.case for r in grants if r.case is not None))

    def use(self, account: Account | None, scope: ClipScope, clip: Clip, *,
            variant: str) -> int | None:
        """Check a read of ``variant`` of ``clip`` (already found in ``scope``) against the
        grants and the policy; ledger ``grant_used`` when a grant is what allows it. Returns
        the grant's request id, or None when none was needed. NotPermittedError when the
        policy wants an approval the caller has not got."""
        if account is None:
            return None  # automation: no person to approve for
        action = grant_action(variant)
        in_own = self.scopes.admits(Scopes.base(scope), clip)
        if in_own and action not in self.policy.needs_approval:
            return None
        grant = self._grant_for(account.officer_no, clip, action)
        if grant is None:
            if not in_own and action == "view":
                raise not_found(clip.sha256)
            raise NotPermittedError(
                "下载原始文件须经调阅审批：请先提交申请 (reading an original copy needs an "
                "approved access request: ask for one)")
        since = self.clock() - USE_COALESCE
        if not any(u.clip == clip.sha256 and u.action == action and u.variant == variant
                   and u.at >= since for u in grant.uses):
            self.writer.append(GrantUsedBody(request=grant.id, action=action, variant=variant),
                               subject=clip.sha256, actor=account.officer_no)
        return grant.id

    def _grant_for(self, officer_no: str, clip: Clip, action: str) -> AccessRequest | None:
        for grant in self.live_grants(officer_no):
            if action not in grant.actions:
                continue
            if clip.sha256 in grant.clips:
                return grant
            if grant.case is not None and self.scopes.admits(
                    ClipScope(granted_cases=frozenset({grant.case})), clip):
                return grant
        return None
