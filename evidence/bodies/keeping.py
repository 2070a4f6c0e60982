"""Bodies of the entries the scheduled jobs write: retention, legal holds, disposal and fixity
(docs/jobs.md; docs/ledger-format.md §1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Self

from evidence.bodies.fields import Fields, put_if
from evidence.ledgertime import format_time
from evidence.records import EntryKind


@dataclass(frozen=True, slots=True)
class RetentionSetBody:
    """``retention_set`` (subject: the clip's SHA-256): the clip's retention class and the date
    its stored versions are now locked until."""

    kind: ClassVar[EntryKind] = EntryKind.RETENTION_SET

    retention_class: str
    """Written as ``class``."""
    retain_until: datetime
    reason: str
    permanent: bool

    def to_body(self) -> dict[str, object]:
        return {"class": self.retention_class, "retain_until": format_time(self.retain_until),
                "reason": self.reason, "permanent": self.permanent}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(retention_class=f.text("class"), retain_until=f.time("retain_until"),
                   reason=f.text("reason"), permanent=f.flag("permanent"))


@dataclass(frozen=True, slots=True)
class LegalHoldBody:
    """``legal_hold`` (subject: the clip's SHA-256): a hold put on (``on``) or lifted."""

    kind: ClassVar[EntryKind] = EntryKind.LEGAL_HOLD

    on: bool
    reason: str

    def to_body(self) -> dict[str, object]:
        return {"on": self.on, "reason": self.reason}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(on=f.flag("on"), reason=f.text("reason"))


@dataclass(frozen=True, slots=True)
class DisposedObject:
    """One stored version a disposal covers."""

    role: str
    key: str
    version_id: str

    def to_body(self) -> dict[str, object]:
        return {"role": self.role, "key": self.key, "version_id": self.version_id}

    @classmethod
    def read(cls, f: Fields) -> Self:
        return cls(role=f.text("role"), key=f.text("key"), version_id=f.text("version_id"))


@dataclass(frozen=True, slots=True)
class DisposedBody:
    """``disposed`` (subject: the clip's SHA-256): the signed disposal certificate (its path in
    the data dir and SHA-256), why, under which policy, and what becomes of the bytes."""

    kind: ClassVar[EntryKind] = EntryKind.DISPOSED

    certificate: str
    certificate_sha256: str
    reason: str
    retention_class: str
    """Written as ``class``."""
    retain_until: datetime | None
    policy: str
    policy_sha256: str
    objects: tuple[DisposedObject, ...]
    bytes_fate: str
    """Written as ``bytes``: ``kept-until-lock-expiry``."""

    def to_body(self) -> dict[str, object]:
        return {"certificate": self.certificate, "certificate_sha256": self.certificate_sha256,
                "reason": self.reason, "class": self.retention_class,
                "retain_until": (None if self.retain_until is None
                                 else format_time(self.retain_until)),
                "policy": self.policy, "policy_sha256": self.policy_sha256,
                "objects": [o.to_body() for o in self.objects], "bytes": self.bytes_fate}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(certificate=f.text("certificate"),
                   certificate_sha256=f.text("certificate_sha256"), reason=f.text("reason"),
                   retention_class=f.text("class"), retain_until=f.optional_time("retain_until"),
                   policy=f.text("policy"), policy_sha256=f.text("policy_sha256"),
                   objects=tuple(DisposedObject.read(o) for o in f.objects("objects")),
                   bytes_fate=f.text("bytes"))


@dataclass(frozen=True, slots=True)
class FixityCheckedBody:
    """``fixity_checked`` for one stored version (subject: its clip's SHA-256): ``check``
    (``rehash`` or ``head``) and the sampling periods it covers; ``finding`` when not ``ok``."""

    kind: ClassVar[EntryKind] = EntryKind.FIXITY_CHECKED
    OPTIONAL_KEYS: ClassVar[frozenset[str]] = frozenset({"finding"})

    check: str
    role: str
    store: str
    key: str
    version_id: str
    periods: tuple[int, ...]
    period_days: int
    ok: bool
    finding: str | None = None

    def to_body(self) -> dict[str, object]:
        return put_if({"check": self.check, "role": self.role, "store": self.store,
                       "key": self.key, "version_id": self.version_id,
                       "periods": list(self.periods), "period_days": self.period_days,
                       "ok": self.ok}, "finding", self.finding)

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(check=f.text("check"), role=f.text("role"), store=f.text("store"),
                   key=f.text("key"), version_id=f.text("version_id"),
                   periods=f.integers("periods"), period_days=f.integer("period_days"),
                   ok=f.flag("ok"), finding=f.text_if_present("finding"))


@dataclass(frozen=True, slots=True)
class InventoryFindingBody:
    """``fixity_checked`` with ``check`` ``inventory`` (subject: the clip's SHA-256, or the key
    when no clip has it): the store lists what the ledger does not say (never ``ok``)."""

    kind: ClassVar[EntryKind] = EntryKind.FIXITY_CHECKED

    key: str
    store: str
    finding: str

    def to_body(self) -> dict[str, object]:
        return {"check": "inventory", "key": self.key, "store": self.store, "ok": False,
                "finding": self.finding}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        f.expect("check", "inventory")
        f.expect("ok", False)
        return cls(key=f.text("key"), store=f.text("store"), finding=f.text("finding"))


@dataclass(frozen=True, slots=True)
class FixityRunBody:
    """``fixity_checked`` summing up one run (subject ``fixity-run``): the next sampled run
    starts at ``window_end``. ``decrypted``: how many checked objects were also decrypted and
    their plaintext re-hashed against the ledger (``FixityPolicy.decrypt``); absent when the
    run decrypted none by policy (and in runs from before the option)."""

    kind: ClassVar[EntryKind] = EntryKind.FIXITY_CHECKED
    OPTIONAL_KEYS: ClassVar[frozenset[str]] = frozenset({"decrypted"})

    mode: str
    """``full`` or ``sample``."""
    period_days: int
    window_start: datetime
    window_end: datetime
    store: str
    objects: int
    checked: int
    failed: int
    rehash: bool
    inventory_versions: int
    inventory_findings: int
    untracked_keys: int
    ok: bool
    decrypted: int | None = None

    def to_body(self) -> dict[str, object]:
        body: dict[str, object] = {
            "mode": self.mode, "period_days": self.period_days,
            "window_start": format_time(self.window_start),
            "window_end": format_time(self.window_end), "store": self.store,
            "objects": self.objects, "checked": self.checked, "failed": self.failed,
            "rehash": self.rehash, "inventory_versions": self.inventory_versions,
            "inventory_findings": self.inventory_findings,
            "untracked_keys": self.untracked_keys, "ok": self.ok}
        return put_if(body, "decrypted", self.decrypted)

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(mode=f.text("mode"), period_days=f.integer("period_days"),
                   window_start=f.time("window_start"), window_end=f.time("window_end"),
                   store=f.text("store"), objects=f.integer("objects"),
                   checked=f.integer("checked"), failed=f.integer("failed"),
                   rehash=f.flag("rehash"), inventory_versions=f.integer("inventory_versions"),
                   inventory_findings=f.integer("inventory_findings"),
                   untracked_keys=f.integer("untracked_keys"), ok=f.flag("ok"),
                   decrypted=f.integer_if_present("decrypted"))
