"""The interfaces the scheduled jobs own (STYLE.md §2), and what every job returns.

``storage``'s catalogue, ledger store and job leases satisfy these; only ``api/compose.py`` names
the concrete classes. Every job is handed a ``Clock`` and never reads the time itself, so tests
move time across retention boundaries (docs/jobs.md).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from evidence.records import Case, Clip, LedgerEntry, Link, TreeHead
from evidence.steps import StepKind


class JobCatalogue(Protocol):
    """The catalogue reads the jobs use (storage.catalogue.SqlCatalogue)."""

    def clip(self, sha256: str) -> Clip: ...

    def links(self, *, sha256: str | None = None, case_id: str | None = None,
              current_only: bool = False) -> list[Link]: ...

    def catch_up(self) -> int: ...

    def all_clips(self) -> list[Clip]: ...

    def retention_due(self, *, permanent: Collection[str], renew_before: datetime,
                      after: int = -1, limit: int = 1000) -> list[Clip]: ...

    def disposal_due(self, now: datetime, *, after: int = -1, limit: int = 1000) -> list[Clip]: ...

    def cases(self, *, limit: int = 100, offset: int = 0) -> list[Case]: ...

    def step_kinds(self) -> list[StepKind]: ...


class JobLedger(Protocol):
    """Ledger reads: the head (a certificate names the tree size it was signed at) and entries
    by subject (the fixity job finds its previous run)."""

    def head(self) -> TreeHead: ...

    def find(self, subject: str) -> list[LedgerEntry]: ...


class JobProgress(Protocol):
    """Progress of a long run; the CLI prints it, the scheduler logs it."""

    def progress(self, job: str, done: int, total: int, note: str = "") -> None: ...


class NoProgress:
    def progress(self, job: str, done: int, total: int, note: str = "") -> None:
        del job, done, total, note


class FindingKind:
    FIXITY = "fixity"
    """An object is not what the ledger says (changed, replaced, deleted, overlaid)."""
    REFUSED = "refused"
    """A disposal (or other policy step) was refused; the reason says why."""
    UNAVAILABLE = "unavailable"
    """A dependency was down (a TSA, the store): retry later."""


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    """One of ``FindingKind``."""
    subject: str
    """A clip's SHA-256, an object key or a TSA name."""
    detail: str


@dataclass
class JobOutcome:
    """What one run did: summary lines for the operator, findings that need someone to act (a
    non-zero exit and ERROR log lines), and files written (certificates, reports)."""

    job: str
    summary: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings
