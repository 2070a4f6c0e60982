"""Request and response bodies of the REST API (the OpenAPI document is generated from these).

Hashes are lowercase hex; entry bytes base64; times RFC 3339 with an explicit offset (requests
without one are refused: a time without a zone is ambiguous evidence).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from cases.casework import MAX_ID_CHARS, MAX_TITLE_CHARS
from evidence.completeness import CompletenessReport, MissingRecording
from evidence.identity import check_case_id
from evidence.records import Access, Case, CaseStep, Checkpoint, Clip, Link, StoredObject
from evidence.steps import StepKind
from integrity.bundle import TlogProof, format_tlog_proof
from ledger.proofs import ConsistencyProof, InclusionProof, ProvenEntry, Verification

SHA256_PATTERN = r"^[0-9a-fA-F]{64}$"
Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN, description="SHA-256, 64 hex digits")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseIn(_In):
    case_id: Annotated[str, AfterValidator(check_case_id)] = Field(
        min_length=1, max_length=MAX_ID_CHARS,
        description="the case number (案件编号): no / \\ # ? %, no invisible or control "
                    "characters, not '.' or '..', no look-alike of an existing one")
    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    unit_no: str = Field(default="", max_length=MAX_ID_CHARS)
    major: bool = Field(default=False, description="a major enforcement decision (重大执法决定)")


class StepIn(_In):
    code: str = Field(min_length=1, max_length=32,
                      description="执法环节 code (GET /api/step-kinds)")
    step_id: str | None = Field(default=None, min_length=1, max_length=32,
                                description="unique in the case; default s1, s2, ...")
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    officer: str | None = Field(default=None, min_length=1, max_length=32,
                                description="警号 of the officer in charge")


class StepWindowIn(_In):
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    officer: str | None = Field(default=None, min_length=1, max_length=32)


class StepKindIn(_In):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    name: str = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    rule: Literal["required", "should", "optional"]


class LinkIn(_In):
    sha256: Sha256


class PrincipalOut(BaseModel):
    name: str
    role: str


class StepKindOut(BaseModel):
    code: str
    name: str
    rule: str

    @classmethod
    def of(cls, k: StepKind) -> StepKindOut:
        return cls(code=k.code, name=k.name, rule=k.rule.value)


class StepOut(BaseModel):
    step_id: str
    code: str
    started_at: datetime | None
    ended_at: datetime | None
    officer: str | None
    recorded_index: int | None
    corrected_by: str | None = None
    """Who last corrected the window (the history stays in the ledger)."""
    corrected_at: datetime | None = None

    @classmethod
    def of(cls, s: CaseStep) -> StepOut:
        return cls(step_id=s.step_id, code=s.code, started_at=s.started_at, ended_at=s.ended_at,
                   officer=s.officer, recorded_index=s.recorded_index,
                   corrected_by=s.corrected_by, corrected_at=s.corrected_at)


class LinkOut(BaseModel):
    sha256: str
    case_id: str
    step_id: str
    current: bool
    linked_index: int
    linked_at: datetime
    linked_by: str
    unlinked_index: int | None
    unlinked_at: datetime | None
    unlinked_by: str | None

    @classmethod
    def of(cls, lk: Link) -> LinkOut:
        return cls(sha256=lk.sha256, case_id=lk.case_id, step_id=lk.step_id,
                   current=lk.unlinked_index is None, linked_index=lk.linked_index,
                   linked_at=lk.linked_at, linked_by=lk.linked_by,
                   unlinked_index=lk.unlinked_index, unlinked_at=lk.unlinked_at,
                   unlinked_by=lk.unlinked_by)


class CaseOut(BaseModel):
    case_id: str
    title: str
    unit_no: str
    major: bool
    opened_at: datetime | None
    opened_by: str
    steps: list[StepOut]
    officers: list[CaseOfficerOut] = []
    """Who works on the case (主办/协办)."""

    @classmethod
    def of(cls, c: Case) -> CaseOut:
        return cls(case_id=c.case_id, title=c.title, unit_no=c.unit_no, major=c.major,
                   opened_at=c.opened_at, opened_by=c.opened_by,
                   steps=[StepOut.of(s) for s in c.steps],
                   officers=[CaseOfficerOut(officer=o.officer, duty=o.duty)
                             for o in c.officers])


class CaseDetailOut(CaseOut):
    links: list[LinkOut]
    """Every link ever made to the case's steps, current or detached, in ledger order."""


class ObjectOut(BaseModel):
    store: str
    key: str
    version_id: str
    size: int
    sha256: str
    lock_mode: str
    retain_until: datetime

    @classmethod
    def of(cls, o: StoredObject | None) -> ObjectOut | None:
        if o is None:
            return None
        return cls(store=o.store, key=o.key, version_id=o.version_id, size=o.size,
                   sha256=o.sha256, lock_mode=o.lock_mode, retain_until=o.retain_until)


