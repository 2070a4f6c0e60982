"""Bodies of the entries a docking station writes (DESIGN.md §3, §6; docs/ledger-format.md §1).

A file's name on the recorder is ``name_on_device`` (its text) plus ``name_bytes_hex`` when the
device's bytes are not that text's UTF-8 (a GBK name, say), so nothing about it is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Self

from evidence.bodies.fields import Fields, JsonObject, put_if
from evidence.ledgertime import format_time
from evidence.records import EntryKind


@dataclass(frozen=True, slots=True)
class AcquiredBody:
    """``acquired`` (subject: the clip's SHA-256; actor: the officer's 警号): a file read once
    from a recorder and hashed (DESIGN.md §3 steps 2-3). ``capture_time`` is the device's time
    corrected by the clock offset observed at docking, written only when that offset is known."""

    kind: ClassVar[EntryKind] = EntryKind.ACQUIRED
    OPTIONAL_KEYS: ClassVar[frozenset[str]] = frozenset({"name_bytes_hex", "capture_time", "sm3"})

    device: str
    name_on_device: str
    size: int
    officer: str
    unit_no: str
    clock_offset_ms: int | None
    device_mtime: datetime
    name_bytes_hex: str | None = None
    capture_time: datetime | None = None
    sm3: str | None = None
    """SM3 (GB/T 32905) of the same bytes as the subject's SHA-256, from the same read pass;
    absent in entries written before the 国密 layer (DESIGN.md §4), which still read."""

    def to_body(self) -> dict[str, object]:
        body: dict[str, object] = {
            "device": self.device, "name_on_device": self.name_on_device, "size": self.size,
            "officer": self.officer, "unit_no": self.unit_no,
            "clock_offset_ms": self.clock_offset_ms,
            "device_mtime": format_time(self.device_mtime)}
        put_if(body, "name_bytes_hex", self.name_bytes_hex)
        put_if(body, "sm3", self.sm3)
        if self.capture_time is not None:
            body["capture_time"] = format_time(self.capture_time)
        return body

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(device=f.text("device"), name_on_device=f.text("name_on_device"),
                   size=f.integer("size"), officer=f.text("officer"), unit_no=f.text("unit_no"),
                   clock_offset_ms=f.optional_integer("clock_offset_ms"),
                   device_mtime=f.time("device_mtime"),
                   name_bytes_hex=f.text_if_present("name_bytes_hex"),
                   capture_time=f.time_if_present("capture_time"),
                   sm3=f.digest_if_present("sm3"))


@dataclass(frozen=True, slots=True)
class QuarantinedBody:
    """``quarantined`` at commit (subject: the clip's SHA-256): the file is unusable as received
    (a zero-byte file), and is still stored and ledgered exactly as received."""

    kind: ClassVar[EntryKind] = EntryKind.QUARANTINED
    OPTIONAL_KEYS: ClassVar[frozenset[str]] = frozenset({"name_bytes_hex"})

    device: str
    name_on_device: str
    size: int
    reason: str
    name_bytes_hex: str | None = None

    def to_body(self) -> dict[str, object]:
        return put_if({"device": self.device, "name_on_device": self.name_on_device,
                       "size": self.size, "reason": self.reason},
                      "name_bytes_hex", self.name_bytes_hex)

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(device=f.text("device"), name_on_device=f.text("name_on_device"),
                   size=f.integer("size"), reason=f.text("reason"),
                   name_bytes_hex=f.text_if_present("name_bytes_hex"))


@dataclass(frozen=True, slots=True)
class MediaQuarantinedBody:
    """``quarantined`` by the media stage (subject: the clip's SHA-256): ``step`` (``probe``,
    ``derive``, ``thumbnails`` ...) rejected the stored original, in ffprobe's or ffmpeg's own
    words (``reason``). The original stays stored and ledgered as received."""

    kind: ClassVar[EntryKind] = EntryKind.QUARANTINED

    step: str
    reason: str

    def to_body(self) -> dict[str, object]:
        return {"step": self.step, "reason": self.reason}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(step=f.text("step"), reason=f.text("reason"))


@dataclass(frozen=True, slots=True)
class StoredBody:
    """``stored`` (subject: the clip's SHA-256): the original's exact version in the object
    store, verified (DESIGN.md §3 step 6): size, lock mode and retain-until as the store
    reported them. An object encrypted at rest (docs/adr/0010-sm4-envelope.md) adds
    ``cipher``, ``kek_id``, ``wrapped_key`` (hex) and the stored bytes' ``sealed_sha256`` and
    ``sealed_size``; ``size`` stays the plaintext's."""

    kind: ClassVar[EntryKind] = EntryKind.STORED
    OPTIONAL_KEYS: ClassVar[frozenset[str]] = frozenset({
        "name_bytes_hex", "sm3", "cipher", "kek_id", "wrapped_key", "sealed_sha256",
        "sealed_size"})

    device: str
    name_on_device: str
    store: str
    key: str
    version_id: str
    size: int
    lock_mode: str
    retain_until: datetime
    name_bytes_hex: str | None = None
    sm3: str | None = None
    """SM3 of the stored original (the subject's content), as acquired; absent in entries
    written before the 国密 layer."""
    cipher: str | None = None
    kek_id: str | None = None
    wrapped_key: str | None = None
    sealed_sha256: str | None = None
    sealed_size: int | None = None

    def to_body(self) -> dict[str, object]:
        body = put_if({"device": self.device, "name_on_device": self.name_on_device,
                       "store": self.store, "key": self.key, "version_id": self.version_id,
                       "size": self.size, "lock_mode": self.lock_mode,
                       "retain_until": format_time(self.retain_until)},
                      "name_bytes_hex", self.name_bytes_hex)
        for key in ("sm3", "cipher", "kek_id", "wrapped_key", "sealed_sha256", "sealed_size"):
            put_if(body, key, getattr(self, key))
        return body

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(device=f.text("device"), name_on_device=f.text("name_on_device"),
                   store=f.text("store"), key=f.text("key"), version_id=f.text("version_id"),
                   size=f.integer("size"), lock_mode=f.text("lock_mode"),
                   retain_until=f.time("retain_until"),
                   name_bytes_hex=f.text_if_present("name_bytes_hex"),
                   sm3=f.digest_if_present("sm3"),
                   cipher=f.text_if_present("cipher"), kek_id=f.text_if_present("kek_id"),
                   wrapped_key=f.text_if_present("wrapped_key"),
                   sealed_sha256=f.text_if_present("sealed_sha256"),
                   sealed_size=f.integer("sealed_size") if "sealed_size" in body else None)


@dataclass(frozen=True, slots=True)
class ReleasedBody:
    """``released`` (subject: the clip's SHA-256): the recorder's copy freed (``mode``
    ``delete``), only once every file of that recorder was verified (DESIGN.md §3 step 7)."""

    kind: ClassVar[EntryKind] = EntryKind.RELEASED
    OPTIONAL_KEYS: ClassVar[frozenset[str]] = frozenset({"name_bytes_hex"})

    device: str
    name_on_device: str
    mode: str
    name_bytes_hex: str | None = None

    def to_body(self) -> dict[str, object]:
        return put_if({"device": self.device, "name_on_device": self.name_on_device,
                       "mode": self.mode}, "name_bytes_hex", self.name_bytes_hex)

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(device=f.text("device"), name_on_device=f.text("name_on_device"),
                   mode=f.text("mode"), name_bytes_hex=f.text_if_present("name_bytes_hex"))


@dataclass(frozen=True, slots=True)
class Derivative:
    """One stored derivative in a ``derived`` entry: the playback copy or the proxy (``role``),
    made by ``argv`` (placeholders for host paths), pinned to its object version."""

    parent: str
    role: str
    action: str
    name: str
    sha256: str
    size: int
    argv: tuple[str, ...]
    ffmpeg_version: str
    key: str
    version_id: str
    sm3: str | None = None
    """SM3 of the derivative (GB/T 32905); absent in entries written before the 国密 layer."""
    sealing: Mapping[str, object] | None = None
    """Encrypted at rest: ``cipher``, ``kek_id``, ``wrapped_key``, ``sealed_sha256``,
    ``sealed_size`` as in a ``stored`` entry (absent otherwise)."""

    def to_body(self) -> dict[str, object]:
        body = put_if({"parent": self.parent, "role": self.role, "action": self.action,
                       "name": self.name, "sha256": self.sha256, "size": self.size,
                       "argv": list(self.argv), "ffmpeg_version": self.ffmpeg_version,
                       "key": self.key, "version_id": self.version_id}, "sm3", self.sm3)
        return put_if(body, "sealing", None if self.sealing is None else dict(self.sealing))

    @classmethod
    def read(cls, f: Fields) -> Self:
        return cls(parent=f.text("parent"), role=f.text("role"), action=f.text("action"),
                   name=f.text("name"), sha256=f.text("sha256"), size=f.integer("size"),
                   argv=f.texts("argv"), ffmpeg_version=f.text("ffmpeg_version"),
                   key=f.text("key"), version_id=f.text("version_id"),
                   sm3=f.digest_if_present("sm3"),
                   sealing=f.obj_if_present("sealing"))


@dataclass(frozen=True, slots=True)
class DerivedBody:
    """``derived`` (subject and ``parent``: the original's SHA-256): the media stage's result
    (DESIGN.md §3 step 4). ``probe`` (ffprobe facts), ``plan`` and ``thumbnails`` are kept as
    the media stage writes them (ingest/media); ``probe.duration_ms`` is an integer or null."""

    kind: ClassVar[EntryKind] = EntryKind.DERIVED

    parent: str
    probe: JsonObject
    plan: JsonObject
    ffmpeg_version: str
    derivatives: tuple[Derivative, ...]
    streamhash: Mapping[str, str]
    """The lossless-remux proof: ``-f streamhash`` of the copied streams, by stream."""
    thumbnails: JsonObject | None
    """Positions asked and delivered, and the stored thumbnails (null for audio)."""

    @property
    def duration_ms(self) -> int | None:
        value = self.probe.get("duration_ms")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def to_body(self) -> dict[str, object]:
        return {"parent": self.parent, "probe": self.probe, "plan": self.plan,
                "ffmpeg_version": self.ffmpeg_version,
                "derivatives": [d.to_body() for d in self.derivatives],
                "streamhash": self.streamhash, "thumbnails": self.thumbnails}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        f.nested("probe").optional_integer("duration_ms")
        return cls(parent=f.text("parent"), probe=f.obj("probe"), plan=f.obj("plan"),
                   ffmpeg_version=f.text("ffmpeg_version"),
                   derivatives=tuple(Derivative.read(d) for d in f.objects("derivatives")),
                   streamhash=f.text_map("streamhash"), thumbnails=f.optional_obj("thumbnails"))


@dataclass(frozen=True, slots=True)
class DeviceRegisteredBody:
    """``device_registered`` (subject: the recorder's serial): who the recorder is assigned to
    from now on, and who it was before (null for a new recorder)."""

    kind: ClassVar[EntryKind] = EntryKind.DEVICE_REGISTERED

    id_code: str
    officer: str
    officer_name: str
    unit_no: str
    unit_name: str
    previous_officer: str | None

    def to_body(self) -> dict[str, object]:
        return {"id_code": self.id_code, "officer": self.officer,
                "officer_name": self.officer_name, "unit_no": self.unit_no,
                "unit_name": self.unit_name, "previous_officer": self.previous_officer}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(id_code=f.text("id_code"), officer=f.text("officer"),
                   officer_name=f.text("officer_name"), unit_no=f.text("unit_no"),
                   unit_name=f.text("unit_name"),
                   previous_officer=f.optional_text("previous_officer"))


@dataclass(frozen=True, slots=True)
class ClockObservedBody:
    """``clock_observed`` (subject: the recorder's serial): its clock read *before* syncing
    (DESIGN.md §6), the station's time then, the offset and whether it was synced."""

    kind: ClassVar[EntryKind] = EntryKind.CLOCK_OBSERVED

    device_time: datetime
    station_time: datetime
    offset_ms: int
    synced: bool

    def to_body(self) -> dict[str, object]:
        return {"device_time": format_time(self.device_time),
                "station_time": format_time(self.station_time), "offset_ms": self.offset_ms,
                "synced": self.synced}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(device_time=f.time("device_time"), station_time=f.time("station_time"),
                   offset_ms=f.integer("offset_ms"), synced=f.flag("synced"))


@dataclass(frozen=True, slots=True)
class CopyReleasedBody:
    """``copy_released`` (subject: the clip's SHA-256), on a station: the local copy recorded by
    the station's ``stored`` entry ``index`` was released (removed from the station's store)
    ``keep_days`` after the bureau's receipt for it (docs/station.md §Sync): the bureau holds
    ``size`` bytes with these ``sha256`` and ``sm3`` (the stored bytes', sealed when encrypted at
    rest), matching the entry, received at ``received_at`` (the station's clock)."""

    kind: ClassVar[EntryKind] = EntryKind.COPY_RELEASED
    OPTIONAL_KEYS: ClassVar[frozenset[str]] = frozenset()

    index: int
    store: str
    key: str
    version_id: str
    size: int
    sha256: str
    sm3: str
    received_at: datetime
    keep_days: int

    def to_body(self) -> dict[str, object]:
        return {"index": self.index, "store": self.store, "key": self.key,
                "version_id": self.version_id, "size": self.size, "sha256": self.sha256,
                "sm3": self.sm3, "received_at": format_time(self.received_at),
                "keep_days": self.keep_days}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(index=f.integer("index"), store=f.text("store"), key=f.text("key"),
                   version_id=f.text("version_id"), size=f.integer("size"),
                   sha256=f.text("sha256"), sm3=f.text("sm3"),
                   received_at=f.time("received_at"), keep_days=f.integer("keep_days"))
