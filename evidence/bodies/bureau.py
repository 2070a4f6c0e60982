"""Bodies of the entries a bureau writes about its stations (DESIGN.md §4 "Stations and the
bureau"; docs/adr/0014-two-level-log.md): a station joined, and a station checkpoint accepted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Self

from evidence.bodies.fields import Fields
from evidence.records import EntryKind


@dataclass(frozen=True, slots=True)
class StationRegisteredBody:
    """``station_registered`` (subject: the station id; actor: the approving admin): the bureau
    accepts the station's log ``origin`` and its public keys (signed-note verifier keys, log and
    station roles, Ed25519 and SM2), valid from tree size ``valid_from`` of the station's log."""

    kind: ClassVar[EntryKind] = EntryKind.STATION_REGISTERED
    OPTIONAL_KEYS: ClassVar[frozenset[str]] = frozenset()

    origin: str
    log_keys: tuple[str, ...]
    station_keys: tuple[str, ...]

    def to_body(self) -> dict[str, object]:
        return {"origin": self.origin, "log_keys": list(self.log_keys),
                "station_keys": list(self.station_keys)}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(origin=f.text("origin"), log_keys=f.texts("log_keys"),
                   station_keys=f.texts("station_keys"))


@dataclass(frozen=True, slots=True)
class StationCheckpointBody:
    """``station_checkpoint`` (subject: the station id): the bureau verified a checkpoint of the
    station's log (signature by its registered log keys, consistency with the last one it
    accepted) and holds entries ``[0, size)``. ``root``/``sm3_root`` are hex; ``note_sha256``
    is the SHA-256 of the whole signed note, kept verbatim by the bureau. A clip's proof is its
    inclusion in the station's log at ``size`` plus this entry's inclusion in the bureau's."""

    kind: ClassVar[EntryKind] = EntryKind.STATION_CHECKPOINT
    OPTIONAL_KEYS: ClassVar[frozenset[str]] = frozenset({"sm3_root"})

    origin: str
    size: int
    root: str
    note_sha256: str
    sm3_root: str | None = None

    def to_body(self) -> dict[str, object]:
        body: dict[str, object] = {"origin": self.origin, "size": self.size, "root": self.root,
                                   "note_sha256": self.note_sha256}
        if self.sm3_root is not None:
            body["sm3_root"] = self.sm3_root
        return body

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(origin=f.text("origin"), size=f.integer("size"), root=f.text("root"),
                   note_sha256=f.text("note_sha256"), sm3_root=f.text_if_present("sm3_root"))
