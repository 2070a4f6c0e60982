"""Frozen value types for evidence records (STYLE.md §8)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from evidence.ids import (
    CaseId,
    DeviceSerial,
    KeyId,
    OfficerNo,
    Origin,
    Sha256Hex,
    Sm3Hex,
    StationId,
    StepCode,
)


class EntryKind(enum.StrEnum):
    """The ledger entry kinds of DESIGN.md §4 (docs/ledger-format.md lists their bodies)."""

    ACQUIRED = "acquired"
    DERIVED = "derived"
    STORED = "stored"
    QUARANTINED = "quarantined"
    RELEASED = "released"
    LINKED = "linked"
    UNLINKED = "unlinked"
    ACCESSED = "accessed"
    EXPORTED = "exported"
    RETENTION_SET = "retention_set"
    LEGAL_HOLD = "legal_hold"
    DISPOSED = "disposed"
    KEY_ROTATED = "key_rotated"
    ANCHORED = "anchored"
    DEVICE_REGISTERED = "device_registered"
    CLOCK_OBSERVED = "clock_observed"
    FIXITY_CHECKED = "fixity_checked"
    CASE_OPENED = "case_opened"
    CASE_STEP = "case_step"
    STEP_KIND_DEFINED = "step_kind_defined"
    ACCOUNT_CHANGED = "account_changed"
    CASE_OFFICER = "case_officer"
    STATION_REGISTERED = "station_registered"
    STATION_CHECKPOINT = "station_checkpoint"
    COPY_RELEASED = "copy_released"
    ACCESS_REQUESTED = "access_requested"
    ACCESS_DECIDED = "access_decided"
    GRANT_USED = "grant_used"
    GRANT_EXPIRED = "grant_expired"
    ALERT_ACKNOWLEDGED = "alert_acknowledged"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class TreeHead:
    """A tree size and its RFC 9162 root hash (32 bytes)."""

    size: int
    root: bytes


@dataclass(frozen=True, slots=True)
class Entry:
    """The decoded fields of one ledger entry; ``encode_entry`` turns it into the hashed bytes."""

    kind: EntryKind
    subject: str
    body: dict[str, object]
    station: StationId
    actor: str
    at: datetime
    prev_checkpoint: TreeHead | None = None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One stored row of the ledger: its index, verbatim bytes and leaf hash."""

    index: int
    data: bytes
    leaf_hash: bytes


@dataclass(frozen=True, slots=True)
class Receipt:
    """What an appender gets back once its entry is durable: its index and leaf hash, and the
    station-signed commit statement (a signed note over the tree head after its commit)."""

    index: int
    leaf_hash: bytes
    commit_note: bytes


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A C2SP ``tlog-checkpoint`` signed note and its parsed body."""

    origin: Origin
    head: TreeHead
    note: bytes
    """The whole signed note, body and signature lines, verbatim."""
    sm3: TreeHead | None = None
    """The SM3 tree over the same entries (国密 layer), from the note's ``sm3`` extension line;
    None on checkpoints signed before it (docs/ledger-format.md §9)."""


@dataclass(frozen=True, slots=True)
class Officer:
    officer_no: OfficerNo
    name: str
    unit_no: str
    unit_name: str


@dataclass(frozen=True, slots=True)
class Device:
    serial: DeviceSerial
    id_code: str
    """GA/T 947.4 5-character maker+model code."""
    officer: Officer | None = None


@dataclass(frozen=True, slots=True)
class Clip:
    """One original as the catalogue knows it: the read model folded from the ledger's
    ``acquired``, ``stored``, ``derived``, ``quarantined``, ``retention_set``, ``legal_hold`` and
    ``disposed`` entries (storage/catalogue.py; docs/catalogue.md)."""

    sha256: Sha256Hex
    size: int
    device: DeviceSerial
    officer: OfficerNo
    unit_no: str
    name_on_device: str
    captured_at: datetime
    """The device's time corrected by the clock offset observed at docking, when known."""
    station: StationId
    acquired_index: int
    acquired_at: datetime
    original: StoredObject | None = None
    playback: StoredObject | None = None
    proxy: StoredObject | None = None
    media_state: str | None = None
    """``derived`` or ``quarantined`` once the media stage has run."""
    quarantine_reason: str | None = None
    duration_ms: int | None = None
    retention_class: str = "standard"
    retain_until: datetime | None = None
    legal_hold: bool = False
    disposed_index: int | None = None
    sm3: Sm3Hex | None = None
    """SM3 of the original (GB/T 32905); None for clips acquired before the 国密 layer."""
    media_action: str | None = None
    """The media stage's action: ``keep`` (a still picture), ``audio``, ``remux`` …"""
    quarantine_step: str | None = None
    """Which step quarantined it: ``commit`` (at docking), ``probe``, ``derive`` …"""
    thumb: StoredObject | None = None
    """A thumbnail (JPEG) the media stage made: the middle one of a video's, a photo's own."""
    strip: StoredObject | None = None
    """The keyframe strip (JPEG) of a video."""


