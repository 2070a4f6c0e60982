"""C2SP ``tlog-tiles`` (https://c2sp.org/tlog-tiles): the paths of tiles and entry bundles,
which tiles a tree of a given size has, and the Merkle Tree Hashes computed from them.

Pure (STYLE.md §1): callers fetch the tiles :func:`tiles_for_ranges` names and hand their bytes
in. The layout, from the spec:

- ``tile/<L>/<N>[.p/<W>]``: the ``n``-th tile at level ``l`` holds, for ``i`` in 0..255,
  ``MTH(D[(n·256 + i)·256^l : (n·256 + i + 1)·256^l])``; a full tile is 256 hashes (8,192
  bytes), a partial one ``W`` (1..255) hashes: the rightmost tile at level ``l`` of a tree of
  size ``s`` has ``floor(s / 256^l) mod 256`` hashes, and an empty tile is never served.
- ``N`` is written as zero-padded 3-digit elements, all but the last prefixed with ``x``:
  1234067 is ``x001/x234/067``.
- ``tile/entries/<N>[.p/<W>]``: the entries of level-0 tile ``N``, each as a big-endian uint16
  length and its bytes.

So tile level ``l`` holds the RFC 9162 nodes of height ``8·l``, and a perfect subtree of height
``8·l + r`` (``r`` < 8) is the root over ``2^r`` consecutive hashes of one level-``l`` tile.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from evidence.errors import VerificationError
from integrity.merkle import HASH_SIZE, SHA256, TreeHash, node_hash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes
FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE  # 8,192 bytes
MAX_ENTRY_BYTES = 0xFFFF  # the uint16 length prefix of entry bundles
MAX_LEVEL = 63  # the spec's bound on <L>


@dataclass(frozen=True, slots=True, order=True)
class Tile:
    """Tile ``index`` at ``level`` of ``width`` hashes (256: full)."""

    level: int
    index: int
    width: int

    def __post_init__(self) -> None:
        if not (0 <= self.level <= MAX_LEVEL and self.index >= 0
                and 1 <= self.width <= TILE_WIDTH):
            raise ValueError(f"no such tile: {self.level}/{self.index} width {self.width}")

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]``."""
        return f"tile/{self.level}/{_element_path(self.index, self.width)}"

    @property
    def bundle_path(self) -> str:
        """``tile/entries/<N>[.p/<W>]``: the entry bundle of a level-0 tile."""
        if self.level != 0:
            raise ValueError("only level-0 tiles have entry bundles")
        return f"tile/entries/{_element_path(self.index, self.width)}"


def encode_index(index: int) -> str:
    """``1234067`` → ``x001/x234/067`` (tlog-tiles: zero-padded 3-digit elements)."""
    if index < 0:
        raise ValueError("a tile index is not negative")
    elements = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        elements.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(elements))


def _element_path(index: int, width: int) -> str:
    return encode_index(index) + ("" if width == TILE_WIDTH else f".p/{width}")


def _tile_at(level: int, index: int, size: int) -> Tile:
    """The tile ``index`` at ``level`` as the tree of ``size`` has it (full or partial)."""
    count = size >> (TILE_HEIGHT * level)  # hashes at this tile level
    return Tile(level, index, min(TILE_WIDTH, count - index * TILE_WIDTH))


def tiles_for_size(size: int) -> list[Tile]:
    """Every tile of the tree of ``size``, level by level: the full tiles, then the partial one
    where the level's hash count is not a multiple of 256 (the spec's example: 70,000 has 273
    full level-0 tiles, one of width 112, one full level-1 tile, one of width 17, one of 1)."""
    return changed_tiles(0, size)


