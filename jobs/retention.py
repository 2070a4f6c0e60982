"""Retention classes (issue 7; DESIGN.md §1 "retention job"): how long a clip is kept, and the
one operation that moves a clip into a class — ledger entry first, then the store's retention
extended for the original and its derivatives.

Classes: ``standard`` (clips linked to no case: at least ``standard_days``, 6 months by
default), ``case`` (evidence linked to a case step: permanent) and the classes named by
MPS 2016 Art. 13 (permanent). "Permanent" cannot be expressed as an Object Lock date: such
clips are locked ``permanent_horizon_days`` ahead, and the retention job extends the lock again
before it runs out. Retention only ever grows: a store refuses to shorten it, and so does this.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from evidence.errors import PolicyViolationError
from evidence.records import Clip, EntryKind, Link
from ingest.ledger import LedgerWriter
from ingest.ports import BlobStore, Clock
from integrity.entry import format_time

STANDARD = "standard"
CASE = "case"

ART13_CLASSES: tuple[str, ...] = (
    "obstruction",       # 妨碍执法、暴力抗法
    "major_incident",    # 重大、突发事件
    "complaint",         # 当事人投诉、信访
    "use_of_force",      # 使用武器、警械
    "major_decision",    # 重大执法决定
)
"""Classes kept permanently, after MPS 2016 Art. 13 (a bureau may add its own)."""


class Catalogue(Protocol):
    """What retention needs from the catalogue (storage.catalogue.SqlCatalogue)."""

    def clip(self, sha256: str) -> Clip: ...

    def links(self, *, sha256: str | None = None, case_id: str | None = None,
              current_only: bool = False) -> list[Link]: ...

    def catch_up(self) -> int: ...


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    standard_days: int = 180
    permanent_horizon_days: int = 365 * 30
    """How far ahead a permanent clip's lock is set; re-extended by the retention job."""
    classes: Mapping[str, int | None] = field(default_factory=lambda: {
        STANDARD: 180, CASE: None, **dict.fromkeys(ART13_CLASSES)})
    """Class name → days kept, or None for permanent."""

    def days(self, name: str) -> int | None:
        if name not in self.classes:
            raise PolicyViolationError(f"unknown retention class {name!r}; known: "
                                       f"{', '.join(sorted(self.classes))}")
        days = self.classes[name]
        return max(days, self.standard_days) if days is not None else None

    def is_permanent(self, name: str) -> bool:
        return self.days(name) is None

    def until(self, name: str, since: datetime) -> datetime:
        days = self.days(name)
        return since + timedelta(days=self.permanent_horizon_days if days is None else days)


@dataclass
class RetentionContext:
    writer: LedgerWriter
    blobs: BlobStore
    catalogue: Catalogue
    clock: Clock
    policy: RetentionPolicy


def set_class(ctx: RetentionContext, sha256: str, name: str, *, actor: str,
              reason: str) -> Clip:
    """Put a clip in retention class ``name``: extend the lock of its original and derivatives
    in the store to the class's date (never earlier than it already is), then append
    ``retention_set``. Raises PolicyViolationError for an unknown class or a disposed clip."""
    clip = ctx.catalogue.clip(sha256)
    if clip.disposed_index is not None:
        raise PolicyViolationError(f"clip {sha256} was disposed at ledger index "
                                   f"{clip.disposed_index}; its retention cannot change")
    now = ctx.clock()
    until = ctx.policy.until(name, now)
    if clip.retain_until is not None and clip.retain_until > until:
        until = clip.retain_until
    for obj in (clip.original, clip.playback, clip.proxy):
        if obj is not None:
            ctx.blobs.extend_retention(obj, until)
    ctx.writer.record(EntryKind.RETENTION_SET, sha256, {
        "class": name, "retain_until": format_time(until), "reason": reason,
        "permanent": ctx.policy.is_permanent(name)}, actor=actor)
    ctx.catalogue.catch_up()
    return ctx.catalogue.clip(sha256)
