"""Bodies of the entries the ledger service writes about itself: key rotations and timestamp
anchors (docs/ledger-format.md §5, §6)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Self

from evidence.bodies.fields import Fields, put_if
from evidence.records import EntryKind


@dataclass(frozen=True, slots=True)
class KeyRotatedBody:
    """``key_rotated`` (subject: the new key's id): a planned rotation of the ``role`` key;
    ``old`` and ``new`` are signed-note verifier keys. For role ``kek`` (encryption at rest,
    docs/adr/0010-sm4-envelope.md) they are KEK ids, and ``objects`` data keys were re-wrapped
    under the new KEK; ``rewrapped_sha256`` commits to the new wrappings (ledger/kekrotation.py).
    """

    kind: ClassVar[EntryKind] = EntryKind.KEY_ROTATED
    OPTIONAL_KEYS: ClassVar[frozenset[str]] = frozenset({"objects", "rewrapped_sha256"})

    role: str
    old: str
    new: str
    objects: int | None = None
    rewrapped_sha256: str | None = None

    def to_body(self) -> dict[str, object]:
        return put_if(put_if({"role": self.role, "old": self.old, "new": self.new},
                             "objects", self.objects), "rewrapped_sha256", self.rewrapped_sha256)

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(role=f.text("role"), old=f.text("old"), new=f.text("new"),
                   objects=f.integer("objects") if "objects" in body else None,
                   rewrapped_sha256=f.text_if_present("rewrapped_sha256"))


@dataclass(frozen=True, slots=True)
class AnchoredBody:
    """``anchored`` (subject: the checkpoint's root, hex): an RFC 3161 token over checkpoint
    ``checkpoint_size`` from ``tsa``, pinned by the SHA-256 of the whole response.
    ``gen_time`` is the token's time as the TSA gave it (ISO 8601, not a ledger time)."""

    kind: ClassVar[EntryKind] = EntryKind.ANCHORED

    checkpoint_size: int
    tsa: str
    token_sha256: str
    gen_time: str
    tsa_serial: str

    def to_body(self) -> dict[str, object]:
        return {"checkpoint_size": self.checkpoint_size, "tsa": self.tsa,
                "token_sha256": self.token_sha256, "gen_time": self.gen_time,
                "tsa_serial": self.tsa_serial}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(checkpoint_size=f.integer("checkpoint_size"), tsa=f.text("tsa"),
                   token_sha256=f.text("token_sha256"), gen_time=f.text("gen_time"),
                   tsa_serial=f.text("tsa_serial"))
