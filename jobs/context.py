"""What a scheduled job is handed (STYLE.md §2): the ledger writer, the store, the catalogue,
a clock and the policies, built once by ``api/compose.py`` (``open_jobs``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evidence.records import Checkpoint
from ingest.ports import BlobStore
from jobs.ports import JobCatalogue, JobLedger, JobProgress, NoProgress
from jobs.retention import RetentionContext, RetentionPolicy
from ledger.appending import LedgerWriter
from ledger.ports import AnchorStore, Clock, Signer, TimestampAuthority


@dataclass(frozen=True, slots=True)
class FixityPolicy:
    period_days: int = 30
    """The rolling sample covers every stored object once per period (docs/jobs.md §Fixity)."""
    rehash: bool = True
    """Read every checked object back and recompute SHA-256 (else HEAD/stat only)."""
    decrypt: int = 0
    """Of each run's checked objects, also decrypt this many (-1: all) and re-hash their
    plaintext against the ledger (``liuhen fixity --decrypt`` on a schedule; objects encrypted
    at rest, DESIGN.md §5). The sample is the first by SHA-256 of the key among the run's
    due objects, so it moves with the rolling sample."""


@dataclass
class Anchoring:
    """Checkpoint publication and the TSAs that timestamp checkpoints (DESIGN.md §4)."""

    store: AnchorStore
    publish: Callable[[], Checkpoint | None]
    """Sign and store a checkpoint over the current head if it grew; None if it did not."""
    tsas: Sequence[TimestampAuthority]
    tsa_roots: Sequence[bytes]


@dataclass
class JobContext:
    writer: LedgerWriter
    """Entries are stamped by this writer's clock: the same ``clock`` as below."""
    blobs: BlobStore
    catalogue: JobCatalogue
    ledger: JobLedger
    clock: Clock
    policy: RetentionPolicy
    signers: Sequence[Signer]
    """The station's keys (one per algorithm): sign disposal certificates."""
    origin: str
    data_dir: Path
    """Certificates go to ``DATA/disposals``, reports to ``DATA/reports``."""
    fixity: FixityPolicy = field(default_factory=FixityPolicy)
    anchoring: Anchoring | None = None
    progress: JobProgress = field(default_factory=NoProgress)

    @property
    def retention(self) -> RetentionContext:
        return RetentionContext(writer=self.writer, blobs=self.blobs, catalogue=self.catalogue,
                                clock=self.clock, policy=self.policy)


