"""Access supervision (调阅监督): every play or download of a clip's stored copy is a ledger
entry (who, role, which copy, purpose, case) appended *before* the first byte is handed out,
and the access log auditors read (DESIGN.md §8; docs/api.md).

The stored version is opened first, so a store outage does not leave an access recorded for
bytes nobody got. Purposes are canonical (``evidence.identity.canonical_purpose``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import BinaryIO, Protocol

from evidence.bodies import AccessedBody
from evidence.errors import NotFoundError, PolicyViolationError
from evidence.identity import (
    DEFAULT_OFFICER_NO_PATTERN,
    InvalidInputError,
    canonical_officer_no,
    canonical_purpose,
    check_lookup,
)
from evidence.records import Access, Case, Clip, StoredObject
from ingest.ports import BlobStore
from ledger.appending import LedgerWriter
from ledger.ports import Clock
from ledger.readmodel import Freshness

VARIANTS = ("original", "playback", "proxy")
ACTIONS = ("play", "download")
ACCESS_COALESCE = timedelta(minutes=10)
"""A ranged read (a player seeking) within this long of the same person's access to the same
copy for the same purpose and case is part of that access and is not recorded again."""
GRANT_TTL = timedelta(hours=4)
"""How long after stating a purpose a person may keep streaming under that access (each read
past ACCESS_COALESCE is recorded again)."""


class AccessCatalogue(Protocol):
    """What access supervision reads from the catalogue folded from the ledger."""

    def clip(self, sha256: str) -> Clip: ...

    def case(self, case_id: str) -> Case: ...

    def accesses(self, *, sha256: str | None = None, actor: str | None = None,
                 case_id: str | None = None, officer: str | None = None,
                 limit: int = 500) -> list[Access]: ...


@dataclass
class Opened:
    """A stored copy opened for an access that has been recorded (or coalesced)."""

    clip: Clip
    variant: str
    object: StoredObject
    stream: BinaryIO
    access_index: int | None
    """The ``accessed`` entry's ledger index; None when coalesced with an earlier access."""


@dataclass
class AccessLog:
    """Opening stored copies under a recorded access, and reading the access log."""

    writer: LedgerWriter
    catalogue: AccessCatalogue
    fresh: Freshness
    blobs: BlobStore
    clock: Clock
    officer_pattern: str = field(default=DEFAULT_OFFICER_NO_PATTERN)

    def _case(self, case_id: str) -> Case:
        check_lookup("案件编号", case_id)
        return self.catalogue.case(case_id)

    def open(self, sha256: str, *, action: str, variant: str, purpose: str | None,
               actor: str, role: str, case_id: str | None = None,
               byte_range: tuple[int, int] | None = None) -> Opened:
        """Open a stored copy of a clip for ``action`` (play/download), recording ``accessed``
        before any byte is returned.

        ``byte_range`` (first, last byte; inclusive) is a read that continues an access (a
        player seeking): it is coalesced with the same person's access of the same action to
        the same copy, for the same purpose and case, in the last ACCESS_COALESCE. A read that
        covers the whole copy is a download whatever the route (a player's ``bytes=0-`` too):
        it is coalesced only with a download. A new purpose or case is a new access."""
        purpose = canonical_purpose(purpose)
        if action not in ACTIONS:
            raise InvalidInputError(f"操作 {action[:20]!r} 无效：只能是 {' 或 '.join(ACTIONS)} "
                                    f"(action: use {' or '.join(ACTIONS)})")
        if variant not in VARIANTS:
            raise InvalidInputError(f"副本 {variant[:20]!r} 无效：只能是 {'、'.join(VARIANTS)} "
                                    f"(variant: use one of {', '.join(VARIANTS)})")
        self.fresh.refresh(force=True)
        if case_id is not None:
            self._case(case_id)
        clip = self.catalogue.clip(sha256)
        if clip.disposed_index is not None:
            raise PolicyViolationError(f"clip {sha256} was disposed at ledger index "
                                       f"{clip.disposed_index}")
        obj: StoredObject | None = getattr(clip, variant)
        if obj is None:
            have = [v for v in VARIANTS if getattr(clip, v) is not None]
            raise NotFoundError(f"clip {sha256} has no stored {variant} copy"
                                + (f"; it has: {', '.join(have)}" if have else ""))
        if byte_range is not None and byte_range[0] <= 0 and byte_range[1] >= obj.size - 1:
            action = "download"
        continuation = byte_range is not None
        stream = self.blobs.open(obj)
        try:
            index = None
            if not (continuation and self._recently_accessed(
                    sha256, actor=actor, action=action, variant=variant, purpose=purpose,
                    case_id=case_id)):
                body = AccessedBody(action=action, variant=variant, purpose=purpose,
                                    role=role, case=case_id)
                index = self.writer.append(body, subject=sha256, actor=actor).index
                self.fresh.refresh(force=True)
        except BaseException:
            stream.close()
            raise
        return Opened(clip=clip, variant=variant, object=obj, stream=stream, access_index=index)

    def _recently_accessed(self, sha256: str, *, actor: str, action: str, variant: str,
                           purpose: str, case_id: str | None) -> bool:
        since = self.clock() - ACCESS_COALESCE
        same = (action, variant, purpose, case_id)
        return any(a.at >= since and (a.action, a.variant, a.purpose, a.case_id) == same
                   for a in self.catalogue.accesses(sha256=sha256, actor=actor, limit=50))

    def log(self, *, sha256: str | None = None, actor: str | None = None,
                 case_id: str | None = None, officer: str | None = None,
                 limit: int = 500) -> list[Access]:
        """The access log of a clip, by an actor (any token holder's name), within a case, or
        of an officer's clips (a 警号 in its canonical form)."""
        if actor is not None:
            check_lookup("调阅人", actor)
        if officer is not None:
            officer = canonical_officer_no(officer, pattern=self.officer_pattern)
        self.fresh.refresh()
        if sha256 is not None:
            self.catalogue.clip(sha256)
        if case_id is not None:
            self._case(case_id)
        return self.catalogue.accesses(sha256=sha256, actor=actor, case_id=case_id,
                                              officer=officer, limit=limit)

    def grant(self, sha256: str, index: int, *, actor: str, role: str) -> Access | None:
        """The ``accessed`` entry ``index`` when it is ``actor``'s own access to this clip, in
        the same role, and recent enough to stream under (GRANT_TTL); else None."""
        self.fresh.refresh()
        for access in self.catalogue.accesses(sha256=sha256, actor=actor, limit=500):
            if access.index == index:
                fresh = access.at >= self.clock() - GRANT_TTL
                return access if fresh and access.role == role else None
        return None
