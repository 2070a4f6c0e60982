"""Bodies of the entries 调阅审批 (access approval) writes (DESIGN.md §8; docs/access.md §7).

A request is known by the ledger index of its ``access_requested`` entry; the decision, each
use of the grant and its expiry name that index in ``request``. Subjects: the requester's 警号
(request, decision, expiry: one person's approvals read together), the clip's SHA-256 (a use:
beside the clip's ``accessed`` entries).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Self

from evidence.bodies.fields import Fields, put_if
from evidence.ledgertime import format_time
from evidence.records import EntryKind

GRANT_ACTIONS = ("view", "download_original")
"""What a grant allows: ``view`` (play or download the playback/proxy copies), and
``download_original`` (any read of the original copy)."""


def _actions(f: Fields, key: str) -> tuple[str, ...]:
    actions = f.texts(key)
    for action in actions:
        if action not in GRANT_ACTIONS:
            raise f.error(key, f"不是已知的调阅操作 {action!r}",
                          f"is not a known action {action!r}")
    return actions


@dataclass(frozen=True, slots=True)
class AccessRequestedBody:
    """``access_requested`` (subject and actor: the requester's 警号): ``clips`` (SHA-256s)
    and/or ``case`` (a case id, written only for a whole-case request), ``purpose``,
    ``actions`` asked for, ``minutes`` the grant is to last once approved."""

    kind: ClassVar[EntryKind] = EntryKind.ACCESS_REQUESTED
    OPTIONAL_KEYS: ClassVar[frozenset[str]] = frozenset({"case"})

    clips: tuple[str, ...]
    purpose: str
    actions: tuple[str, ...]
    minutes: int
    case: str | None = None

    def to_body(self) -> dict[str, object]:
        return put_if({"clips": list(self.clips), "purpose": self.purpose,
                       "actions": list(self.actions), "minutes": self.minutes},
                      "case", self.case)

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(clips=f.texts("clips"), purpose=f.text("purpose"),
                   actions=_actions(f, "actions"), minutes=f.integer("minutes"),
                   case=f.text_if_present("case"))


@dataclass(frozen=True, slots=True)
class AccessDecidedBody:
    """``access_decided`` (subject: the requester's 警号; actor: the approver): ``request``
    (its index), ``approved``, ``reason``; ``expires_at`` only when approved."""

    kind: ClassVar[EntryKind] = EntryKind.ACCESS_DECIDED
    OPTIONAL_KEYS: ClassVar[frozenset[str]] = frozenset({"expires_at"})

    request: int
    approved: bool
    reason: str
    expires_at: datetime | None = None

    def to_body(self) -> dict[str, object]:
        return put_if({"request": self.request, "approved": self.approved,
                       "reason": self.reason}, "expires_at",
                      None if self.expires_at is None else format_time(self.expires_at))

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(request=f.integer("request"), approved=f.flag("approved"),
                   reason=f.text("reason"), expires_at=f.time_if_present("expires_at"))


@dataclass(frozen=True, slots=True)
class GrantUsedBody:
    """``grant_used`` (subject: the clip's SHA-256; actor: the grantee): ``request`` whose
    grant let them, ``action`` (``view``/``download_original``) and ``variant`` read."""

    kind: ClassVar[EntryKind] = EntryKind.GRANT_USED

    request: int
    action: str
    variant: str

    def to_body(self) -> dict[str, object]:
        return {"request": self.request, "action": self.action, "variant": self.variant}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        action = f.text("action")
        if action not in GRANT_ACTIONS:
            raise f.error("action", f"不是已知的调阅操作 {action!r}",
                          f"is not a known action {action!r}")
        return cls(request=f.integer("request"), action=action, variant=f.text("variant"))


@dataclass(frozen=True, slots=True)
class GrantExpiredBody:
    """``grant_expired`` (subject: the grantee's 警号; actor: ``liuhen``): ``request`` whose
    grant ended at ``expired_at`` (the decision's ``expires_at``)."""

    kind: ClassVar[EntryKind] = EntryKind.GRANT_EXPIRED

    request: int
    expired_at: datetime

    def to_body(self) -> dict[str, object]:
        return {"request": self.request, "expired_at": format_time(self.expired_at)}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(request=f.integer("request"), expired_at=f.time("expired_at"))
