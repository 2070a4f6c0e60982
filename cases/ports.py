"""The interfaces case work owns (STYLE.md §2): the read model (storage/catalogue.py), the
casework lock (storage/casework_lock.py) and the retention a link gives its clip
(jobs/retention.py), all chosen by api/compose.py."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from evidence.records import Case, Clip, ClipQuery, Link, OfficerDevice
from evidence.steps import StepKind


class CaseCatalogue(Protocol):
    """What case work reads from the catalogue folded from the ledger."""

    def case(self, case_id: str) -> Case: ...

    def cases(self, *, limit: int = 100, offset: int = 0, after: str | None = None,
              before: str | None = None) -> list[Case]: ...

    def count_cases(self) -> int: ...

    def case_ids(self) -> list[str]: ...

    def cases_of(self, officer_no: str) -> list[str]: ...

    def officer_devices(self, officer_no: str) -> list[OfficerDevice]: ...

    def captured_since(self, officer_no: str, since: datetime) -> list[datetime]: ...

    def step_kinds(self) -> list[StepKind]: ...

    def step_kind(self, code: str) -> StepKind: ...

    def clip(self, sha256: str) -> Clip: ...

    def clips(self, query: ClipQuery) -> list[Clip]: ...

    def count_clips(self, query: ClipQuery) -> int: ...

    def links(self, *, sha256: str | None = None, case_id: str | None = None,
              current_only: bool = False) -> list[Link]: ...


class CaseLock(Protocol):
    """Case changes one at a time per database, across threads and processes."""

    def hold(self) -> AbstractContextManager[None]: ...


class LinkRetention(Protocol):
    """Keeps a clip for as long as a case needs it, before it is linked to the case."""

    def keep_for_case(self, clip: Clip, *, case_id: str, step_id: str, actor: str) -> None: ...


class OfficerUnits(Protocol):
    """The unit of a person's account, None when the 警号 has no account (storage/accounts.py,
    through access)."""

    def unit_of(self, officer_no: str) -> str | None: ...
