"""The fixity audit (docs/jobs.md §Fixity): are the stored objects still what the ledger says?

Two checks, both ledgered as ``fixity_checked`` entries and raised as findings (ERROR log lines,
a non-zero exit):

1. **Re-hash** (``BlobStore.verify(obj, rehash=True)``): the exact version is there, is still
   the key's latest (no newer version, no delete marker on top), is locked, and hashes to its
   SHA-256. Either every object (``full``), or a rolling sample: each object has one moment per
   period, derived from SHA-256(period index ‖ key ‖ version) — deterministic, spread evenly,
   different in every period — and a run checks the objects whose moment fell in
   ``(previous run, now]``. Each check records the periods it covers (``periods``): a window
   across a period boundary may hold an object's moments of both periods, and its one check
   then covers both. Periods are fixed (counted from ``EPOCH``), so every period the job runs
   through is covered exactly once for every object, however the runs fall. The first
   run starts its window at the start of the current period; a run after a gap longer than a
   period starts it at the start of the previous period, which holds every object's moment, so
   it checks everything once.
2. **Inventory** (``BlobStore.inventory``): the store's own list of versions and delete markers
   is compared with the ledger. Keys liuhen writes have exactly one version, so any delete
   marker, any version other than the ledgered one, and any ledgered version missing from the
   list is a finding naming the key, version and time. Keys the catalogue does not know (e.g.
   thumbnails, an upload whose ``stored`` entry is not yet written) are counted, and are a
   finding only when they too carry extra versions or delete markers. Disposed clips whose lock
   has expired may be removed by the store's lifecycle: a delete marker there is expected.

3. **Decrypt** (``FixityPolicy.decrypt``): of the checked objects, a sample (the first by
   SHA-256 of the key) is also decrypted and its plaintext re-hashed against the ledger
   (``verify_plaintext`` of the sealing store, DESIGN.md §5): the keys still open the evidence.
   Its checks are recorded with ``check`` ``decrypt``. On a store without encryption at rest the
   re-hash already hashes plaintext, and the sample is re-hashed once more.

Each run ends with a ``fixity_checked`` summary entry (subject ``fixity-run``) whose
``window_end`` is where the next sampled run starts, and ``decrypted``, how many were decrypted,
when the policy decrypts.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256 as sha256_of

from evidence.bodies import (
    FixityCheckedBody,
    FixityRunBody,
    InventoryFindingBody,
    read_body,
)
from evidence.errors import LiuhenError, MalformedEntryError, NotFoundError, VerificationError
from evidence.ledgertime import format_time
from evidence.records import Clip, EntryKind, ObjectVersion, StoredObject
from integrity.entry import decode_entry
from jobs.context import JobContext
from jobs.ports import Finding, FindingKind, JobOutcome

log = logging.getLogger("liuhen.jobs.fixity")

RUN_SUBJECT = "fixity-run"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
"""Periods are counted from here, so every host computes the same period index."""
PROGRESS_EVERY = 50  # objects between progress reports


@dataclass(frozen=True, slots=True)
class Tracked:
    """A ledgered object version and the clip it belongs to."""

    clip: Clip
    role: str
    obj: StoredObject

    @property
    def ident(self) -> str:
        return f"{self.obj.key}@{self.obj.version_id}"


def scheduled_at(ident: str, period_index: int, period: timedelta) -> datetime:
    """The object's one moment in period ``period_index`` (deterministic, uniform)."""
    digest = sha256_of(f"liuhen/fixity/v1\n{period_index}\n{ident}".encode()).digest()
    span_us = int(period.total_seconds() * 1_000_000)
    offset_us = int.from_bytes(digest[:8], "big") % span_us
    return EPOCH + period * period_index + timedelta(microseconds=offset_us)


def due_periods(ident: str, *, since: datetime, now: datetime,
                period: timedelta) -> list[int]:
    """The periods whose moment for this object falls in ``(since, now]``: one check at ``now``
    covers them all (a window across a period boundary can hold two moments of one object, and
    both periods must count that check, or the earlier one would have none)."""
    first = (since - EPOCH) // period
    last = (now - EPOCH) // period
    return [p for p in range(first, last + 1) if since < scheduled_at(ident, p, period) <= now]


