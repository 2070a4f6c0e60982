"""Proofs for auditors and the API: what the ledger says about a clip, RFC 9162 inclusion and
consistency proofs, checkpoints, and the offline proof bundle (docs/verification.md part B).

Proofs are computed from the stored leaf hashes (``LedgerReader``); checking them is the pure
core's job (``integrity.merkle``, ``integrity.bundle``), which the pages call too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from evidence.errors import NotFoundError, PolicyViolationError
from evidence.ids import is_sha256_hex
from evidence.records import Checkpoint, Clip, EntryKind, LedgerEntry
from integrity import merkle
from integrity.bundle import TlogProof, make_bundle
from integrity.entry import decode_entry
from integrity.trust import TrustRoot
from ledger.ports import LedgerReader
from ledger.tiles import TileProofs


@dataclass(frozen=True, slots=True)
class ProvenEntry:
    """One ledger entry about a subject, with its inclusion proof under a checkpoint (or None
    when no published checkpoint covers it yet)."""

    index: int
    kind: str
    at: datetime
    actor: str
    station: str
    data: bytes
    leaf_hash: bytes
    proof: tuple[bytes, ...] | None
    sm3_proof: tuple[bytes, ...] | None = None
    """The path in the SM3 tree under the checkpoint's ``sm3`` line (None without one)."""


@dataclass(frozen=True, slots=True)
class Verification:
    """What the ledger says about a clip: its entries (``accessed`` ones left out: who viewed a
    clip is the auditors' business) with inclusion proofs against ``checkpoint``."""

    sha256: str
    entries: tuple[ProvenEntry, ...]
    checkpoint: Checkpoint | None
    acquired: bool
    """An ``acquired`` entry names this hash: the content was recorded on a recorder."""
    clip: Clip | None
    matched: str = "sha256"
    """Which digest the caller's hash matched: ``sha256`` (the entries' subject) or ``sm3``
    (a clip's SM3, looked up in the catalogue; DESIGN.md §4 国密 layer)."""


@dataclass(frozen=True, slots=True)
class InclusionProof:
    index: int
    size: int
    leaf_hash: bytes
    hashes: tuple[bytes, ...]
    checkpoint: Checkpoint | None
    """The published checkpoint of exactly ``size``, when there is one."""
    sm3_hashes: tuple[bytes, ...] = ()
    """The same entry's path in the SM3 tree of ``size`` (国密 layer)."""


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    old: int
    new: int
    hashes: tuple[bytes, ...]
    old_checkpoint: Checkpoint | None
    new_checkpoint: Checkpoint | None


def find_entry(store: LedgerReader, ref: str) -> LedgerEntry:
    """An entry by ledger index, or the first entry whose subject is the given SHA-256."""
    if ref.isdigit():
        return store.entry(int(ref))
    if not is_sha256_hex(ref):
        raise NotFoundError(f"{ref!r} is neither a ledger index nor a lowercase SHA-256")
    found = store.find(ref)
    if not found:
        raise NotFoundError(f"no ledger entry names {ref}")
    return found[0]


def _covering_checkpoint(store: LedgerReader, index: int) -> Checkpoint:
    """The latest checkpoint covering ``index``, preferring one that carries timestamps."""
    covering = [c for c in store.checkpoints() if c.head.size > index]
    if not covering:
        raise NotFoundError(f"entry {index} is not under a checkpoint yet; publish one first")
    stamped = [c for c in covering if store.timestamps(c.head.size)]
    return (stamped or covering)[-1]


def export_bundle(store: LedgerReader, trust: TrustRoot, ref: str) -> bytes:
    """The offline proof bundle (docs/verification.md part B) of the entry ``ref`` names."""
    row = find_entry(store, ref)
    checkpoint = _covering_checkpoint(store, row.index)
    proof = TlogProof(index=row.index,
                      hashes=tuple(store.inclusion_proof(row.index, checkpoint.head.size)),
                      checkpoint=checkpoint.note)
    sm3_hashes = None
    if checkpoint.sm3 is not None:  # the SM3 tree the checkpoint's sm3 line commits to
        sm3_hashes = store.inclusion_proof(row.index, checkpoint.sm3.size, tree_hash=merkle.SM3)
    return make_bundle(entry=row.data, proof=proof,
                       timestamps=store.timestamps(checkpoint.head.size), trust=trust,
                       sm3_hashes=sm3_hashes)


def never_recorded(sha256: str) -> NotFoundError:
    """The answer when no entry names ``sha256`` (and, to a person, for a clip out of their
    scope: access/scope.py)."""
    return NotFoundError(f"no ledger entry names {sha256} (as SHA-256 or SM3): this content "
                         "was never recorded here")


