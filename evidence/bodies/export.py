"""Body of the ``exported`` entry: a 移送 package left the bureau (docs/export.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Self

from evidence.bodies.fields import Fields
from evidence.records import EntryKind


@dataclass(frozen=True, slots=True)
class ExportedBody:
    """``exported`` (subject: the SHA-256 of the package's ``manifest.json``, which names every
    file of the package by its SHA-256; actor: who exported). ``case`` is the case id or empty
    for a clip selection; ``items`` the originals' SHA-256 in the package's order; ``variant``
    ``original`` or ``playback``; ``recipient`` the 接收单位, ``purpose`` why; ``approval`` the
    approval request's index when one was needed, else null."""

    kind: ClassVar[EntryKind] = EntryKind.EXPORTED

    case: str
    items: tuple[str, ...]
    variant: str
    recipient: str
    purpose: str
    approval: int | None

    def to_body(self) -> dict[str, object]:
        return {"case": self.case, "items": list(self.items), "variant": self.variant,
                "recipient": self.recipient, "purpose": self.purpose, "approval": self.approval}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        variant = f.text("variant")
        if variant not in ("original", "playback"):
            raise f.error("variant", f"应为 original 或 playback，实为 {variant!r}",
                          f"must be original or playback, not {variant!r}")
        return cls(case=f.text("case"), items=f.texts("items"), variant=variant,
                   recipient=f.text("recipient"), purpose=f.text("purpose"),
                   approval=f.optional_integer("approval"))