def period_start(moment: datetime, period: timedelta) -> datetime:
    return EPOCH + period * ((moment - EPOCH) // period)


def sample_since(previous: datetime | None, *, now: datetime, period: timedelta) -> datetime:
    """Where a sampled run's window starts: the previous run's end, but never before the start
    of the previous period (a window holding a whole period checks every object: the catch-up
    after a long gap), and on the first run the start of the current period."""
    current = period_start(now, period)
    if previous is None:
        return current
    return max(previous, current - period)


def _tracked(clips: Iterable[Clip]) -> list[Tracked]:
    found = []
    for clip in clips:
        for role, obj in (("original", clip.original), ("playback", clip.playback),
                          ("proxy", clip.proxy)):
            if obj is not None:
                found.append(Tracked(clip=clip, role=role, obj=obj))
    return found


def released_copies(ctx: JobContext, tracked: list[Tracked]) -> set[tuple[str, str]]:
    """(key, version id) of the originals whose local copy a station released after the
    bureau's receipt (``copy_released``, ledger/copyrelease.py): gone by design, not missing."""
    released = set()
    for sha in sorted({t.clip.sha256 for t in tracked if t.role == "original"}):
        for row in ctx.ledger.find(sha):
            entry = decode_entry(row.data)
            if entry.kind is EntryKind.COPY_RELEASED:
                released.add((str(entry.body["key"]), str(entry.body["version_id"])))
    return released


def previous_run(ctx: JobContext) -> datetime | None:
    """The ``window_end`` of the latest fixity run in the ledger (None before the first);
    an entry under the run's subject that is not a run's summary is passed over."""
    for row in reversed(ctx.ledger.find(RUN_SUBJECT)):
        entry = decode_entry(row.data)
        if entry.kind is not EntryKind.FIXITY_CHECKED:
            continue
        try:
            body = read_body(entry.kind, entry.body)
        except MalformedEntryError as exc:
            log.error("fixity: ledger entry %d skipped: %s", row.index, exc)
            continue
        if isinstance(body, FixityRunBody):
            return body.window_end
    return None


def _fail(ctx: JobContext, outcome: JobOutcome, subject: str, detail: str,
          body: FixityCheckedBody | InventoryFindingBody) -> None:
    log.error("FIXITY FAILED %s: %s", subject, detail)
    outcome.findings.append(Finding(FindingKind.FIXITY, subject, detail))
    ctx.writer.append(body, subject=subject, actor="job:fixity")


def decrypt_sample(due: list[tuple[Tracked, list[int]]], count: int) -> set[str]:
    """The idents of the ``count`` due objects (-1: all) to decrypt: the first by SHA-256 of
    the key, a fixed spread over the store within each run's due set."""
    ranked = sorted((t.ident for t, _ in due), key=lambda i: sha256_of(i.encode()).digest())
    return set(ranked if count < 0 else ranked[:count])


def _recheck(ctx: JobContext, outcome: JobOutcome,
             due: list[tuple[Tracked, list[int]]]) -> tuple[int, int]:
    """Check each due object; returns (failed, decrypted and re-hashed)."""
    rehash = ctx.fixity.rehash
    sample = decrypt_sample(due, ctx.fixity.decrypt)
    # Only the sealing store decrypts (storage.sealedstore); a plain store's re-hash is of the
    # plaintext already.
    open_plain = getattr(ctx.blobs, "verify_plaintext", None)
    failed = decrypted = 0
    for done, (item, periods) in enumerate(due, 1):
        decrypt = item.ident in sample
        check = "decrypt" if decrypt else "rehash" if rehash else "head"
        body = FixityCheckedBody(check=check, role=item.role,
                                 store=item.obj.store, key=item.obj.key,
                                 version_id=item.obj.version_id, periods=tuple(periods),
                                 period_days=ctx.fixity.period_days, ok=True)
        try:
            ctx.blobs.verify(item.obj, rehash=rehash)
            if decrypt:
                if open_plain is not None:
                    open_plain(item.obj)
                else:
                    ctx.blobs.verify(item.obj, rehash=True)
                decrypted += 1
        except (VerificationError, NotFoundError) as exc:
            failed += 1
            detail = f"{item.role} {item.obj.key} version {item.obj.version_id}: {exc}"
            _fail(ctx, outcome, item.clip.sha256, detail,
                  dataclasses.replace(body, ok=False, finding=detail))
        except LiuhenError as exc:  # the store is down: retry later, not tampering
            log.error("fixity: %s %s: %s", item.clip.sha256, item.obj.key, exc)
            outcome.findings.append(Finding(FindingKind.UNAVAILABLE, item.clip.sha256,
                                            str(exc)))
        else:
            ctx.writer.append(body, subject=item.clip.sha256, actor="job:fixity")
        if done % PROGRESS_EVERY == 0 or done == len(due):
            ctx.progress.progress("fixity", done, len(due), item.obj.key)
    return failed, decrypted


def _describe(v: ObjectVersion) -> str:
    what = "delete marker" if v.delete_marker else "version"
    when = f" of {format_time(v.modified)}" if v.modified is not None else ""
    return f"{what} {v.version_id or '(no id)'}{when}"


def _inventory(ctx: JobContext, outcome: JobOutcome, tracked: list[Tracked],
               now: datetime, released: set[tuple[str, str]]) -> tuple[int, int, int]:
    """Compare the store's listing with the ledger; returns (versions listed, findings,
    untracked keys). A released local copy's key (its file gone, its record kept) is what the
    ledger says it should be."""
    released_keys = {key for key, _version in released}
    by_key: dict[str, list[Tracked]] = defaultdict(list)
    for item in tracked:
        by_key[item.obj.key].append(item)
    listing: dict[str, list[ObjectVersion]] = defaultdict(list)
    listed = 0
    for version in ctx.blobs.inventory():
        listing[version.key].append(version)
        listed += 1
    found = untracked = 0
    for key in sorted(set(listing) | set(by_key)):
        versions, ours = listing.get(key, []), by_key.get(key, [])
        expected = {t.obj.version_id for t in ours}
        subject = ours[0].clip.sha256 if ours else key
        store = ours[0].obj.store if ours else ""
        if not ours and key in released_keys:
            continue
        if not ours:
            untracked += 1
            if len(versions) > 1 or any(v.delete_marker for v in versions):
                found += 1
                detail = (f"{key} (not in the ledger) has "
                          + ", ".join(_describe(v) for v in versions))
                _fail(ctx, outcome, key, detail,
                      InventoryFindingBody(key=key, store=store, finding=detail))
            continue
        # A disposed clip whose lock has run out may be removed by the store's lifecycle.
        removable = all(t.clip.disposed_index is not None and t.clip.retain_until is not None
                        and t.clip.retain_until <= now for t in ours)
        problems = [f"{_describe(v)} on {key}" + (
                        "" if not v.is_latest else
                        ": deleted behind the pipeline's back" if v.delete_marker else
                        " is now the latest: the key was overlaid behind the pipeline's back")
                    + f" (the ledger has version {', '.join(sorted(expected))})"
                    for v in versions
                    if (v.delete_marker and not removable)
                    or (not v.delete_marker and v.version_id not in expected)]
        present = {v.version_id for v in versions if not v.delete_marker}
        problems += [f"ledgered version {vid} of {key} is not in the store's listing"
                     for vid in sorted(expected - present) if not removable]
        for problem in problems:
            found += 1
            _fail(ctx, outcome, subject, problem,
                  InventoryFindingBody(key=key, store=store, finding=problem))
    return listed, found, untracked


def run_fixity(ctx: JobContext, *, full: bool = False) -> JobOutcome:
    """One fixity run: re-hash the due objects (all with ``full``), then the inventory scan."""
    outcome = JobOutcome(job="fixity")
    ctx.catalogue.catch_up()
    now = ctx.clock()
    period = timedelta(days=ctx.fixity.period_days)
    clips = ctx.catalogue.all_clips()
    released = released_copies(ctx, _tracked(clips))
    tracked = [t for t in _tracked(clips) if (t.obj.key, t.obj.version_id) not in released]
    live = [t for t in tracked if t.clip.disposed_index is None]
    # The sample's window is kept in full runs too, so that the periods each check covers
    # stay exactly once per period; a full run's extra checks cover no period ([]).
    since = sample_since(previous_run(ctx), now=now, period=period)
    sampled = [(t, due_periods(t.ident, since=since, now=now, period=period)) for t in live]
    if full:
        due, since_note = sampled, "all"
    else:
        due = [(t, periods) for t, periods in sampled if periods]
        since_note = f"sample since {format_time(since)}"
    ctx.progress.progress("fixity", 0, len(due), since_note)
    failed, decrypted = _recheck(ctx, outcome, due)
    # A check the store could not answer (an outage) covers nothing: the window is kept for
    # the next run, which checks its objects again (at least once per period, never none).
    unanswered = any(f.kind == FindingKind.UNAVAILABLE for f in outcome.findings)
    window_end = since if unanswered else now
    try:
        listed, inventory_findings, untracked = _inventory(ctx, outcome, tracked, now, released)
    except LiuhenError as exc:
        log.error("fixity: inventory of %s failed: %s", ctx.blobs.url, exc)
        outcome.findings.append(Finding(FindingKind.UNAVAILABLE, ctx.blobs.url, str(exc)))
        listed = inventory_findings = untracked = 0
    ctx.writer.append(FixityRunBody(
        mode="full" if full else "sample", period_days=ctx.fixity.period_days,
        window_start=since, window_end=window_end, store=ctx.blobs.url, objects=len(live),
        checked=len(due), failed=failed, rehash=ctx.fixity.rehash,
        inventory_versions=listed, inventory_findings=inventory_findings,
        untracked_keys=untracked, ok=not outcome.findings,
        decrypted=decrypted if ctx.fixity.decrypt else None),
        subject=RUN_SUBJECT, actor="job:fixity")
    outcome.summary.append(
        f"fixity: {len(due) - failed}/{len(due)} object(s) OK of {len(live)} "
        f"({since_note}{', re-hashed' if ctx.fixity.rehash else ''}"
        f"{f', {decrypted} decrypted' if ctx.fixity.decrypt else ''}); inventory: {listed} "
        f"version(s) listed, {inventory_findings} finding(s), {untracked} key(s) not in the "
        "ledger")
    return outcome
