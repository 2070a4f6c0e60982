"""What the station's use cases share: the station's policy, the context they run in (ledger
writer, ingest state, object store, staging, clock, progress), and the once-only append that
makes each ledger entry survive a crash between append and save (DESIGN.md §3)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from evidence.bodies import EntryBody
from evidence.errors import ConflictError
from evidence.identity import DEFAULT_OFFICER_NO_PATTERN
from evidence.ids import Sha256Hex, StationId
from evidence.records import FileRow, Receipt
from ingest.ports import BlobStore, IngestRepo, LedgerLookup, Progress
from integrity.entry import decode_entry
from ledger.appending import LedgerWriter
from ledger.ports import Clock


@dataclass(frozen=True, slots=True)
class StationPolicy:
    retention_days: int = 180
    """Object retention for originals not yet linked to a case (≥ 6 months by default)."""
    release: str = "mark"
    """``mark``: record files as offloaded and delete nothing (default); ``delete``: free the
    recorder's space once every file is verified, each deletion ledgered."""
    officer_no_pattern: str = DEFAULT_OFFICER_NO_PATTERN
    """The bureau's 警号 pattern: a recorder assigned to anything else is refused (and keeps
    its files) until it is assigned to a 警号 in the canonical form (evidence/identity.py)."""


@dataclass
class IngestContext:
    station: StationId
    writer: LedgerWriter
    ledger: LedgerLookup
    repo: IngestRepo
    blobs: BlobStore
    staging: Path
    clock: Clock
    progress: Progress
    policy: StationPolicy = field(default_factory=StationPolicy)


def display_name(row: FileRow) -> tuple[str, str | None]:
    """A device file name as the ledger keeps it (``name_on_device``, ``name_bytes_hex``): its
    text, and its bytes as the device stores them when they are not that text's UTF-8 (a GBK
    name, say), so nothing about it is lost."""
    text = row.path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if row.raw_path in (b"", text.encode()):
        return text, None
    return text, row.raw_path.hex()


def record_once(ctx: IngestContext, body: EntryBody, subject: str, *, match: Collection[str],
                actor: str) -> int:
    """Append ``body`` unless an entry of its kind and subject with the same ``match`` fields
    (those of them the body has) exists already (the crash-between-append-and-save window);
    returns its ledger index either way."""
    written = body.to_body()
    same = {k: written[k] for k in match if k in written}
    for row in ctx.ledger.find(subject):
        entry = decode_entry(row.data)
        if entry.kind == body.kind and all(entry.body.get(k) == v for k, v in same.items()):
            return row.index
    receipt: Receipt = ctx.writer.append(body, subject=subject, actor=actor)
    return receipt.index


FILE_MATCH = ("device", "name_on_device", "name_bytes_hex", "size")
"""The fields that tell one file of a recorder from another in ``acquired`` and
``quarantined`` entries (a content may come from several files)."""


def sha_of(row: FileRow) -> Sha256Hex:
    if row.sha256 is None:
        raise ConflictError(f"{row.path}: state {row.state} without a hash (corrupt ingest row)")
    return row.sha256
