"""Which clips a caller may see (DESIGN.md §8; docs/access.md §Scope).

- admin (管理员): every clip.
- leader (领导): clips recorded by officers of their unit's subtree; also clips of officers with
  no account whose recorder wrote a unit code in that subtree.
- auditor (法制): clips of the subtree they are assigned (``audit_unit``, else their unit).
- officer (民警): clips recorded by officers of their own unit.
- everyone: clips linked to a case they work on (主办/协办).
- a live grant (调阅审批, access/approvals.py): its clips, or the clips of its case, until it
  expires (``ClipScope.granted_clips``/``granted_cases``; ``base`` leaves them out).
A person with several roles sees the union. Anything else is refused exactly as a clip that
does not exist is (NotFoundError with the catalogue's own message): no 403-vs-404 difference,
and searches, lists and counts only ever run with the scope in their query.

A clip belongs to the unit of the account of the officer (警号) recorded at acquisition
(``Clip.officer``), not to the unit code the recorder wrote (it may be stale or wrong).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from access.accounts import subtree_of
from access.ports import AccountRepo
from cases.casework import CaseEditor
from evidence.errors import NotFoundError
from evidence.records import Account, Clip, ClipQuery, ClipScope, Link
from ledger.readmodel import Freshness


class ScopeCatalogue(Protocol):
    def clip(self, sha256: str) -> Clip: ...

    def links(self, *, sha256: str | None = None, case_id: str | None = None,
              current_only: bool = False) -> list[Link]: ...

    def cases_of(self, officer_no: str) -> list[str]: ...


def not_found(sha256: str) -> NotFoundError:
    """The answer for a clip out of scope: the very one for a clip that does not exist."""
    return NotFoundError(f"未找到视频 {sha256} (no clip with SHA-256 {sha256})")


@dataclass
class Scopes:
    accounts: AccountRepo
    catalogue: ScopeCatalogue
    fresh: Freshness | None = None
    """Keeps the catalogue caught up with the ledger before a clip is looked up."""

    def _children(self) -> dict[str | None, list[str]]:
        children: dict[str | None, list[str]] = {}
        for unit in self.accounts.units():
            children.setdefault(unit.parent, []).append(unit.code)
        return children

    def for_unit(self, code: str) -> ClipScope:
        """A token scoped to a unit: that unit's subtree, orphans included."""
        units = subtree_of(code, self._children())
        return ClipScope(units=units, orphan_units=units)

    def for_account(self, account: Account) -> ClipScope:
        if "admin" in account.roles:
            return ClipScope(everything=True)
        children = self._children()
        units: set[str] = set()
        orphans: set[str] = set()
        if "officer" in account.roles:
            units.add(account.unit)
        if "leader" in account.roles:
            tree = subtree_of(account.unit, children)
            units |= tree
            orphans |= tree
        if "auditor" in account.roles:
            units |= subtree_of(account.audit_unit or account.unit, children)
        return ClipScope(units=frozenset(units), orphan_units=frozenset(orphans),
                         cases=frozenset(self.catalogue.cases_of(account.officer_no)))

    def admits(self, scope: ClipScope, clip: Clip) -> bool:
        if scope.everything:
            return True
        try:
            unit: str | None = self.accounts.account(clip.officer).unit
        except NotFoundError:
            unit = None
        if unit is not None and unit in scope.units:
            return True
        if unit is None and clip.unit_no in scope.orphan_units:
            return True
        if clip.sha256 in scope.granted_clips:
            return True
        cases = scope.cases | scope.granted_cases
        return bool(cases) and any(
            lk.case_id in cases
            for lk in self.catalogue.links(sha256=clip.sha256, current_only=True))

    def clip(self, scope: ClipScope, sha256: str) -> Clip:
        """The clip when it is in ``scope``; NotFoundError alike when it is not or does not
        exist."""
        if self.fresh is not None:
            self.fresh.refresh()
        try:
            clip = self.catalogue.clip(sha256)
        except NotFoundError:
            raise not_found(sha256) from None
        if not self.admits(scope, clip):
            raise not_found(sha256)
        return clip

    def visible(self, scope: ClipScope, sha256: str) -> bool:
        try:
            self.clip(scope, sha256)
        except NotFoundError:
            return False
        return True

    @staticmethod
    def base(scope: ClipScope) -> ClipScope:
        """``scope`` without its grants: what the caller sees by role, unit and cases."""
        return replace(scope, granted_clips=frozenset(), granted_cases=frozenset())

    @staticmethod
    def query(scope: ClipScope, query: ClipQuery) -> ClipQuery:
        return replace(query, scope=scope)

    def editor(self, account: Account | None, *, name: str, everything: bool
               ) -> CaseEditor | None:
        """Who changes a case, for cases/casework.py: a person by their account (admin: any
        case; leader: their subtree's officers' cases); a token with no account and scope
        ``all`` is automation (None: not limited, docs/access.md §Tokens)."""
        if account is None:
            return None if everything else CaseEditor(name=name)
        leads = (subtree_of(account.unit, self._children()) if "leader" in account.roles
                 else frozenset())
        return CaseEditor(name=account.officer_no, admin="admin" in account.roles, leads=leads)