@dataclass(frozen=True, slots=True)
class CaseStep:
    """One 执法环节 of a case: its catalogue ``code`` and the time window it covers."""

    case_id: CaseId
    step_id: str
    """Unique within the case (e.g. ``s1``); a case may hold the same code more than once."""
    code: StepCode
    started_at: datetime | None = None
    ended_at: datetime | None = None
    officer: str | None = None
    recorded_index: int | None = None
    corrected_by: str | None = None
    """Who last corrected this step's window (None while the first record stands)."""
    corrected_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CaseOfficer:
    """An officer on a case: ``duty`` is ``主办`` (lead) or ``协办`` (assisting)."""

    officer: str
    duty: str
    index: int


@dataclass(frozen=True, slots=True)
class Case:
    case_id: CaseId
    title: str
    unit_no: str
    major: bool = False
    """A major enforcement decision (重大执法决定): 法制审核 reads the completeness report."""
    opened_at: datetime | None = None
    opened_by: str = ""
    steps: tuple[CaseStep, ...] = field(default=())
    officers: tuple[CaseOfficer, ...] = field(default=())
    """Who works on the case (主办/协办), from ``case_officer`` entries."""


@dataclass(frozen=True, slots=True)
class Link:
    """A clip attached to a case step (``linked``), closed by a later ``unlinked``; both stay in
    the ledger for ever."""

    sha256: Sha256Hex
    case_id: CaseId
    step_id: str
    linked_index: int
    linked_at: datetime
    linked_by: str
    unlinked_index: int | None = None
    unlinked_at: datetime | None = None
    unlinked_by: str | None = None