class ClipOut(BaseModel):
    sha256: str
    sm3: str | None = None
    """SM3 of the original (GB/T 32905); null for clips acquired before the 国密 layer."""
    size: int
    device: str
    officer: str
    unit_no: str
    name_on_device: str
    captured_at: datetime
    duration_ms: int | None
    station: str
    acquired_index: int
    acquired_at: datetime
    original: ObjectOut | None
    playback: ObjectOut | None
    proxy: ObjectOut | None
    media_state: str | None
    quarantine_reason: str | None
    retention_class: str
    retain_until: datetime | None
    legal_hold: bool
    disposed_index: int | None

    @classmethod
    def of(cls, c: Clip) -> ClipOut:
        return cls(sha256=c.sha256, sm3=c.sm3, size=c.size, device=c.device, officer=c.officer,
                   unit_no=c.unit_no, name_on_device=c.name_on_device,
                   captured_at=c.captured_at, duration_ms=c.duration_ms, station=c.station,
                   acquired_index=c.acquired_index, acquired_at=c.acquired_at,
                   original=ObjectOut.of(c.original), playback=ObjectOut.of(c.playback),
                   proxy=ObjectOut.of(c.proxy), media_state=c.media_state,
                   quarantine_reason=c.quarantine_reason, retention_class=c.retention_class,
                   retain_until=c.retain_until, legal_hold=c.legal_hold,
                   disposed_index=c.disposed_index)


class ClipDetailOut(ClipOut):
    links: list[LinkOut]


class AccessOut(BaseModel):
    index: int
    sha256: str
    actor: str
    role: str
    action: str
    variant: str
    purpose: str
    at: datetime
    case_id: str | None

    @classmethod
    def of(cls, a: Access) -> AccessOut:
        return cls(index=a.index, sha256=a.sha256, actor=a.actor, role=a.role, action=a.action,
                   variant=a.variant, purpose=a.purpose, at=a.at, case_id=a.case_id)


class MissingOut(BaseModel):
    step_id: str
    code: str
    rule: str
    note: str


class GapOut(BaseModel):
    step_id: str
    code: str
    rule: str
    start: datetime
    end: datetime
    seconds: float


class NotCountedOut(BaseModel):
    step_id: str
    sha256: str
    reason: str


class CaseOfficerIn(_In):
    officer: str = Field(min_length=1, max_length=32, description="警号")
    duty: Literal["主办", "协办"] = "协办"
    on: bool = Field(default=True, description="false: no longer on the case")


class CaseOfficerOut(BaseModel):
    officer: str
    duty: str


class CompletenessOut(BaseModel):
    case_id: str
    major: bool
    complete: bool
    """No required step lacks a counted recording and no required step has a gap."""
    gap_threshold_s: float
    missing_required: list[MissingOut]
    missing_should: list[MissingOut]
    gaps: list[GapOut]
    not_counted: list[NotCountedOut]
    unknown_duration: list[str]
    no_window: list[str]
    corrections: list[CorrectionOut] = []
    """Steps whose window was corrected: the report is computed on the corrected windows."""
    corrections_note: str = ""

    @classmethod
    def of(cls, r: CompletenessReport) -> CompletenessOut:
        def missing(items: tuple[MissingRecording, ...]) -> list[MissingOut]:
            return [MissingOut(step_id=m.step_id, code=m.code, rule=m.rule.value, note=m.note)
                    for m in items]

        return cls(case_id=r.case_id, major=r.major, complete=r.complete,
                   gap_threshold_s=r.gap_threshold.total_seconds(),
                   missing_required=missing(r.missing_required),
                   missing_should=missing(r.missing_should),
                   gaps=[GapOut(step_id=g.step_id, code=g.code, rule=g.rule.value, start=g.start,
                                end=g.end, seconds=g.seconds) for g in r.gaps],
                   not_counted=[NotCountedOut(step_id=n.step_id, sha256=n.sha256,
                                              reason=n.reason) for n in r.not_counted],
                   unknown_duration=list(r.unknown_duration), no_window=list(r.no_window),
                   corrections=[CorrectionOut(step_id=s.step_id, corrected_by=s.corrected_by or "",
                                              corrected_at=s.corrected_at)
                                for s in r.corrected],
                   corrections_note=r.corrections_note)


class CorrectionOut(BaseModel):
    step_id: str
    corrected_by: str
    corrected_at: datetime | None


class CheckpointOut(BaseModel):
    origin: str
    size: int
    root: str
    """Lowercase hex of the RFC 9162 root hash."""
    sm3_root: str | None = None
    """Lowercase hex of the SM3 tree's root, from the note's ``sm3`` line (null before the
    国密 layer)."""
    note: str
    """The C2SP tlog-checkpoint signed note, verbatim."""

    @classmethod
    def of(cls, c: Checkpoint) -> CheckpointOut:
        return cls(origin=c.origin, size=c.head.size, root=c.head.root.hex(),
                   sm3_root=None if c.sm3 is None else c.sm3.root.hex(),
                   note=c.note.decode("utf-8"))

    @classmethod
    def maybe(cls, c: Checkpoint | None) -> CheckpointOut | None:
        return None if c is None else cls.of(c)


