"""Bodies of the entries the ledger service writes about itself: key rotations and timestamp
anchors (docs/ledger-format.md §5, §6)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Self

from evidence.bodies.fields import Fields
from evidence.records import EntryKind


@dataclass(frozen=True, slots=True)
class KeyRotatedBody:
    """``key_rotated`` (subject: the new key's id): a planned rotation of the ``role`` key;
    ``old`` and ``new`` are signed-note verifier keys."""

    kind: ClassVar[EntryKind] = EntryKind.KEY_ROTATED

    role: str
    old: str
    new: str

    def to_body(self) -> dict[str, object]:
        return {"role": self.role, "old": self.old, "new": self.new}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(role=f.text("role"), old=f.text("old"), new=f.text("new"))


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