@dataclass(frozen=True, slots=True)
class Access:
    """One view or download (调阅), as its ``accessed`` entry records it."""

    index: int
    sha256: Sha256Hex
    actor: str
    role: str
    action: str
    """``play`` or ``download``."""
    variant: str
    """``original``, ``playback`` or ``proxy``."""
    purpose: str
    at: datetime
    case_id: CaseId | None = None


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A verifying key with its validity range in tree sizes (docs/ledger-format.md §keys).

    ``role`` is ``log`` (signs checkpoints), ``station`` (signs commit statements) or ``witness``.
    The key is valid for tree sizes ``valid_from <= size`` and, when set, ``size < valid_until``.
    ``algorithm`` is ``ed25519`` or ``sm2`` (SM2 with SM3, user ID 1234567812345678).
    """

    name: str
    key_id: KeyId
    raw: bytes
    """The 32-byte Ed25519 public key, or the 65-byte uncompressed SM2 point ``04 ‖ x ‖ y``."""
    role: str
    valid_from: int = 0
    valid_until: int | None = None
    algorithm: str = "ed25519"

    def valid_at(self, size: int) -> bool:
        return self.valid_from <= size and (self.valid_until is None or size < self.valid_until)


@dataclass(frozen=True, slots=True)
class Sealing:
    """How a stored object is encrypted at rest (docs/adr/0010-sm4-envelope.md): ``algorithm``
    (``SM4-GCM/liuhen-stream-v1``), the data key wrapped by KEK ``kek_id`` (``wrapped_key``,
    lowercase hex), and the SHA-256 and size of the bytes the store holds (the ciphertext), which
    fixity checks without keys."""

    algorithm: str
    kek_id: str
    wrapped_key: str
    sealed_sha256: Sha256Hex
    sealed_size: int


@dataclass(frozen=True, slots=True)
class StoredObject:
    """Where an original (or derivative) lives, pinned to one immutable version.

    ``size`` and ``sha256`` are the plaintext's (the evidence's identity); when the object is
    encrypted at rest, ``sealing`` (filled in by the sealing store's ``put``/``verify``) says how
    and names the stored bytes' own digest."""

    store: str
    """The store's URL, e.g. ``file:///var/lib/liuhen/objects`` or ``s3://bucket/prefix``."""
    key: str
    version_id: str
    size: int
    sha256: Sha256Hex
    lock_mode: str
    """``COMPLIANCE`` on S3 Object Lock; ``LOCAL-WORM`` for the local directory store."""
    retain_until: datetime
    sealing: Sealing | None = None


class FileState(enum.StrEnum):
    """Per-file ingest states (DESIGN.md §3), persisted so a crash anywhere resumes.

    ``derived`` (media work, issue 5) will sit between ``committed`` and ``stored``. A file whose
    content is unusable (zero bytes, corrupt) is still stored and ledgered exactly as received and
    carries a ``quarantine_reason``; ``quarantined`` is that flag, not a dead end.
    """

    DISCOVERED = "discovered"
    ACQUIRED = "acquired"
    COMMITTED = "committed"
    STORED = "stored"
    VERIFIED = "verified"
    RELEASED = "released"


@dataclass(frozen=True, slots=True)
class FileRow:
    """The station's record of one file on one recorder."""

    id: int
    serial: str
    path: str
    """As the recorder names it: display and ledger only, never a host path."""
    raw_path: bytes
    """The name's bytes as stored on the device (identity; kept in the ledger when they are
    not the UTF-8 of ``path``)."""
    size: int
    device_mtime: datetime
    state: FileState
    sha256: Sha256Hex | None = None
    acquired_index: int | None = None
    object: StoredObject | None = None
    stored_index: int | None = None
    quarantine_reason: str | None = None
    attempts: int = 0
    last_error: str | None = None
    sm3: Sm3Hex | None = None
    """SM3 of the content, from the same read pass as ``sha256`` (None on rows acquired before
    the 国密 layer)."""


@dataclass(frozen=True, slots=True)
class Upload:
    """A network upload (tus) from a 4G recorder or phone: the device (its credential's serial),
    the length and file name it announced, the clock it reported at creation; ``completed_at``
    and ``sha256`` once the bytes are all in and ingested."""

    id: str
    serial: str
    length: int
    name: str
    device_time: datetime | None
    created_at: datetime
    completed_at: datetime | None = None
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    """Which officer a recorder is assigned to (the device registry)."""

    serial: str
    id_code: str
    officer_no: str
    officer_name: str
    unit_no: str
    unit_name: str


@dataclass(frozen=True, slots=True)
class ClipQuery:
    """Search filters; every one given must match. Times bound ``captured_at`` (start ≤ t < end)."""

    officer: str | None = None
    device: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    case_id: str | None = None
    step_id: str | None = None
    limit: int = 100
    offset: int = 0
    scope: ClipScope | None = None
    """Only clips the caller may see (access/scope.py); None: every clip (jobs, the station)."""
    within: ClipScope | None = None
    """A filter shaped like a scope: e.g. a unit's subtree (``Scopes.for_unit``)."""
    order: str = "captured"
    """One of CLIP_ORDERS: ``captured`` (newest first), ``officer`` or ``device`` (then
    newest first); the SHA-256 breaks ties."""
    after: str | None = None
    """Keyset pagination: only clips after this clip's SHA-256 in ``order``."""
    before: str | None = None
    """Keyset pagination: the ``limit`` clips just before this clip's SHA-256 in ``order``
    (still returned in ``order``)."""


CLIP_ORDERS = ("captured", "officer", "device")


@dataclass(frozen=True, slots=True)
class StationReport:
    """A station's last heartbeat (采集站 dashboard): when, its staging disk, docks running."""

    station: str
    reported_at: datetime
    free_bytes: int
    total_bytes: int
    docking: int


@dataclass(frozen=True, slots=True)
class DockReport:
    """One dock of a recorder at a station, as the station last reported it."""

    station: str
    serial: str
    started_at: datetime
    updated_at: datetime
    files: int
    files_done: int
    bytes_total: int
    bytes_done: int
    state: str
    """``copying``, ``done`` or ``failed``."""
    summary: str = ""


@dataclass(frozen=True, slots=True)
class OfficerDevice:
    """A recorder an officer's clips came from (一人一档): how many, and its last docking."""

    device: str
    clips: int
    last_docked: datetime


@dataclass(frozen=True, slots=True)
class ClipScope:
    """Which clips a caller may see (docs/access.md §Scope), as data a query can apply.

    A clip is in scope when ``everything``; or its officer's account belongs to one of ``units``;
    or its officer has no account and ``orphan_units`` holds the unit code its recorder wrote;
    or it is linked (currently) to one of ``cases``; or a live grant (调阅审批) names it
    (``granted_clips``) or a case it is linked to (``granted_cases``)."""

    everything: bool = False
    units: frozenset[str] = frozenset()
    orphan_units: frozenset[str] = frozenset()
    cases: frozenset[str] = frozenset()
    granted_clips: frozenset[str] = frozenset()
    granted_cases: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ApiToken:
    """What is known about a token without the token itself."""

    id: int
    name: str
    """Who holds it: an officer's 警号, an auditor's id, a station id."""
    role: str
    created_at: datetime
    revoked_at: datetime | None = None
    expires_at: datetime | None = None
    """None: the token never expires (tokens made before accounts; docs/access.md §Tokens)."""
    scope: str = "all"
    """``all`` (every clip: automation) or a unit code (that unit's subtree)."""

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit of the bureau's tree (市局 → 分局 → 派出所/大队/中队), by its 12-digit code."""

    code: str
    name: str
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class Account:
    """A person: canonical 警号, name, unit and roles; ``audit_unit`` is the subtree an
    auditor (法制) is assigned (their own unit when None)."""

    officer_no: str
    name: str
    unit: str
    roles: tuple[str, ...]
    created_at: datetime
    disabled_at: datetime | None = None
    audit_unit: str | None = None
    has_password: bool = False

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True, slots=True)
class Session:
    """A person's signed-in session, as the server keeps it (never the session id itself)."""

    id: int
    officer_no: str
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None = None
    ended_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    """One entry of a store's own listing (``BlobStore.inventory``): a version of a key, or a
    delete marker on it. Keys are relative to the store's URL, like ``StoredObject.key``."""

    key: str
    version_id: str
    """The store's version id; ``""`` for a delete marker without one."""
    is_latest: bool
    delete_marker: bool
    size: int
    modified: datetime | None