def partial_tiles(size: int) -> list[Tile]:
    """The partial tiles of the tree of ``size``: one per level whose hash count is not a
    multiple of 256 (the rightmost tile there)."""
    edge, level = [], 0
    while count := size >> (TILE_HEIGHT * level):
        if count % TILE_WIDTH:
            edge.append(Tile(level, count // TILE_WIDTH, count % TILE_WIDTH))
        level += 1
    return edge


def changed_tiles(old: int, new: int) -> list[Tile]:
    """The tiles of the tree of ``new`` that the tree of ``old`` lacks or had narrower: what a
    publisher writes when the log grows from ``old`` to ``new``."""
    if not 0 <= old <= new:
        raise ValueError(f"sizes {old}..{new} do not grow")
    tiles = []
    level = 0
    while new >> (TILE_HEIGHT * level):
        had, has = old >> (TILE_HEIGHT * level), new >> (TILE_HEIGHT * level)
        if has > had:
            tiles += [_tile_at(level, n, new)
                      for n in range(had // TILE_WIDTH, (has - 1) // TILE_WIDTH + 1)]
        level += 1
    return tiles


def partials_needed(old: int, new: int) -> list[Tile]:
    """The partial tiles of the tree of ``old`` that growing it to ``new`` extends: the hashes
    they hold are the start of the new, wider tiles (:func:`grow_tiles`)."""
    tiles = []
    for tile in changed_tiles(old, new):
        had = (old >> (TILE_HEIGHT * tile.level)) - tile.index * TILE_WIDTH
        if 0 < had < TILE_WIDTH:
            tiles.append(Tile(tile.level, tile.index, had))
    return tiles


def grow_tiles(old: int, new: int, leaf_hashes: bytes, partials: Mapping[Tile, bytes], *,
               tree_hash: TreeHash = SHA256) -> dict[Tile, bytes]:
    """The bytes of every tile in :func:`changed_tiles` (old, new), from the leaf hashes of
    entries ``[old, new)`` (concatenated) and the ``partials`` of the old tree
    (:func:`partials_needed`). A level's new hashes are the roots of the full tiles completed
    at the level below (the spec: partial tiles are never hashed into the level above)."""
    if len(leaf_hashes) != (new - old) * HASH_SIZE:
        raise ValueError(f"{len(leaf_hashes)} bytes of leaf hashes for {new - old} entries")
    out: dict[Tile, bytes] = {}
    fresh = leaf_hashes  # the hashes new at this level
    level = 0
    while (has := new >> (TILE_HEIGHT * level)) > (had := old >> (TILE_HEIGHT * level)):
        first = had // TILE_WIDTH
        kept = had - first * TILE_WIDTH
        prefix = split_tile(Tile(level, first, kept), partials[Tile(level, first, kept)]) \
            if kept else b""
        row = prefix + fresh  # the hashes of tiles first.. at this level
        above = []
        for n in range(first, (has - 1) // TILE_WIDTH + 1):
            tile = _tile_at(level, n, new)
            data = row[(n - first) * FULL_TILE_BYTES:][:tile.width * HASH_SIZE]
            out[tile] = data
            if tile.full:
                above.append(perfect_root(data, tree_hash=tree_hash))
        fresh = b"".join(above)
        level += 1
    return out


TileNodes = tuple[bytes, ...]
"""A tile's hashes and the nodes above them inside the tile: entry ``k`` holds the
``width >> k`` roots over ``2^k`` consecutive hashes (k = 0..7)."""


def expand_tile(tile: Tile, data: bytes, *, tree_hash: TreeHash = SHA256) -> TileNodes:
    """The :data:`TileNodes` of ``tile`` from its bytes (width checked): 255 node hashes for a
    full tile, computed once so that every proof node inside it is a lookup."""
    levels = [split_tile(tile, data)]
    for _ in range(1, TILE_HEIGHT):
        below = levels[-1]
        pairs = len(below) // (2 * HASH_SIZE)
        if not pairs:
            break
        levels.append(b"".join(
            node_hash(below[i:i + HASH_SIZE], below[i + HASH_SIZE:i + 2 * HASH_SIZE],
                      tree_hash=tree_hash) for i in range(0, pairs * 2 * HASH_SIZE,
                                                          2 * HASH_SIZE)))
    return tuple(levels)


def split_tile(tile: Tile, data: bytes) -> bytes:
    """``data`` checked to be ``tile``'s width of hashes (VerificationError naming the path)."""
    if len(data) != tile.width * HASH_SIZE:
        raise VerificationError(f"{tile.path} holds {len(data)} bytes, want "
                                f"{tile.width * HASH_SIZE}", step="tile")
    return data


def perfect_root(hashes: bytes | memoryview, *, tree_hash: TreeHash = SHA256) -> bytes:
    """MTH over a power-of-two count of concatenated 32-byte node hashes (a full tile's root
    is the level-above hash of it)."""
    nodes = [bytes(hashes[i:i + HASH_SIZE]) for i in range(0, len(hashes), HASH_SIZE)]
    if not nodes or len(nodes) & (len(nodes) - 1):
        raise ValueError(f"{len(nodes)} hashes are not a perfect subtree")
    while len(nodes) > 1:
        nodes = [node_hash(nodes[i], nodes[i + 1], tree_hash=tree_hash)
                 for i in range(0, len(nodes), 2)]
    return nodes[0]


# -- entry bundles --------------------------------------------------------------------------


def encode_bundle(entries: Iterable[bytes]) -> bytes:
    """Entries each prefixed by its big-endian uint16 length (ValueError over 65,535 bytes)."""
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_ENTRY_BYTES:
            raise ValueError(f"an entry of {len(entry)} bytes does not fit a uint16 length")
        out += struct.pack(">H", len(entry)) + entry
    return bytes(out)


def decode_bundle(tile: Tile, data: bytes) -> list[bytes]:
    """The ``tile.width`` entries of the bundle ``data``; VerificationError (naming the path)
    when it is truncated, has trailing bytes or another count."""
    entries: list[bytes] = []
    offset = 0
    while offset < len(data):
        if offset + 2 > len(data):
            break
        (length,) = struct.unpack_from(">H", data, offset)
        if offset + 2 + length > len(data):
            raise VerificationError(f"{tile.bundle_path}: entry {len(entries)} is truncated",
                                    step="bundle", index=tile.index * TILE_WIDTH + len(entries))
        entries.append(data[offset + 2:offset + 2 + length])
        offset += 2 + length
    if offset != len(data) or len(entries) != tile.width:
        raise VerificationError(f"{tile.bundle_path} holds {len(entries)} entries, want "
                                f"{tile.width}", step="bundle", index=tile.index * TILE_WIDTH)
    return entries


# -- nodes and proofs from tiles -------------------------------------------------------------


def _perfect_parts(lo: int, hi: int) -> list[tuple[int, int]]:
    """[lo, hi) as perfect subtrees (height, position), largest first: one when the width is a
    power of two, else the set bits of the width down a node on the tree's right edge."""
    parts, start = [], lo
    width = hi - lo
    for height in reversed(range(width.bit_length())):
        if width >> height & 1:
            parts.append((height, start >> height))
            start += 1 << height
    return parts


def _tile_of(height: int, position: int, size: int) -> tuple[Tile, int, int]:
    """(the tile of the tree of ``size`` holding the perfect subtree (height, position), the
    level inside the tile of its root, the root's byte offset in that level)."""
    level, rest = divmod(height, TILE_HEIGHT)
    first = position << rest  # its first hash at tile level ``level``
    tile = _tile_at(level, first // TILE_WIDTH, size)
    return tile, rest, (position % (TILE_WIDTH >> rest)) * HASH_SIZE


def tiles_for_ranges(ranges: Iterable[tuple[int, int]], size: int) -> set[Tile]:
    """The tiles of the tree of ``size`` that :func:`range_hash` reads for these ranges."""
    return {_tile_of(h, p, size)[0] for lo, hi in ranges for h, p in _perfect_parts(lo, hi)}


def range_hash(lo: int, hi: int, size: int, tiles: Mapping[Tile, TileNodes], *,
               tree_hash: TreeHash = SHA256) -> bytes:
    """MTH(D[lo:hi]) for a node ``[lo, hi)`` of the tree of ``size`` (a perfect subtree, or a
    node on its right edge), from the :func:`expand_tile` of the tiles
    :func:`tiles_for_ranges` names."""
    if not 0 <= lo < hi <= size:
        raise ValueError(f"range {lo}..{hi} outside a tree of size {size}")
    roots = []
    for height, position in _perfect_parts(lo, hi):
        tile, inner, offset = _tile_of(height, position, size)
        roots.append(tiles[tile][inner][offset:offset + HASH_SIZE])
    acc = roots[-1]
    for root in reversed(roots[:-1]):  # fold from the right (RFC 9162 §2.1.1 down the edge)
        acc = node_hash(root, acc, tree_hash=tree_hash)
    return acc


def hashes_of(ranges: Sequence[tuple[int, int]], size: int, tiles: Mapping[Tile, TileNodes], *,
              tree_hash: TreeHash = SHA256) -> list[bytes]:
    """:func:`range_hash` of each range, in order: a proof from its ranges."""
    return [range_hash(lo, hi, size, tiles, tree_hash=tree_hash) for lo, hi in ranges]
