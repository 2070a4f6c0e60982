"""Retention classes (issue 7; DESIGN.md §1 "retention job"): how long a clip is kept, and the
one operation that moves a clip into a class — ledger entry first, then the store's retention
extended for the original and its derivatives.

Classes: ``standard`` (clips linked to no case: at least ``standard_days``, 6 months by
default), ``case`` (evidence linked to a case step: permanent) and the classes named by
MPS 2016 Art. 13 (permanent). "Permanent" cannot be expressed as an Object Lock date: such
clips are locked ``permanent_horizon_days`` ahead, and the retention job extends the lock again
before it runs out. Retention only ever grows: a store refuses to shorten it, and so does this.

The retention job (``run_retention``, docs/jobs.md) moves clips with a current case link into
``case`` and re-extends permanent clips' locks ``renew_before_days`` before their horizon. An
unlink never shortens anything: a clip once in a permanent class stays there. Legal holds
(``set_hold``) are set on the store first and then ledgered, in both directions, so a crash in
between leaves the hold on in the ledger (disposal refused) rather than off.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from hashlib import sha256 as sha256_of
from typing import Protocol

from evidence.bodies import LegalHoldBody, RetentionSetBody
from evidence.errors import LiuhenError, PolicyViolationError
from evidence.ledgertime import format_time
from evidence.records import Clip, Link
from ingest.ports import BlobStore
from integrity.canonical import canonical_json
from jobs.ports import Finding, FindingKind, JobCatalogue, JobOutcome, JobProgress, NoProgress
from ledger.appending import LedgerWriter
from ledger.ports import Clock

log = logging.getLogger("liuhen.jobs.retention")

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


PERMANENT = "permanent"
"""How a policy file spells "kept for ever" (``[classes] obstruction = "permanent"``)."""
MANDATORY_PERMANENT: tuple[str, ...] = (CASE, *ART13_CLASSES)
"""Classes no bureau policy may make finite: evidence, and MPS 2016 Art. 13."""


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    standard_days: int = 180
    permanent_horizon_days: int = 365 * 30
    """How far ahead a permanent clip's lock is set; re-extended by the retention job."""
    classes: Mapping[str, int | None] = field(default_factory=lambda: {
        STANDARD: 180, CASE: None, **dict.fromkeys(ART13_CLASSES)})
    """Class name → days kept, or None for permanent."""
    renew_before_days: int = 365
    """The retention job re-extends a permanent clip's lock once less than this is left."""
    name: str = "default"
    """The bureau's name for this policy; disposal certificates cite it with its digest."""

    @classmethod
    def for_bureau(cls, *, standard_days: int = 180,
                   doc: Mapping[str, object] | None = None) -> RetentionPolicy:
        """The default classes with a bureau's overrides (docs/jobs.md §Policy), e.g. parsed
        from ``DATA/retention.toml``::

            name = "某市公安局 2026"
            standard_days = 180            # at least Settings.retention_days
            permanent_horizon_days = 3650
            renew_before_days = 365
            [classes]
            traffic_stop = 365
            crowd_event = "permanent"

        The standard class keeps ``standard_days`` (never below the given floor); ``case`` and
        the Art. 13 classes stay permanent whatever the file says (PolicyViolationError if it
        tries otherwise); unknown keys are refused, so a typo does not silently weaken policy.
        """
        doc = dict(doc or {})
        known = {"name", "standard_days", "permanent_horizon_days", "renew_before_days",
                 "classes"}
        if unknown := sorted(set(doc) - known):
            raise PolicyViolationError(f"retention policy: unknown setting(s) {unknown}; "
                                       f"known: {sorted(known)}")

        def days_of(key: str, default: int) -> int:
            value = doc.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise PolicyViolationError(f"retention policy: {key} must be a positive "
                                           f"number of days, not {value!r}")
            return value

        standard = max(days_of("standard_days", standard_days), standard_days)
        classes: dict[str, int | None] = {STANDARD: standard, CASE: None,
                                          **dict.fromkeys(ART13_CLASSES)}
        extra = doc.get("classes", {})
        if not isinstance(extra, Mapping):
            raise PolicyViolationError("retention policy: [classes] must be a table")
        for cls_name, value in extra.items():
            days: int | None
            if value == PERMANENT:
                days = None
            elif isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                days = value
            else:
                raise PolicyViolationError(f"retention policy: class {cls_name!r} must keep a "
                                           f"positive number of days or {PERMANENT!r}, not "
                                           f"{value!r}")
            if cls_name in MANDATORY_PERMANENT and days is not None:
                raise PolicyViolationError(f"retention policy: class {cls_name!r} is permanent "
                                           "by rule (case evidence, MPS 2016 Art. 13)")
            classes[str(cls_name)] = days
        horizon = days_of("permanent_horizon_days", 365 * 30)
        renew = days_of("renew_before_days", 365)
        if renew >= horizon:
            raise PolicyViolationError("retention policy: renew_before_days must be shorter "
                                       "than permanent_horizon_days")
        return cls(standard_days=standard, classes=classes, name=str(doc.get("name", "default")),
                   permanent_horizon_days=horizon, renew_before_days=renew)

    def days(self, name: str) -> int | None:
        if name not in self.classes:
            raise PolicyViolationError(f"unknown retention class {name!r}; known: "
                                       f"{', '.join(sorted(self.classes))}")
        days = self.classes[name]
        return max(days, self.standard_days) if days is not None else None

    def is_permanent(self, name: str) -> bool:
        return self.days(name) is None

    def permanent_classes(self) -> list[str]:
        return sorted(n for n, d in self.classes.items() if d is None)

    def until(self, name: str, since: datetime) -> datetime:
        days = self.days(name)
        return since + timedelta(days=self.permanent_horizon_days if days is None else days)

    def describe(self) -> dict[str, object]:
        """The policy as canonical-JSON-ready data (certificates and entries cite it)."""
        return {"name": self.name, "standard_days": self.standard_days,
                "permanent_horizon_days": self.permanent_horizon_days,
                "renew_before_days": self.renew_before_days,
                "classes": {k: PERMANENT if v is None else v for k, v in self.classes.items()}}

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of ``describe()``: which policy, exactly."""
        return sha256_of(canonical_json(self.describe())).hexdigest()


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
    ctx.writer.append(RetentionSetBody(retention_class=name, retain_until=until, reason=reason,
                                       permanent=ctx.policy.is_permanent(name)),
                      subject=sha256, actor=actor)
    ctx.catalogue.catch_up()
    return ctx.catalogue.clip(sha256)


def set_hold(ctx: RetentionContext, sha256: str, on: bool, *, actor: str, reason: str) -> Clip:
    """Put a legal hold on a clip's original and derivatives, or lift it: the store first
    (``set_legal_hold`` on every version), then a ``legal_hold`` entry {on, reason}. While a
    hold is on, disposal is refused whatever the retention says."""
    clip = ctx.catalogue.clip(sha256)
    if clip.disposed_index is not None:
        raise PolicyViolationError(f"clip {sha256} was disposed at ledger index "
                                   f"{clip.disposed_index}; a hold cannot change")
    if not reason.strip():
        raise PolicyViolationError("a legal hold needs a reason (the order or case it serves)")
    for obj in (clip.original, clip.playback, clip.proxy):
        if obj is not None:
            ctx.blobs.set_legal_hold(obj, on)
    ctx.writer.append(LegalHoldBody(on=on, reason=reason), subject=sha256, actor=actor)
    ctx.catalogue.catch_up()
    return ctx.catalogue.clip(sha256)


PAGE = 500  # clips per catalogue read: bounds memory on a large archive


def run_retention(ctx: RetentionContext, *, catalogue: JobCatalogue, actor: str = "job:retention",
                  progress: JobProgress | None = None) -> JobOutcome:
    """The retention job (DESIGN.md §1): every stored clip with a current case link moves into
    ``case`` (unless already in a permanent class), and every permanent clip whose lock ends
    within ``renew_before_days`` gets it extended to ``permanent_horizon_days`` from now.
    A store that fails for one clip does not stop the others: the failure is a finding."""
    progress = progress or NoProgress()
    outcome = JobOutcome(job="retention")
    catalogue.catch_up()
    now = ctx.clock()
    renew_before = now + timedelta(days=ctx.policy.renew_before_days)
    permanent = ctx.policy.permanent_classes()
    moved = renewed = 0
    after = -1
    while batch := catalogue.retention_due(permanent=permanent, renew_before=renew_before,
                                           after=after, limit=PAGE):
        for clip in batch:
            after = clip.acquired_index
            linked = clip.retention_class not in permanent
            target = CASE if linked else clip.retention_class
            why = ("linked to a case step" if linked else
                   f"permanent class: lock renewed before it ends "
                   f"({format_time(clip.retain_until) if clip.retain_until else 'unset'})")
            try:
                set_class(ctx, clip.sha256, target, actor=actor, reason=why)
            except LiuhenError as exc:
                log.error("retention: %s: %s", clip.sha256, exc)
                outcome.findings.append(Finding(FindingKind.UNAVAILABLE, clip.sha256, str(exc)))
                continue
            moved += linked
            renewed += not linked
            progress.progress("retention", moved + renewed, 0, clip.sha256)
    outcome.summary.append(f"retention: {moved} clip(s) moved into class {CASE!r}, "
                           f"{renewed} permanent lock(s) renewed until "
                           f"{format_time(ctx.policy.until(CASE, now))}; policy "
                           f"{ctx.policy.name!r} ({ctx.policy.digest()[:12]})")
    return outcome


@dataclass(frozen=True)
class CaseRetention:
    """The retention a link gives its clip (``cases.ports.LinkRetention``): the ``case`` class,
    unless the clip is kept permanently already. Applied before ``linked`` is appended, so a
    link is never in the ledger while its clip can still expire."""

    context: RetentionContext

    def keep_for_case(self, clip: Clip, *, case_id: str, step_id: str, actor: str) -> None:
        try:
            permanent = self.context.policy.is_permanent(clip.retention_class)
        except PolicyViolationError:  # a class this bureau's policy no longer names
            permanent = False
        if not permanent:
            set_class(self.context, clip.sha256, CASE, actor=actor,
                      reason=f"attached to case {case_id} step {step_id}")