@dataclass(frozen=True, slots=True)
class StationRecord:
    """A station as the bureau knows it (docs/adr/0014-two-level-log.md)."""

    station_id: str
    origin: str
    keys: tuple[PublicKey, ...]
    """Its log and station keys (Ed25519 and SM2) with their validity by its own tree size."""
    status: str
    """``pending`` (registered, not approved), ``approved`` or ``revoked``."""
    size: int
    """How many of its entries the bureau holds (the acknowledged size)."""
    flagged: str | None = None
    """Why its last refused push was refused (a fork, a bad signature), or None."""
    frontier: bytes = b""
    """Both trees' frontiers at ``size`` (integrity.merkle.TreeBuilder.frontier)."""
    sm3_frontier: bytes = b""


@dataclass(frozen=True, slots=True)
class StationCheckpointRow:
    size: int
    note: bytes
    bureau_index: int | None


@dataclass(frozen=True, slots=True)
class ObjectReceipt:
    """The bureau's receipt for the object of a station's ``stored`` entry ``index``
    (docs/station.md §Sync): it holds ``size`` bytes with these digests (of the bytes as the
    station stored them: sealed when encrypted at rest), checked against the entry and
    re-hashed in its store."""

    station_id: str
    index: int
    size: int
    sha256: str
    sm3: str


@dataclass(frozen=True, slots=True)
class ReceivedCopy:
    """A bureau receipt as the station keeps it (``DIR/sync/objects``): the receipt, checked
    against the bytes sent, and when it arrived (the station's clock)."""

    receipt: ObjectReceipt
    received_at: datetime