@dataclass
class Proofs:
    """Proofs over one ledger. ``clip_of`` looks a clip up in the read model (NotFoundError
    while it is not folded yet); ``publish`` signs a checkpoint over the current head."""

    store: LedgerReader
    trust: Callable[[], TrustRoot]
    """The current trust root (a key rotation replaces it)."""
    clip_of: Callable[[str], Clip]
    publish: Callable[[], object]
    sha256_of_sm3: Callable[[str], str | None] = lambda _: None
    """The SHA-256 of the clip with this SM3 (the catalogue's index), None when none has it."""
    tile_proofs: TileProofs | None = None
    """When set, :meth:`verify` computes SHA-256 inclusion proofs from the published tiles
    (bounded memory); the store's are used while the tiles lag the latest checkpoint."""

    def _inclusion(self, index: int, size: int) -> tuple[bytes, ...]:
        if self.tile_proofs is not None:
            try:
                return tuple(self.tile_proofs.inclusion_proof(index, size))
            except NotFoundError:
                pass  # the checkpoint is recorded before its tiles are written
        return tuple(self.store.inclusion_proof(index, size))

    def resolve(self, digest: str) -> tuple[str, str]:
        """(the SHA-256 that ledger entries name, which digest matched: ``sha256`` or ``sm3``)
        for a 64-hex ``digest`` of either kind; NotFoundError when neither names a clip."""
        if self.store.find(digest):
            return digest, "sha256"
        sha256 = self.sha256_of_sm3(digest)
        if sha256 is not None:
            return sha256, "sm3"
        raise never_recorded(digest)

    def verify(self, digest: str) -> Verification:
        """The entries naming the content with this SHA-256 or SM3 ``digest``, with inclusion
        proofs against the latest checkpoint. NotFoundError when the ledger has never heard of
        it."""
        sha256, matched = self.resolve(digest)
        rows = self.store.find(sha256)
        checkpoint = self.store.latest_checkpoint()
        proven = []
        for row in rows:
            entry = decode_entry(row.data)
            if entry.kind is EntryKind.ACCESSED:
                continue
            proof = sm3_proof = None
            if checkpoint is not None and row.index < checkpoint.head.size:
                proof = self._inclusion(row.index, checkpoint.head.size)
                if checkpoint.sm3 is not None:
                    sm3_proof = tuple(self.store.inclusion_proof(
                        row.index, checkpoint.sm3.size, tree_hash=merkle.SM3))
            proven.append(ProvenEntry(index=row.index, kind=entry.kind.value, at=entry.at,
                                      actor=entry.actor, station=entry.station, data=row.data,
                                      leaf_hash=row.leaf_hash, proof=proof, sm3_proof=sm3_proof))
        clip = None
        acquired = any(e.kind == EntryKind.ACQUIRED for e in proven)
        if acquired:
            try:
                clip = self.clip_of(sha256)
            except NotFoundError:
                clip = None  # not folded yet: the ledger is the truth, the catalogue may lag
        return Verification(sha256=sha256, entries=tuple(proven), checkpoint=checkpoint,
                            acquired=acquired, clip=clip, matched=matched)

    def _checkpoint_of(self, size: int) -> Checkpoint | None:
        return next((c for c in self.store.checkpoints() if c.head.size == size), None)

    def _latest_size(self) -> int:
        return self.latest_checkpoint().head.size

    def inclusion(self, index: int, size: int | None = None) -> InclusionProof:
        """RFC 9162 §2.1.3 proof of entry ``index`` in the tree of ``size`` (default: the
        latest checkpoint's)."""
        size = self._latest_size() if size is None else size
        hashes = tuple(self.store.inclusion_proof(index, size))
        sm3_hashes = tuple(self.store.inclusion_proof(index, size, tree_hash=merkle.SM3))
        leaf = self.store.entry(index).leaf_hash
        return InclusionProof(index=index, size=size, leaf_hash=leaf, hashes=hashes,
                              checkpoint=self._checkpoint_of(size), sm3_hashes=sm3_hashes)

    def consistency(self, old: int, new: int | None = None) -> ConsistencyProof:
        """RFC 9162 §2.1.4 proof that the tree of ``new`` (default: the latest checkpoint's)
        extends the tree of ``old``."""
        new = self._latest_size() if new is None else new
        if old < 1:
            raise PolicyViolationError("old must be at least 1: every tree extends the empty one")
        if old > new:
            raise PolicyViolationError(f"old size {old} is larger than new size {new}")
        hashes = tuple(self.store.consistency_proof(old, new))
        return ConsistencyProof(old=old, new=new, hashes=hashes,
                                old_checkpoint=self._checkpoint_of(old),
                                new_checkpoint=self._checkpoint_of(new))

    def checkpoints(self) -> list[Checkpoint]:
        return self.store.checkpoints()

    def latest_checkpoint(self) -> Checkpoint:
        latest = self.store.latest_checkpoint()
        if latest is None:
            raise NotFoundError("no checkpoint has been published yet")
        return latest

    def bundle(self, digest: str) -> bytes:
        """The offline proof bundle of the clip's first entry (its ``acquired``), by its
        SHA-256 or SM3 ``digest``, publishing a checkpoint first when none covers it yet (as
        ``liuhen export-bundle`` does)."""
        # By the subject's entries, not find_entry(ref): a hash of only digits is no index.
        sha256, _ = self.resolve(digest)
        rows = self.store.find(sha256)
        index = rows[0].index
        latest = self.store.latest_checkpoint()
        if latest is None or latest.head.size <= index:
            self.publish()
        return export_bundle(self.store, self.trust(), str(index))
