"""Case work, access supervision (调阅监督) and verification: the use cases behind the REST API
and the web pages (issue 6; DESIGN.md §1, §7).

Every change is a ledger entry appended through the group-committed ``LedgerWriter``, followed
by ``catalogue.catch_up()`` so that the caller reads what it wrote (docs/catalogue.md). Nothing
is ever updated or deleted: a detach is an ``unlinked`` entry, a corrected step window a second
``case_step`` entry.

Concurrency: several API processes (and stations) may share one database. Case changes (open,
step, link, unlink) are linearizable: each runs under the database's casework lock
(storage/casework_lock.py), reads the catalogue caught up inside it, checks, appends and folds
before releasing, so the check that refuses a second ``case_opened``, a second current link or
an unlink of what is not linked sees every earlier change, from any thread or process.

Access supervision: every play or download appends ``accessed`` (who, role, what, which copy,
purpose, case) *before* the first byte is handed out. The stored version is opened first, so a
store outage does not leave an access recorded for bytes nobody got.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import BinaryIO

from api.compose import Ledger, open_ledger_and_store, retention_policy, utc_now
from api.ledger_ops import export_bundle
from api.settings import Settings
from evidence.completeness import (
    DEFAULT_GAP_THRESHOLD,
    CompletenessReport,
    LinkedRecording,
    completeness,
)
from evidence.errors import ConflictError, NotFoundError, PolicyViolationError
from evidence.identity import (
    DEFAULT_OFFICER_NO_PATTERN,
    MAX_CASE_ID_CHARS,
    InvalidInputError,
    canonical_officer_no,
    canonical_purpose,
    check_case_id,
    check_lookup,
    check_text,
    confusable_case_id,
)
from evidence.records import (
    Access,
    Case,
    CaseStep,
    Checkpoint,
    Clip,
    EntryKind,
    Link,
    StoredObject,
)
from evidence.steps import CATALOGUE, RecordingRule, StepKind
from evidence.timerange import YearRange
from ingest.ports import BlobStore, Clock
from integrity.entry import decode_entry, format_time
from jobs.retention import CASE, RetentionContext, RetentionPolicy, set_class
from storage.catalogue import ClipQuery

VARIANTS = ("original", "playback", "proxy")
ACTIONS = ("play", "download")
MAX_TITLE_CHARS = 200
MAX_ID_CHARS = MAX_CASE_ID_CHARS
ACCESS_COALESCE = timedelta(minutes=10)
"""A ranged read (a player seeking) within this long of the same person's access to the same
copy for the same purpose and case is part of that access and is not recorded again."""

_STEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
_KIND_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def check_step_id(step_id: str) -> str:
    if not _STEP_ID.match(step_id):
        raise InvalidInputError(f"环节编号 {step_id[:40]!r} 格式不对：1–32 个 A-Z a-z 0-9 . _ -，"
                                "以字母或数字开头 (step id: 1–32 of A-Z a-z 0-9 . _ -, starting "
                                "with a letter or digit)")
    return step_id


def check_kind_code(code: str) -> str:
    if not _KIND_CODE.match(code):
        raise InvalidInputError(f"执法环节代码 {code[:40]!r} 格式不对：1–32 个 a-z 0-9 _，以字母"
                                "开头 (step kind code: 1–32 of a-z 0-9 _, starting with a "
                                "letter)")
    return code


@dataclass(frozen=True, slots=True)
class ProvenEntry:
    """One ledger entry about a subject, with its inclusion proof under a checkpoint (or None
    when no published checkpoint covers it yet)."""

    index: int
    kind: str
    at: datetime
    actor: str
    station: str
    data: bytes
    leaf_hash: bytes
    proof: tuple[bytes, ...] | None


@dataclass(frozen=True, slots=True)
class Verification:
    """What the ledger says about a clip: its entries (``accessed`` ones left out: who viewed a
    clip is the auditors' business) with inclusion proofs against ``checkpoint``."""

    sha256: str
    entries: tuple[ProvenEntry, ...]
    checkpoint: Checkpoint | None
    acquired: bool
    """An ``acquired`` entry names this hash: the content was recorded on a recorder."""
    clip: Clip | None


@dataclass(frozen=True, slots=True)
class InclusionProof:
    index: int
    size: int
    leaf_hash: bytes
    hashes: tuple[bytes, ...]
    checkpoint: Checkpoint | None
    """The published checkpoint of exactly ``size``, when there is one."""


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    old: int
    new: int
    hashes: tuple[bytes, ...]
    old_checkpoint: Checkpoint | None
    new_checkpoint: Checkpoint | None


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
class Casework:
    """The use cases, over one ledger and one object store (build with :meth:`open`)."""

    ledger: Ledger
    blobs: BlobStore
    clock: Clock = utc_now
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    refresh_s: float = 0.5
    """Reads fold the ledger into the catalogue at most this often (entries written by other
    processes show up within it); this process's own writes are folded at once."""
    officer_pattern: str = DEFAULT_OFFICER_NO_PATTERN
    """The bureau's 警号 pattern (``LIUHEN_OFFICER_NO_PATTERN``; evidence/identity.py)."""
    years: YearRange = field(default_factory=YearRange)
    """The times this bureau accepts (``LIUHEN_EARLIEST_YEAR``/``LATEST_YEAR``)."""
    _last_refresh: float = field(default=float("-inf"), init=False, repr=False)
    _refresh_lock: threading.Lock = field(default_factory=threading.Lock, init=False,
                                          repr=False)

    @classmethod
    def open(cls, settings: Settings, *, refresh_s: float = 0.5) -> Casework:
        policy = retention_policy(settings)
        ledger, blobs = open_ledger_and_store(settings)
        return cls(ledger=ledger, blobs=blobs, retention=policy, refresh_s=refresh_s,
                   officer_pattern=settings.officer_no_pattern,
                   years=YearRange(settings.earliest_year, settings.latest_year))

    def close(self) -> None:
        self.ledger.close()

    def refresh(self, *, force: bool = False) -> None:
        """Fold new ledger entries into the catalogue (throttled unless ``force``)."""
        now = time.monotonic()
        if not force and now - self._last_refresh < self.refresh_s:
            return
        with self._refresh_lock:
            self.ledger.catalogue.catch_up()
            self._last_refresh = time.monotonic()

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """A case change: under the casework lock, reading the catalogue caught up inside it
        (module docstring, Concurrency)."""
        with self.ledger.casework_lock.hold():
            self.refresh(force=True)
            yield

    def _record(self, kind: EntryKind, subject: str, body: dict[str, object], *,
                actor: str) -> int:
        receipt = self.ledger.writer.record(kind, subject, body, actor=actor)
        self.refresh(force=True)
        return receipt.index

    # --- cases and steps -------------------------------------------------------------------

    def cases(self, *, limit: int = 100, offset: int = 0) -> list[Case]:
        self.refresh()
        return self.ledger.catalogue.cases(limit=limit, offset=offset)

    def case(self, case_id: str) -> Case:
        check_lookup("案件编号", case_id)
        self.refresh()
        return self.ledger.catalogue.case(case_id)

    def officer_no(self, value: str) -> str:
        """``value`` as this bureau's canonical 警号 (evidence/identity.py), or refused."""
        return canonical_officer_no(value, pattern=self.officer_pattern)

    def open_case(self, case_id: str, *, title: str, unit_no: str, major: bool,
                  actor: str) -> Case:
        """Append ``case_opened``; ConflictError when the case id is taken, or when it only
        differs from an open case's by case, width or compatibility form (``A-1``/``a-1``)."""
        case_id = check_case_id(case_id)
        title = check_text("案件名称", title, max_chars=MAX_TITLE_CHARS)
        unit_no = check_text("单位编号", unit_no, max_chars=MAX_ID_CHARS, allow_empty=True)
        with self._changing():
            try:
                self.ledger.catalogue.case(case_id)
            except NotFoundError:
                pass
            else:
                raise ConflictError(f"案件 {case_id!r} 已立案 (case {case_id!r} is already open)")
            twin = confusable_case_id(case_id, self.ledger.catalogue.case_ids())
            if twin is not None:
                raise ConflictError(f"案件编号 {case_id!r} 与已有案件 {twin!r} 只差大小写或全半角，"
                                    f"易混淆：请用 {twin!r} 或另取编号 (case id {case_id!r} looks "
                                    f"like the existing {twin!r})")
            self._record(EntryKind.CASE_OPENED, case_id,
                         {"title": title, "unit_no": unit_no, "major": major}, actor=actor)
            return self.ledger.catalogue.case(case_id)

    def record_step(self, case_id: str, *, code: str, step_id: str | None = None,
                    started_at: datetime | None = None, ended_at: datetime | None = None,
                    officer: str | None = None, actor: str, correct: bool = False) -> CaseStep:
        """Append ``case_step``: a new step of ``code`` (a known 执法环节), or with ``correct``
        a corrected window of an existing step (its code cannot change). A new step under an
        id the case already has is a ConflictError, never a correction."""
        started_at = self.years.check_optional("started_at", started_at)
        ended_at = self.years.check_optional("ended_at", ended_at)
        if started_at and ended_at and ended_at < started_at:
            raise InvalidInputError("结束时间早于开始时间 (ended_at is before started_at)")
        if officer is not None:
            officer = self.officer_no(officer)
        if step_id is None and correct:
            raise PolicyViolationError("name the step to correct")
        if step_id is not None:
            step_id = check_step_id(step_id)
        with self._changing():
            case = self.ledger.catalogue.case(case_id)
            kinds = {k.code for k in self.ledger.catalogue.step_kinds()}
            if code not in kinds:
                raise PolicyViolationError(f"unknown 执法环节 code {code!r}; known: "
                                           f"{', '.join(sorted(kinds))}")
            existing = {s.step_id: s for s in case.steps}
            if step_id is None:
                n = len(existing) + 1
                while f"s{n}" in existing:
                    n += 1
                step_id = f"s{n}"
            if correct:
                if step_id not in existing:
                    raise NotFoundError(f"案件 {case_id!r} 没有环节 {step_id!r} (case "
                                        f"{case_id!r} has no step {step_id!r})")
                if existing[step_id].code != code:
                    raise ConflictError(f"step {step_id!r} is {existing[step_id].code!r}; a "
                                        "step's code never changes: record a new step")
            elif step_id in existing:
                raise ConflictError(f"case {case_id!r} already has a step {step_id!r}")
            self._record(EntryKind.CASE_STEP, case.case_id, {
                "step": step_id, "code": code,
                "started_at": None if started_at is None else format_time(started_at),
                "ended_at": None if ended_at is None else format_time(ended_at),
                "officer": officer}, actor=actor)
            return self._step(case_id, step_id)

    def _step(self, case_id: str, step_id: str) -> CaseStep:
        check_lookup("案件编号", case_id)
        for step in self.ledger.catalogue.case(case_id).steps:
            if step.step_id == step_id:
                return step
        raise NotFoundError(f"案件 {case_id!r} 没有环节 {step_id!r} (case {case_id!r} has no "
                            f"step {step_id!r})")

    def step_kinds(self) -> list[StepKind]:
        self.refresh()
        return self.ledger.catalogue.step_kinds()

    def define_step_kind(self, code: str, *, name: str, rule: str, actor: str) -> StepKind:
        """Append ``step_kind_defined``: a bureau's own 执法环节, or a new rule for one. The
        built-in steps the law requires recorded (查封扣押, 强制拆除, ...) stay required."""
        code = check_kind_code(code)
        name = check_text("环节名称", name, max_chars=MAX_TITLE_CHARS)
        try:
            recording = RecordingRule(rule)
        except ValueError:
            raise PolicyViolationError(f"rule {rule!r}: use one of "
                                       f"{', '.join(r.value for r in RecordingRule)}") from None
        builtin = next((k for k in CATALOGUE if k.code == code), None)
        if builtin is not None and builtin.rule is RecordingRule.REQUIRED \
                and recording is not RecordingRule.REQUIRED:
            raise PolicyViolationError(f"{builtin.name} ({code}) must be recorded in full by law "
                                       "(DESIGN.md §7); its rule cannot be weakened")
        self._record(EntryKind.STEP_KIND_DEFINED, code, {"name": name, "rule": recording.value},
                     actor=actor)
        return self.ledger.catalogue.step_kind(code)

    # --- links -----------------------------------------------------------------------------

    def _retention(self) -> RetentionContext:
        return RetentionContext(writer=self.ledger.writer, blobs=self.blobs,
                                catalogue=self.ledger.catalogue, clock=self.clock,
                                policy=self.retention)

    def link(self, case_id: str, step_id: str, sha256: str, *, actor: str) -> tuple[Link, bool]:
        """Attach a clip to a case step; returns (the link, whether it is new). The clip moves
        to the ``case`` retention class first (the store's lock extended, ``retention_set``
        appended), then ``linked`` is appended: a link is never in the ledger while its clip
        can still expire. Attaching what is attached already answers with that link and
        appends nothing."""
        with self._changing():
            self._step(case_id, step_id)
            clip = self.ledger.catalogue.clip(sha256)
            if clip.disposed_index is not None:
                raise PolicyViolationError(f"clip {sha256} was disposed at ledger index "
                                           f"{clip.disposed_index}; it cannot be attached")
            for lk in self.ledger.catalogue.links(sha256=sha256, case_id=case_id,
                                                  current_only=True):
                if lk.step_id == step_id:
                    return lk, False
            if not self._is_permanent(clip.retention_class):
                set_class(self._retention(), sha256, CASE, actor=actor,
                          reason=f"attached to case {case_id} step {step_id}")
            index = self._record(EntryKind.LINKED, sha256, {"case": case_id, "step": step_id},
                                 actor=actor)
            return self._link(sha256, index), True

    def _link(self, sha256: str, linked_index: int) -> Link:
        return next(lk for lk in self.ledger.catalogue.links(sha256=sha256)
                    if lk.linked_index == linked_index)

    def _is_permanent(self, name: str) -> bool:
        try:
            return self.retention.is_permanent(name)
        except PolicyViolationError:  # a class this bureau's policy no longer names
            return False

    def unlink(self, case_id: str, step_id: str, sha256: str, *, actor: str) -> Link:
        """Detach: append ``unlinked`` for the clip's current link to that step; ConflictError
        when there is none. The retention the link gave the clip stays (retention only ever
        grows)."""
        with self._changing():
            self._step(case_id, step_id)
            current = [lk for lk in self.ledger.catalogue.links(sha256=sha256, case_id=case_id,
                                                                 current_only=True)
                       if lk.step_id == step_id]
            if not current:
                raise ConflictError(f"clip {sha256} is not attached to case {case_id!r} step "
                                    f"{step_id!r}")
            self._record(EntryKind.UNLINKED, sha256, {"case": case_id, "step": step_id},
                         actor=actor)
            return self._link(sha256, current[-1].linked_index)

    # --- clips -----------------------------------------------------------------------------

    def clips(self, query: ClipQuery) -> list[Clip]:
        """Search; every filter is checked first (a 警号 in its canonical form, times within
        the bureau's years, no control characters in the others)."""
        query = dataclasses.replace(
            query, officer=None if query.officer is None else self.officer_no(query.officer),
            device=None if query.device is None else check_lookup("设备编号", query.device),
            case_id=None if query.case_id is None else check_lookup("案件编号", query.case_id),
            step_id=None if query.step_id is None else check_lookup("环节编号", query.step_id),
            start=self.years.check_optional("start", query.start),
            end=self.years.check_optional("end", query.end))
        self.refresh()
        return self.ledger.catalogue.clips(query)

    def clip(self, sha256: str) -> Clip:
        self.refresh()
        return self.ledger.catalogue.clip(sha256)

    def links(self, *, sha256: str | None = None, case_id: str | None = None,
              current_only: bool = False) -> list[Link]:
        if case_id is not None:
            check_lookup("案件编号", case_id)
        self.refresh()
        return self.ledger.catalogue.links(sha256=sha256, case_id=case_id,
                                           current_only=current_only)

    def access(self, sha256: str, *, action: str, variant: str, purpose: str | None,
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
        self.refresh(force=True)
        if case_id is not None:
            self.case(case_id)
        clip = self.ledger.catalogue.clip(sha256)
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
                body: dict[str, object] = {"action": action, "variant": variant,
                                           "purpose": purpose, "role": role}
                if case_id is not None:
                    body["case"] = case_id
                index = self._record(EntryKind.ACCESSED, sha256, body, actor=actor)
        except BaseException:
            stream.close()
            raise
        return Opened(clip=clip, variant=variant, object=obj, stream=stream, access_index=index)

    def _recently_accessed(self, sha256: str, *, actor: str, action: str, variant: str,
                           purpose: str, case_id: str | None) -> bool:
        since = self.clock() - ACCESS_COALESCE
        same = (action, variant, purpose, case_id)
        return any(a.at >= since and (a.action, a.variant, a.purpose, a.case_id) == same
                   for a in self.ledger.catalogue.accesses(sha256=sha256, actor=actor, limit=50))

    def accesses(self, *, sha256: str | None = None, actor: str | None = None,
                 case_id: str | None = None, officer: str | None = None,
                 limit: int = 500) -> list[Access]:
        """The access log of a clip, by an actor (any token holder's name), within a case, or
        of an officer's clips (a 警号 in its canonical form)."""
        if actor is not None:
            check_lookup("调阅人", actor)
        if officer is not None:
            officer = self.officer_no(officer)
        self.refresh()
        if sha256 is not None:
            self.ledger.catalogue.clip(sha256)
        if case_id is not None:
            self.case(case_id)
        return self.ledger.catalogue.accesses(sha256=sha256, actor=actor, case_id=case_id,
                                              officer=officer, limit=limit)

    # --- completeness ----------------------------------------------------------------------

    def completeness(self, case_id: str, *,
                     gap_threshold: timedelta = DEFAULT_GAP_THRESHOLD) -> CompletenessReport:
        case = self.case(case_id)
        rules: dict[str, RecordingRule] = {k.code: k.rule
                                           for k in self.ledger.catalogue.step_kinds()}
        recordings = []
        for lk in self.ledger.catalogue.links(case_id=case_id, current_only=True):
            clip = self.ledger.catalogue.clip(lk.sha256)
            recordings.append(LinkedRecording(
                sha256=clip.sha256, step_id=lk.step_id, captured_at=clip.captured_at,
                duration_ms=clip.duration_ms, stored=clip.original is not None,
                quarantined=clip.quarantine_reason is not None,
                disposed=clip.disposed_index is not None))
        return completeness(case, rules=rules, recordings=recordings,
                            gap_threshold=gap_threshold)

    # --- verification ----------------------------------------------------------------------

    def verify(self, sha256: str) -> Verification:
        """The entries naming ``sha256`` with inclusion proofs against the latest checkpoint.
        NotFoundError when the ledger has never heard of it."""
        store = self.ledger.store
        rows = store.find(sha256)
        if not rows:
            raise NotFoundError(f"no ledger entry names {sha256}: this content was never "
                                "recorded here")
        checkpoint = store.latest_checkpoint()
        proven = []
        for row in rows:
            entry = decode_entry(row.data)
            if entry.kind is EntryKind.ACCESSED:
                continue
            proof = None
            if checkpoint is not None and row.index < checkpoint.head.size:
                proof = tuple(store.inclusion_proof(row.index, checkpoint.head.size))
            proven.append(ProvenEntry(index=row.index, kind=entry.kind.value, at=entry.at,
                                      actor=entry.actor, station=entry.station, data=row.data,
                                      leaf_hash=row.leaf_hash, proof=proof))
        clip = None
        acquired = any(e.kind == EntryKind.ACQUIRED for e in proven)
        if acquired:
            try:
                clip = self.ledger.catalogue.clip(sha256)
            except NotFoundError:
                clip = None  # not folded yet: the ledger is the truth, the catalogue may lag
        return Verification(sha256=sha256, entries=tuple(proven), checkpoint=checkpoint,
                            acquired=acquired, clip=clip)

    def _checkpoint_of(self, size: int) -> Checkpoint | None:
        return next((c for c in self.ledger.store.checkpoints() if c.head.size == size), None)

    def _latest_size(self) -> int:
        latest = self.ledger.store.latest_checkpoint()
        if latest is None:
            raise NotFoundError("no checkpoint has been published yet")
        return latest.head.size

    def inclusion(self, index: int, size: int | None = None) -> InclusionProof:
        """RFC 9162 §2.1.3 proof of entry ``index`` in the tree of ``size`` (default: the
        latest checkpoint's)."""
        size = self._latest_size() if size is None else size
        hashes = tuple(self.ledger.store.inclusion_proof(index, size))
        leaf = self.ledger.store.entry(index).leaf_hash
        return InclusionProof(index=index, size=size, leaf_hash=leaf, hashes=hashes,
                              checkpoint=self._checkpoint_of(size))

    def consistency(self, old: int, new: int | None = None) -> ConsistencyProof:
        """RFC 9162 §2.1.4 proof that the tree of ``new`` (default: the latest checkpoint's)
        extends the tree of ``old``."""
        new = self._latest_size() if new is None else new
        if old < 1:
            raise PolicyViolationError("old must be at least 1: every tree extends the empty one")
        if old > new:
            raise PolicyViolationError(f"old size {old} is larger than new size {new}")
        hashes = tuple(self.ledger.store.consistency_proof(old, new))
        return ConsistencyProof(old=old, new=new, hashes=hashes,
                                old_checkpoint=self._checkpoint_of(old),
                                new_checkpoint=self._checkpoint_of(new))

    def checkpoints(self) -> list[Checkpoint]:
        return self.ledger.store.checkpoints()

    def latest_checkpoint(self) -> Checkpoint:
        latest = self.ledger.store.latest_checkpoint()
        if latest is None:
            raise NotFoundError("no checkpoint has been published yet")
        return latest

    def bundle(self, sha256: str) -> bytes:
        """The offline proof bundle of the clip's first entry (its ``acquired``), publishing a
        checkpoint first when none covers it yet (as ``liuhen export-bundle`` does)."""
        # By the subject's entries, not find_entry(ref): a hash of only digits is no index.
        rows = self.ledger.store.find(sha256)
        if not rows:
            raise NotFoundError(f"no ledger entry names {sha256}")
        index = rows[0].index
        latest = self.ledger.store.latest_checkpoint()
        if latest is None or latest.head.size <= index:
            self.ledger.publish(actor="api")
        return export_bundle(self.ledger, str(index))


def read_range(stream: BinaryIO, *, start: int, length: int | None,
               chunk_bytes: int = 1 << 20) -> Iterator[bytes]:
    """Bytes ``[start, start + length)`` of ``stream`` (to its end when ``length`` is None),
    ``chunk_bytes`` at a time; closes the stream when done or abandoned.

    Stores hand out forward-only streams that check the SHA-256 at their end, so a range is
    reached by reading past ``start``; a whole read (``start`` 0, no ``length``) goes on to the
    end, where a changed object raises VerificationError instead of ending quietly."""
    try:
        skip = start
        while skip:
            got = stream.read(min(skip, chunk_bytes))
            if not got:
                return
            skip -= len(got)
        left = length
        while left is None or left > 0:
            got = stream.read(chunk_bytes if left is None else min(left, chunk_bytes))
            if not got:
                return
            if left is not None:
                left -= len(got)
            yield got
    finally:
        stream.close()
