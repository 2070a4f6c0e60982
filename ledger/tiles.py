"""The log as C2SP ``tlog-tiles`` (docs/ledger-format.md §Tiles; docs/adr/0018-tlog-tiles.md):
publishing the tiles, entry bundles and checkpoint at each checkpoint, and inclusion and
consistency proofs computed from tiles through a bounded cache.

Durability and order: every tile and entry bundle a checkpoint needs is written (write-once,
durable when ``write_once`` returns) before the checkpoint object is replaced, so a reader that
sees a checkpoint finds all of its tiles. A crash between the two leaves tiles nobody points
at yet; the next publish writes the same bytes again (a no-op) and then the checkpoint.

Concurrency: tile bytes are a function of the entries alone, so two publishers write identical
tiles and ``write_once`` accepts the second. The checkpoint is the database's (the first one
recorded for its size: SM2 signatures differ between signers), and it only moves forward: a
publisher finding a checkpoint at least as large has nothing to do. Two publishers may still
race on the last step (one replacing a newer checkpoint with an older one for a moment) until
the next publish; the publishing lease of ``serve --workers`` (issue 18 part 3) closes that.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from evidence.errors import NotFoundError, VerificationError
from evidence.records import Checkpoint
from integrity.merkle import HASH_SIZE, consistency_ranges, inclusion_ranges
from integrity.notes import parse_checkpoint_text, split_note
from integrity.tileaudit import TileAudit, TileAuditReport
from integrity.tiles import (
    TILE_WIDTH,
    Tile,
    TileNodes,
    encode_bundle,
    expand_tile,
    grow_tiles,
    hashes_of,
    partial_tiles,
    partials_needed,
    range_hash,
    tiles_for_ranges,
)
from integrity.trust import TrustRoot
from ledger.ports import LedgerReader, TileReader, TileStore

CHECKPOINT = "checkpoint"
STEP_TILES = 64 * TILE_WIDTH  # entries per publishing step: bounds the entry bytes held at once


def published_size(tiles: TileReader) -> int:
    """The size of the checkpoint the tiles were last published for (0 when none was). The
    note is not verified here: it is our own, and the publisher checks the root it computes."""
    try:
        note = tiles.read(CHECKPOINT)
    except NotFoundError:
        return 0
    return parse_checkpoint_text(split_note(note)[0])[1].size


@dataclass(frozen=True, slots=True)
class TilesPublished:
    size: int
    """The tree size the tiles now serve."""
    written: int
    """Tiles and entry bundles written by this call."""


def publish_tiles(tiles: TileStore, store: LedgerReader, checkpoint: Checkpoint
                  ) -> TilesPublished:
    """Write the tiles and entry bundles that grow the published log to ``checkpoint``'s size,
    check that they give its root, then write the checkpoint itself. Entries are read from the
    store ``STEP_TILES`` at a time; partial tiles are written only for the checkpoint's size (the
    spec: partial tiles for sizes a checkpoint was produced for)."""
    old, new = published_size(tiles), checkpoint.head.size
    if new <= old:
        return TilesPublished(size=old, written=0)
    # The old tree's partial tiles and bundle start the new ones; afterwards, each step's.
    partials = {t: tiles.read(t.path) for t in partials_needed(old, new)}
    bundle_prefix = b""
    if old % TILE_WIDTH:
        bundle_prefix = tiles.read(Tile(0, old // TILE_WIDTH, old % TILE_WIDTH).bundle_path)
    written = 0
    start = old
    while start < new:
        stop = min(new, (start // STEP_TILES + 1) * STEP_TILES)
        leaves, entries = [], []
        for _, data, leaf in store.entry_rows(start, stop):
            entries.append(data)
            leaves.append(leaf)
        if len(leaves) != stop - start:
            raise NotFoundError(f"the store holds {start + len(leaves)} entries, fewer than the "
                                f"checkpoint's {new}")
        grown = grow_tiles(start, stop, b"".join(leaves), partials)
        bundles = _bundles(start, entries, bundle_prefix)
        for tile, data in grown.items():
            if tile.full:
                tiles.write_once(tile.path, data)
                written += 1
        for tile, data in bundles.items():
            if tile.full:
                tiles.write_once(tile.bundle_path, data)
                written += 1
        # A level's partial tile may stay unchanged for several steps: keep them all.
        partials.update((t, d) for t, d in grown.items() if not t.full)
        partial_bundles = [(t, d) for t, d in bundles.items() if not t.full]
        bundle_prefix = partial_bundles[0][1] if partial_bundles else b""
        start = stop
    # The partial tiles and bundle of the checkpoint's size (the spec: served for every size a
    # checkpoint was produced for); the older ones' partials were written by earlier publishes.
    edge = [t for t in partial_tiles(new) if t in partials]
    for tile in edge:
        tiles.write_once(tile.path, partials[tile])
        written += 1
    if new % TILE_WIDTH:
        tiles.write_once(Tile(0, new // TILE_WIDTH, new % TILE_WIDTH).bundle_path, bundle_prefix)
        written += 1
    # The root the tiles give must be the checkpoint's before the checkpoint points at them.
    reader = _Overlay(partials, tiles)
    ranges = [(0, new)]
    have = {t: expand_tile(t, reader.read_tile(t)) for t in tiles_for_ranges(ranges, new)}
    if range_hash(0, new, new, have) != checkpoint.head.root:
        raise VerificationError(f"tiles of size {new} do not give the checkpoint's root",
                                step="tiles", index=new)
    tiles.write_checkpoint(checkpoint.note)
    return TilesPublished(size=new, written=written)


def _bundles(start: int, entries: list[bytes], prefix: bytes) -> dict[Tile, bytes]:
    """The entry bundles of entries ``[start, start + len(entries))``; ``prefix`` is the
    partial bundle the first of them continues."""
    out: dict[Tile, bytes] = {}
    stop = start + len(entries)
    first = start // TILE_WIDTH
    for n in range(first, (stop - 1) // TILE_WIDTH + 1):
        lo, hi = max(start, n * TILE_WIDTH), min(stop, (n + 1) * TILE_WIDTH)
        data = encode_bundle(entries[lo - start:hi - start])
        out[Tile(0, n, hi - n * TILE_WIDTH)] = (prefix if n == first else b"") + data
    return out


class _Overlay:
    """Tiles just grown, falling back to the store (a full tile written by an earlier publish)."""

    def __init__(self, fresh: Mapping[Tile, bytes], tiles: TileReader) -> None:
        self._fresh, self._tiles = fresh, tiles

    def read_tile(self, tile: Tile) -> bytes:
        found = self._fresh.get(tile)
        return found if found is not None else self._tiles.read(tile.path)


class TileProofs:
    """RFC 9162 proofs computed from tiles (issue 18 part 2): each proof reads the O(log n)
    tiles its nodes lie in, through an LRU cache of at most ``cache_bytes`` (each tile is kept
    with the nodes inside it, :func:`integrity.tiles.expand_tile`: about twice its bytes, so the
    64 MB default holds some 4,000 full tiles), so a worker's memory is bounded at any log size.

    Tiles are immutable (a partial tile's path carries its width), so a cached tile never goes
    stale. Thread-safe: one lock around the cache; missing tiles are read outside it.
    """

    def __init__(self, tiles: TileReader, *, cache_bytes: int = 64 << 20) -> None:
        if cache_bytes < 2 * 8192:
            raise ValueError("cache_bytes must hold at least one full tile and its nodes")
        self._tiles = tiles
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[Tile, TileNodes] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held_bytes(self) -> int:
        """Bytes of tiles and their nodes in the cache now (never above ``cache_bytes``)."""
        return self._held

    def _read(self, needed: Iterable[Tile]) -> dict[Tile, TileNodes]:
        out, missing = {}, []
        with self._lock:
            for tile in needed:
                nodes = self._cache.get(tile)
                if nodes is None:
                    missing.append(tile)
                else:
                    self._cache.move_to_end(tile)
                    out[tile] = nodes
        for tile in missing:
            out[tile] = expand_tile(tile, self._tiles.read(tile.path))
        with self._lock:
            for tile in missing:
                if tile not in self._cache:
                    self._cache[tile] = out[tile]
                    self._held += sum(map(len, out[tile]))
            while self._held > self.cache_bytes:
                _, dropped = self._cache.popitem(last=False)
                self._held -= sum(map(len, dropped))
        return out

    def _hashes(self, ranges: list[tuple[int, int]], size: int) -> list[bytes]:
        return hashes_of(ranges, size, self._read(tiles_for_ranges(ranges, size)))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[size]) (RFC 9162 §2.1.3.1) from tiles; ValueError outside the tree,
        NotFoundError when a tile is missing, VerificationError for a tile of the wrong length."""
        return self._hashes(inclusion_ranges(index, size), size)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """PROOF(old, D[new]) (RFC 9162 §2.1.4.1) from tiles."""
        return self._hashes(consistency_ranges(old, new), new)

    def root(self, size: int) -> bytes:
        """MTH(D[size]) from tiles (size ≥ 1)."""
        return self._hashes([(0, size)], size)[0]

    def leaf_hash(self, index: int, size: int) -> bytes:
        """The leaf hash at ``index`` in the level-0 tile of the tree of ``size``."""
        if not 0 <= index < size:
            raise ValueError(f"index {index} outside a tree of size {size}")
        return self._hashes([(index, index + 1)], size)[0][:HASH_SIZE]


def audit_tiles(tiles: TileReader, trust: TrustRoot, *, check_sm3: bool = True,
                deep: bool = False) -> TileAuditReport:
    """docs/verification.md part T over the whole log from its tiles and entry bundles alone
    (``integrity.tileaudit``): a tile or bundle that is missing fails at the step that needed
    it, naming its path. Memory: one tile and bundle at a time, plus a hash per full tile."""
    try:
        note = tiles.read(CHECKPOINT)
    except NotFoundError as exc:
        raise VerificationError(f"no checkpoint: {exc}", step="T1") from exc
    audit = TileAudit(note, trust=trust, check_sm3=check_sm3, deep=deep)

    def fetch(path: str, step: str, tile: Tile) -> bytes:
        try:
            return tiles.read(path)
        except NotFoundError as exc:
            raise VerificationError(f"{path} is missing: {exc}", step=step,
                                    index=tile.index * TILE_WIDTH ** (tile.level + 1)) from exc

    for tile in audit.order():
        if tile.level == 0:
            audit.entries(tile, fetch(tile.path, "T3", tile),
                          fetch(tile.bundle_path, "T2", tile))
        else:
            audit.upper(tile, fetch(tile.path, "T5", tile))
    return audit.finish()
