"""The audit of a log from its C2SP tlog-tiles alone, with no database (docs/verification.md
part T; ``liuhen audit --tiles``).

Pure: the caller fetches each tile and entry bundle in the order :meth:`TileAudit.order` gives
and hands the bytes in. Steps, each cited where it is checked:

- T1 the checkpoint carries the trust root's origin and a valid log signature.
- T2 each entry bundle decodes to exactly its tile's width of uint16-length-prefixed entries.
- T3 each entry's RFC 9162 leaf hash is the hash at its place in the level-0 tile.
- T4 (deep) each entry is a well-formed v1 entry whose ``prev_checkpoint`` is not after itself.
- T5 each hash of a tile at level ≥ 1 is the root of the full tile below it.
- T6 the tree rebuilt from the entries has the checkpoint's root (and, with its ``sm3`` line,
  the SM3 tree rebuilt from the same entries has that root).

VerificationError names the step, the tile's path and the ledger index of the first failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from evidence.errors import VerificationError
from evidence.records import Checkpoint
from integrity.entry import decode_entry
from integrity.merkle import HASH_SIZE, SM3, TreeBuilder
from integrity.notes import open_checkpoint
from integrity.tiles import TILE_WIDTH, Tile, decode_bundle, perfect_root, tiles_for_size
from integrity.trust import TrustRoot


@dataclass(frozen=True, slots=True)
class TileAuditReport:
    checkpoint: Checkpoint
    entries: int
    tiles: int
    """Tiles checked, all levels (entry bundles not counted)."""
    sm3_checked: bool
    deep: bool
    """Every entry was parsed (T4)."""


class TileAudit:
    """One audit of the log whose checkpoint note is ``note``: feed :meth:`entries` for each
    level-0 tile of :meth:`order`, then :meth:`upper` for the others, then :meth:`finish`."""

    def __init__(self, note: bytes, *, trust: TrustRoot, check_sm3: bool = True,
                 deep: bool = False) -> None:
        # (T1) the checkpoint is the trusted log's.
        try:
            self.checkpoint = open_checkpoint(note, origin=trust.origin, keys=trust.keys)
        except VerificationError as exc:
            raise VerificationError(f"checkpoint: {exc.reason}", step="T1",
                                    index=exc.index) from exc
        self.size = self.checkpoint.head.size
        self._tree = TreeBuilder()
        self._sm3 = TreeBuilder(tree_hash=SM3) if check_sm3 and self.checkpoint.sm3 else None
        self._below: dict[int, list[bytes]] = {1: []}  # level → roots of full tiles below it
        self._tiles = 0
        self.deep = deep

    def order(self) -> Iterator[Tile]:
        """Every tile of the checkpoint's tree: level 0 first, each level left to right."""
        return iter(tiles_for_size(self.size))

    def entries(self, tile: Tile, data: bytes, bundle: bytes) -> None:
        """Check level-0 ``tile`` (its bytes ``data``) and its entry ``bundle``."""
        self._width(tile, data)
        # (T2) the bundle holds the tile's entries.
        try:
            entries = decode_bundle(tile, bundle)
        except VerificationError as exc:
            raise VerificationError(exc.reason, step="T2", index=exc.index) from exc
        first = tile.index * TILE_WIDTH
        for i, entry in enumerate(entries):
            index = first + i
            # (T3) the entry hashes to its place in the level-0 tile.
            leaf = self._tree.append_entry(entry)
            if leaf != data[i * HASH_SIZE:(i + 1) * HASH_SIZE]:
                raise VerificationError(f"entry {index} in {tile.bundle_path} does not hash to "
                                        f"its leaf in {tile.path}", step="T3", index=index)
            if self._sm3 is not None:
                self._sm3.append_entry(entry)
            if not self.deep:
                continue
            # (T4) the entry's own checks that need no database.
            try:
                prev = decode_entry(entry).prev_checkpoint
            except VerificationError as exc:
                raise VerificationError(f"{tile.bundle_path}: {exc.reason}", step="T4",
                                        index=index) from exc
            if prev is not None and prev.size > index:
                raise VerificationError("entry refers to a checkpoint after itself",
                                        step="T4", index=index)
        if tile.full:
            self._below[1].append(perfect_root(data))

    def upper(self, tile: Tile, data: bytes) -> None:
        """Check ``tile`` at level ≥ 1 against the full tiles of the level below."""
        self._width(tile, data)
        # (T5) each hash is the root of the full tile below it.
        below = self._below.get(tile.level, [])
        first = tile.index * TILE_WIDTH
        for i in range(tile.width):
            expected = below[first + i] if first + i < len(below) else None
            if data[i * HASH_SIZE:(i + 1) * HASH_SIZE] != expected:
                raise VerificationError(
                    f"hash {i} of {tile.path} is not the root of tile {first + i} at level "
                    f"{tile.level - 1}", step="T5", index=(first + i) * TILE_WIDTH ** tile.level)
        if tile.full:
            self._below.setdefault(tile.level + 1, []).append(perfect_root(data))

    def _width(self, tile: Tile, data: bytes) -> None:
        self._tiles += 1
        if len(data) != tile.width * HASH_SIZE:
            raise VerificationError(f"{tile.path} holds {len(data)} bytes, want "
                                    f"{tile.width * HASH_SIZE}", step="T3" if tile.level == 0
                                    else "T5", index=tile.index * TILE_WIDTH ** (tile.level + 1))

    def finish(self) -> TileAuditReport:
        """(T6) the rebuilt trees have the checkpoint's roots."""
        if self._tree.size != self.size:
            raise VerificationError(f"the tiles hold {self._tree.size} entries, the checkpoint "
                                    f"{self.size}", step="T6", index=self._tree.size)
        if self._tree.root() != self.checkpoint.head.root:
            raise VerificationError("the entries do not rebuild the checkpoint's root",
                                    step="T6", index=self.size)
        sm3 = self.checkpoint.sm3
        if self._sm3 is not None and sm3 is not None and (
                self._sm3.size != sm3.size or self._sm3.root() != sm3.root):
            raise VerificationError("the entries do not rebuild the SM3 root of the "
                                    "checkpoint's sm3 line", step="T6", index=sm3.size)
        return TileAuditReport(checkpoint=self.checkpoint, entries=self.size, tiles=self._tiles,
                               sm3_checked=self._sm3 is not None, deep=self.deep)
