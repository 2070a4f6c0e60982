"""Bodies of the entries account management writes (DESIGN.md §8; docs/access.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Self

from evidence.bodies.fields import Fields
from evidence.records import EntryKind

ACCOUNT_CHANGES = ("unit_added", "user_added", "user_disabled", "user_enabled",
                   "roles_changed", "password_set", "sessions_revoked")
"""What an ``account_changed`` entry records."""


@dataclass(frozen=True, slots=True)
class AccountChangedBody:
    """``account_changed`` (subject: a 警号, or a unit code for ``unit_added``; actor: who
    made the change). ``name``, ``unit`` and ``roles`` are the account as it stands after the
    change (for a unit: its name, its parent's code or ``""``, and no roles)."""

    kind: ClassVar[EntryKind] = EntryKind.ACCOUNT_CHANGED

    change: str
    name: str
    unit: str
    roles: tuple[str, ...]

    def to_body(self) -> dict[str, object]:
        return {"change": self.change, "name": self.name, "unit": self.unit,
                "roles": list(self.roles)}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        change = f.text("change")
        if change not in ACCOUNT_CHANGES:
            raise f.error("change", f"不是已知的变更 {change!r}",
                          f"is not a known change {change!r}")
        return cls(change=change, name=f.text("name"), unit=f.text("unit"),
                   roles=f.texts("roles"))
