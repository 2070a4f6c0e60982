"""An in-memory ledger built with the pure core only, for unit tests of the audit and bundles.

It mirrors what storage/ledger_store.py persists (rows, commits, checkpoints) without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from evidence.ids import Origin, StationId
from evidence.records import Entry, EntryKind, LedgerEntry, TreeHead
from integrity.audit import StoredCheckpoint, StoredCommit
from integrity.entry import encode_entry
from integrity.merkle import SM3, TreeBuilder, leaf_hash
from integrity.notes import Signer, commit_text, sign_checkpoint, sign_note

ORIGIN = Origin("liuhen.test-bureau/ledger/v1")
T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def sample_entry(i: int, *, prev: TreeHead | None = None) -> bytes:
    return encode_entry(Entry(
        kind=EntryKind.ACQUIRED, subject=f"{i:064x}", station=StationId("station-01"),
        actor="警号000123", at=T0 + timedelta(seconds=i), prev_checkpoint=prev,
        body={"size": 1000 + i, "device": "ZFY00042", "name": f"DCIM/100MEDIA/{i:04d}.MP4"}))


@dataclass
class MemLedger:
    station: Signer
    log: Signer
    origin: Origin = ORIGIN
    rows: list[LedgerEntry] = field(default_factory=list)
    commits: list[StoredCommit] = field(default_factory=list)
    checkpoints: list[StoredCheckpoint] = field(default_factory=list)
    _tree: TreeBuilder = field(default_factory=TreeBuilder)
    _sm3: TreeBuilder = field(default_factory=lambda: TreeBuilder(tree_hash=SM3))

    def append(self, datas: list[bytes], *, signer: Signer | None = None) -> None:
        first = self._tree.size
        for data in datas:
            h = leaf_hash(data)
            self.rows.append(LedgerEntry(index=self._tree.size, data=data, leaf_hash=h))
            self._tree.append(h)
            self._sm3.append_entry(data)
        head = TreeHead(self._tree.size, self._tree.root())
        note = sign_note(commit_text(self.origin, first, head), [signer or self.station])
        self.commits.append(StoredCommit(first=first, size=head.size, note=note))

    def checkpoint(self, *signers: Signer) -> StoredCheckpoint:
        head = TreeHead(self._tree.size, self._tree.root())
        cp = sign_checkpoint(self.origin, head, list(signers) or [self.log], sm3=self.sm3_head())
        stored = StoredCheckpoint(size=head.size, note=cp.note)
        self.checkpoints.append(stored)
        return stored

    def head(self) -> TreeHead:
        return TreeHead(self._tree.size, self._tree.root())

    def sm3_head(self) -> TreeHead:
        return TreeHead(self._sm3.size, self._sm3.root())