class EntryProofOut(BaseModel):
    index: int
    kind: str
    at: datetime
    actor: str | None
    """Who the entry names as its actor; null for a station token (it may be an officer)."""
    station: str
    entry: str | None
    """The entry bytes, base64: the only bytes ever hashed. Null for a station token: they name
    the officer and the file."""
    leaf_hash: str
    inclusion: list[str] | None
    """RFC 9162 inclusion path (hex) under ``checkpoint``; null when no checkpoint covers the
    entry yet."""
    tlog_proof: str | None
    """The same proof as a C2SP tlog-proof@v1 (as in a proof bundle)."""
    sm3_inclusion: list[str] | None = None
    """The inclusion path (hex) in the SM3 tree under the checkpoint's ``sm3`` line; null when
    the checkpoint has none or no checkpoint covers the entry yet."""

    @classmethod
    def of(cls, e: ProvenEntry, checkpoint: Checkpoint | None, *,
           redacted: bool = False) -> EntryProofOut:
        tlog = None
        if e.proof is not None and checkpoint is not None:
            tlog = format_tlog_proof(TlogProof(index=e.index, hashes=e.proof,
                                               checkpoint=checkpoint.note)).decode()
        return cls(index=e.index, kind=e.kind, at=e.at, actor=None if redacted else e.actor,
                   station=e.station,
                   entry=None if redacted else base64.b64encode(e.data).decode(),
                   leaf_hash=e.leaf_hash.hex(),
                   inclusion=None if e.proof is None else [h.hex() for h in e.proof],
                   tlog_proof=tlog,
                   sm3_inclusion=None if e.sm3_proof is None else [h.hex() for h in e.sm3_proof])


STATION_VIEW_KINDS = frozenset({"acquired", "derived", "stored", "quarantined"})
"""What a station token sees of a clip's entries: the ingest pipeline's, not links to cases."""


class VerifyOut(BaseModel):
    sha256: str
    matched: str = "sha256"
    """Which digest the hash asked for matched: ``sha256``, or ``sm3`` (the clip's SM3)."""
    sm3: str | None = None
    """The content's SM3, when the catalogue knows it (null for clips before the 国密 layer)."""
    size: int | None = None
    """For an upload: the bytes received."""
    acquired: bool
    """An ``acquired`` entry names this content: it came from a recorder through a station."""
    stored: ObjectOut | None = None
    """Where the original is kept (store, key, version, lock), once it is stored."""
    clip: ClipOut | None
    """The catalogue's record; null for a station token (it names the officer and the file)."""
    checkpoint: CheckpointOut | None
    entries: list[EntryProofOut]
    """Entries about the content, ``accessed`` ones left out (see the access log); for a
    station token only the ingest pipeline's (acquired, derived, stored, quarantined), without
    their bytes or actors."""

    @classmethod
    def of(cls, v: Verification, *, size: int | None = None,
           for_station: bool = False) -> VerifyOut:
        """The verification as its caller may see it: a station verifying a hash learns whether
        and where the content is kept, with proofs, not who recorded it, under what file name,
        or which cases it belongs to."""
        entries = [EntryProofOut.of(e, v.checkpoint, redacted=for_station) for e in v.entries
                   if not for_station or e.kind in STATION_VIEW_KINDS]
        return cls(sha256=v.sha256, matched=v.matched,
                   sm3=None if v.clip is None else v.clip.sm3, size=size, acquired=v.acquired,
                   stored=None if v.clip is None else ObjectOut.of(v.clip.original),
                   clip=None if v.clip is None or for_station else ClipOut.of(v.clip),
                   checkpoint=CheckpointOut.maybe(v.checkpoint), entries=entries)


class InclusionOut(BaseModel):
    index: int
    size: int
    leaf_hash: str
    hashes: list[str]
    sm3_hashes: list[str]
    """The same entry's path in the SM3 tree of the same size (SM3(0x00 ‖ entry) leaves)."""
    checkpoint: CheckpointOut | None

    @classmethod
    def of(cls, p: InclusionProof) -> InclusionOut:
        return cls(index=p.index, size=p.size, leaf_hash=p.leaf_hash.hex(),
                   hashes=[h.hex() for h in p.hashes], sm3_hashes=[h.hex() for h in p.sm3_hashes],
                   checkpoint=CheckpointOut.maybe(p.checkpoint))


class ConsistencyOut(BaseModel):
    old: int
    new: int
    hashes: list[str]
    old_checkpoint: CheckpointOut | None
    new_checkpoint: CheckpointOut | None

    @classmethod
    def of(cls, p: ConsistencyProof) -> ConsistencyOut:
        return cls(old=p.old, new=p.new, hashes=[h.hex() for h in p.hashes],
                   old_checkpoint=CheckpointOut.maybe(p.old_checkpoint),
                   new_checkpoint=CheckpointOut.maybe(p.new_checkpoint))
