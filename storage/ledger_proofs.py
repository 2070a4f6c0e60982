"""Inclusion and consistency proofs for ``storage.ledger_store.SqlLedgerStore``, from cached tree
levels (RFC 9162 §2.1.3, §2.1.4).

Proofs (STYLE.md §10). Each store keeps one ``merkle.MerkleLevels`` of the leaf hashes read so far
(64 MB at a million entries; open one store per database per process): a proof reads only the
leaf hashes past what it holds, under a lock so that one reader loads while the others wait, and
answers from the cached levels in O(log n). The cache never goes stale because the ledger is
append-only (the database refuses UPDATE and DELETE). A database restored *below* the cached size
is not noticed here (proofs go on being served for sizes it lost): restart the process after a
restore.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from evidence.errors import NotFoundError
from integrity import merkle
from storage.ledger_rows import entry_rows, leaf_hash_batches


class CachedProofs:
    """The proofs of one ledger database (module docstring). Thread-safe."""

    def __init__(self, engine: Engine, *, committed_size: Callable[[], int],
                 read_chunk_rows: int = 50_000) -> None:
        self._engine = engine
        self._committed_size = committed_size
        self._chunk = read_chunk_rows
        self._levels = merkle.MerkleLevels()
        self._sm3_levels = merkle.MerkleLevels(tree_hash=merkle.SM3)
        """The SM3 tree's levels (国密 layer), from leaves recomputed from the entry bytes
        (storage.ledger_sm3 keeps no SM3 leaf hashes): loading reads the entries once."""
        self._lock = threading.Lock()

    @contextmanager
    def _levels_for(self, size: int,
                    tree_hash: merkle.TreeHash = merkle.SHA256) -> Iterator[merkle.MerkleLevels]:
        """The cached levels, holding at least ``size`` leaves, for as long as the lock is held.
        NotFoundError when the committed ledger is smaller than ``size``."""
        with self._lock:
            levels = self._sm3_levels if tree_hash is merkle.SM3 else self._levels
            if levels.size < size:
                # Read what was committed past the cache: the head, then one keyset range query
                # on the primary key per page of leaf hashes (one in the steady state); a
                # missing row raises VerificationError.
                head = self._committed_size()
                if head < size:
                    raise NotFoundError(f"the ledger has {head} entries, not {size}")
                if tree_hash is merkle.SM3:
                    rows = entry_rows(self._engine, levels.size, head, page=self._chunk)
                    levels.extend(merkle.leaf_hash(data, tree_hash=merkle.SM3)
                                  for _, data, _ in rows)
                else:
                    for batch in leaf_hash_batches(self._engine, levels.size, head):
                        levels.extend(batch)
            yield levels

    def inclusion_proof(self, index: int, size: int, *,
                        tree_hash: merkle.TreeHash = merkle.SHA256) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(index, D[size]) in the SHA-256 tree (from the stored leaf
        hashes) or the SM3 tree (from the entry bytes)."""
        if not 0 <= index < size:
            raise NotFoundError(f"index {index} is not in a tree of size {size}")
        with self._levels_for(size, tree_hash) as levels:
            return levels.inclusion_proof(index, size)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 PROOF(old, D[new]) from the stored leaf hashes."""
        if not 0 <= old <= new:
            raise NotFoundError(f"no consistency proof from size {old} to size {new}")
        with self._levels_for(new) as levels:
            return levels.consistency_proof(old, new)


__all__ = ["CachedProofs"]
