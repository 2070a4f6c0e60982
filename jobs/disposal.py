"""Disposal (销毁) of clips whose retention has ended (docs/jobs.md §Disposal).

A clip may be disposed only when (1) its retain-until has passed — the later of the recorded
lock date and acquisition + its class's days under the current policy, so a policy made longer
after the upload still holds —, (2) no legal hold is on, (3) no current case link remains and
(4) its class is not permanent. Anything else is refused with every reason that applies
(PolicyViolationError).

A disposal is: a certificate signed by the station key (a C2SP signed note over
``liuhen/disposal/v1`` + one line of canonical JSON: what — SHA-256, object versions; why; when;
by which policy and who), written atomically to ``DATA/disposals/<sha256>.note``, then a
``disposed`` ledger entry carrying the certificate's SHA-256. The ledger is never pruned: the
clip's ``acquired``/``stored`` entries stay, and proofs about them still verify.

What happens to the bytes: nothing, here. liuhen's stores have no delete (DESIGN.md §5: never
send a governance bypass, never delete), and under Object Lock a version cannot be deleted
before its retain-until anyway. After disposal the versions stay until the bucket owner's
lifecycle rule (or the local store's administrator) removes them; the fixity audit then treats
a delete marker on a disposed clip whose lock has expired as expected, and anything earlier as
tampering. Deleting a version from liuhen itself would need a store method that checks the
server's lock date first; docs/jobs.md records that as future work.

Concurrency: the scheduled job runs on one host at a time (jobs/schedule.py); an operator's
``liuhen jobs dispose`` racing a hold or link set in the same instant can still win — the ledger
then shows the order in which it happened.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256 as sha256_of
from pathlib import Path
from typing import cast

from evidence.bodies import DisposedBody, DisposedObject
from evidence.errors import LiuhenError, PolicyViolationError, VerificationError
from evidence.ledgertime import format_time
from evidence.records import Clip, Link, PublicKey, StoredObject
from integrity.canonical import canonical_json, parse_canonical
from integrity.notes import sign_note, split_note, verify_note
from jobs.context import JobContext
from jobs.ports import Finding, FindingKind, JobOutcome
from jobs.retention import RetentionPolicy
from ledger.files import write_atomic

log = logging.getLogger("liuhen.jobs.disposal")

CERT_HEADER = b"liuhen/disposal/v1"
CERT_DIR = "disposals"
BYTES_KEPT = "kept-until-lock-expiry"
"""The ``bytes`` field of a ``disposed`` entry: liuhen deleted nothing (see module docstring)."""
PAGE = 500  # candidates per catalogue read


@dataclass(frozen=True, slots=True)
class Disposal:
    sha256: str
    certificate: Path
    certificate_sha256: str
    index: int
    """The ``disposed`` entry's ledger index."""


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    """``disposed``, ``hold``, ``linked``, ``unknown_class``, ``permanent``, ``not_stored``,
    ``not_due`` or ``no_reason``."""
    text: str


KEPT_BY_POLICY = frozenset({"permanent", "not_due"})
"""Refusals that are the policy working as meant: the scheduled job keeps such clips quietly."""


def _until(clip: Clip, days: int) -> datetime | None:
    if clip.retain_until is None:
        return None
    return max(clip.retain_until, clip.acquired_at + timedelta(days=days))


def disposal_refusals(clip: Clip, *, policy: RetentionPolicy, now: datetime,
                      current_links: Sequence[Link]) -> list[Refusal]:
    """Every reason the clip may not be disposed at ``now``; empty when it may."""
    reasons: list[Refusal] = []
    if clip.disposed_index is not None:
        reasons.append(Refusal("disposed", f"already disposed (ledger index "
                                           f"{clip.disposed_index})"))
    if clip.legal_hold:
        reasons.append(Refusal("hold", "a legal hold is on"))
    reasons += [Refusal("linked", f"linked to case {lk.case_id} step {lk.step_id} (ledger "
                                  f"index {lk.linked_index})") for lk in current_links]
    try:
        days = policy.days(clip.retention_class)
    except PolicyViolationError as exc:
        return [*reasons, Refusal("unknown_class", str(exc))]
    if days is None:
        reasons.append(Refusal("permanent", f"retention class {clip.retention_class!r} is "
                                            "permanent"))
        return reasons
    until = _until(clip, days)
    if until is None:
        reasons.append(Refusal("not_stored", "no retain-until recorded: the original was "
                                             "never stored"))
    elif now < until:
        left = until - now
        reasons.append(Refusal("not_due", f"retain-until {format_time(until)} has not passed "
                                          f"({left.days} day(s) {left.seconds // 3600} "
                                          "hour(s) left)"))
    return reasons


def _objects(ctx: JobContext, clip: Clip) -> list[dict[str, object]]:
    """The versions being disposed, with the store's own view of each right now."""
    found: list[dict[str, object]] = []
    roles: list[tuple[str, StoredObject | None]] = [
        ("original", clip.original), ("playback", clip.playback), ("proxy", clip.proxy)]
    for role, obj in roles:
        if obj is None:
            continue
        item: dict[str, object] = {"role": role, "store": obj.store, "key": obj.key,
                                   "version_id": obj.version_id, "sha256": obj.sha256,
                                   "size": obj.size}
        try:
            seen = ctx.blobs.verify(obj)
            item["lock"] = f"{seen.lock_mode} until {format_time(seen.retain_until)}"
        except LiuhenError as exc:  # recorded, not hidden: the certificate says what was seen
            item["lock"] = f"not verified: {exc}"
        found.append(item)
    return found


def dispose(ctx: JobContext, sha256: str, *, actor: str, reason: str) -> Disposal:
    """Dispose one clip: certificate, then ``disposed`` entry. PolicyViolationError with every
    reason when the rules above do not all hold."""
    ctx.catalogue.catch_up()
    clip = ctx.catalogue.clip(sha256)
    links = ctx.catalogue.links(sha256=sha256, current_only=True)
    now = ctx.clock()
    reasons = disposal_refusals(clip, policy=ctx.policy, now=now, current_links=links)
    if not reason.strip():
        reasons.append(Refusal("no_reason", "no reason given"))
    if reasons:
        raise PolicyViolationError(f"disposal of {sha256} refused: "
                                   + "; ".join(r.text for r in reasons))
    days = ctx.policy.days(clip.retention_class)
    until = _until(clip, days or 0)
    objects = _objects(ctx, clip)
    head = ctx.ledger.head()
    doc: dict[str, object] = {
        "origin": ctx.origin, "station": ctx.signers[0].public.name, "tree_size": head.size,
        "what": {"sha256": clip.sha256, "size": clip.size, "device": clip.device,
                 "officer": clip.officer, "captured_at": format_time(clip.captured_at),
                 "acquired_index": clip.acquired_index, "objects": objects},
        "why": {"reason": reason, "retention_class": clip.retention_class,
                "class_days": days, "retain_until": format_time(until) if until else None,
                "legal_hold": False, "current_links": 0},
        "when": format_time(now), "by": actor,
        "policy": {"name": ctx.policy.name, "sha256": ctx.policy.digest(),
                   "rules": ctx.policy.describe()},
        "bytes": BYTES_KEPT,
    }
    note = sign_note(CERT_HEADER + b"\n" + canonical_json(doc) + b"\n", ctx.signers)
    path = ctx.data_dir / CERT_DIR / f"{clip.sha256}.note"
    write_atomic(path, note)
    digest = sha256_of(note).hexdigest()
    receipt = ctx.writer.append(DisposedBody(
        certificate=f"{CERT_DIR}/{path.name}", certificate_sha256=digest, reason=reason,
        retention_class=clip.retention_class, retain_until=until,
        policy=ctx.policy.name, policy_sha256=ctx.policy.digest(),
        objects=tuple(DisposedObject(role=str(o["role"]), key=str(o["key"]),
                                     version_id=str(o["version_id"])) for o in objects),
        bytes_fate=BYTES_KEPT), subject=clip.sha256, actor=actor)
    ctx.catalogue.catch_up()
    log.info("disposed %s (ledger index %d, certificate %s)", clip.sha256, receipt.index, path)
    return Disposal(sha256=clip.sha256, certificate=path, certificate_sha256=digest,
                    index=receipt.index)


def run_disposal(ctx: JobContext, *, actor: str = "job:disposal") -> JobOutcome:
    """Dispose every clip that is due (docs/jobs.md §Disposal). Clips not yet due under the
    current policy, or in a permanent class, are kept and counted; a disposal refused for
    another reason, or failing, is a finding."""
    outcome = JobOutcome(job="disposal")
    ctx.catalogue.catch_up()
    now = ctx.clock()
    disposed = kept = 0
    after = -1
    while batch := ctx.catalogue.disposal_due(now, after=after, limit=PAGE):
        for clip in batch:
            after = clip.acquired_index
            why = disposal_refusals(clip, policy=ctx.policy, now=now, current_links=())
            if why and all(r.code in KEPT_BY_POLICY for r in why):
                kept += 1
                continue
            try:
                result = dispose(ctx, clip.sha256, actor=actor, reason=(
                    f"retention of class {clip.retention_class!r} ended"))
            except LiuhenError as exc:
                log.error("disposal: %s", exc)
                outcome.findings.append(Finding(FindingKind.REFUSED, clip.sha256, str(exc)))
                continue
            disposed += 1
            outcome.files.append(result.certificate)
            ctx.progress.progress("disposal", disposed, 0, clip.sha256)
    outcome.summary.append(f"disposal: {disposed} clip(s) disposed (certificates in "
                           f"{ctx.data_dir / CERT_DIR}), {kept} past their recorded lock but "
                           f"kept by policy {ctx.policy.name!r}; bytes: {BYTES_KEPT}")
    return outcome


def verify_certificate(note: bytes, keys: Sequence[PublicKey]) -> dict[str, object]:
    """Check a disposal certificate's station signature against ``keys`` (the keyring) at the
    tree size it names, and return its content. VerificationError otherwise."""
    text, _ = split_note(note)
    header, _, rest = text.partition(b"\n")
    if header != CERT_HEADER or not rest.endswith(b"\n") or b"\n" in rest[:-1]:
        raise VerificationError("not a liuhen/disposal/v1 certificate", step="certificate")
    doc = parse_canonical(rest[:-1])
    if not isinstance(doc, dict) or not isinstance(doc.get("tree_size"), int):
        raise VerificationError("certificate has no tree size", step="certificate")
    content = cast(dict[str, object], doc)
    verify_note(note, [k for k in keys if k.role == "station"],
                size=cast(int, content["tree_size"]))
    return content
