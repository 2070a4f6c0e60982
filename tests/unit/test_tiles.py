"""C2SP tlog-tiles layout (integrity/tiles.py) against the spec's own examples and vectors of our
own, and tiles against the RFC 9162 tree: the roots and proofs computed from tiles equal
MerkleLevels' at every size."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.errors import VerificationError
from integrity.merkle import (
    MerkleLevels,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
)
from integrity.tiles import (
    FULL_TILE_BYTES,
    Tile,
    TileNodes,
    changed_tiles,
    decode_bundle,
    encode_bundle,
    encode_index,
    expand_tile,
    grow_tiles,
    hashes_of,
    partials_needed,
    range_hash,
    tiles_for_ranges,
    tiles_for_size,
)

MAX = 70_000
LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(MAX)]
LEVELS = MerkleLevels(LEAVES)


def _tiles(size: int) -> dict[Tile, bytes]:
    return grow_tiles(0, size, b"".join(LEAVES[:size]), {})


def _nodes(tiles: dict[Tile, bytes]) -> dict[Tile, TileNodes]:
    return {t: expand_tile(t, data) for t, data in tiles.items()}


ALL = _tiles(MAX)
BY_PLACE = {(t.level, t.index): data for t, data in ALL.items()}


@pytest.mark.parametrize(("index", "path"), [
    (0, "000"), (7, "007"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067"),
    (10**9, "x001/x000/x000/000"),
])
def test_index_paths_as_the_spec_writes_them(index: int, path: str) -> None:
    assert encode_index(index) == path


def test_tile_and_bundle_paths() -> None:
    assert Tile(0, 1234067, 256).path == "tile/0/x001/x234/067"
    assert Tile(2, 0, 1).path == "tile/2/000.p/1"
    assert Tile(0, 273, 112).bundle_path == "tile/entries/273.p/112"
    assert Tile(0, 5, 256).bundle_path == "tile/entries/005"
    with pytest.raises(ValueError, match="level-0"):
        _ = Tile(1, 0, 1).bundle_path
    for bad in [(0, 0, 0), (0, 0, 257), (64, 0, 1), (0, -1, 1)]:
        with pytest.raises(ValueError, match="no such tile"):
            Tile(*bad)


def test_the_spec_example_of_size_70000() -> None:
    tiles = tiles_for_size(70_000)
    level0 = [t for t in tiles if t.level == 0]
    assert len(level0) == 274 and all(t.full for t in level0[:273])
    assert level0[-1] == Tile(0, 273, 112)
    assert [t for t in tiles if t.level > 0] == [Tile(1, 0, 256), Tile(1, 1, 17), Tile(2, 0, 1)]


def test_the_spec_example_of_size_256_and_empty() -> None:
    assert tiles_for_size(256) == [Tile(0, 0, 256), Tile(1, 0, 1)]
    assert tiles_for_size(0) == []
    assert tiles_for_size(1) == [Tile(0, 0, 1)]


def test_changed_tiles_between_sizes() -> None:
    assert changed_tiles(10, 10) == []
    assert changed_tiles(10, 300) == [Tile(0, 0, 256), Tile(0, 1, 44), Tile(1, 0, 1)]
    assert changed_tiles(256, 300) == [Tile(0, 1, 44)]  # the level-1 tile of width 1 stays
    assert partials_needed(10, 300) == [Tile(0, 0, 10)]
    assert partials_needed(256, 300) == []
    with pytest.raises(ValueError):
        changed_tiles(5, 4)


def test_full_tiles_are_8192_bytes_and_level_one_hashes_full_tiles() -> None:
    full = ALL[Tile(0, 0, 256)]
    assert len(full) == FULL_TILE_BYTES == 8192
    assert full[:32] == LEAVES[0]
    assert ALL[Tile(1, 0, 256)][:32] == LEVELS.root(256)  # MTH(D[0:256])
    assert ALL[Tile(2, 0, 1)] == LEVELS.root(65_536)
    assert len(ALL[Tile(0, 273, 112)]) == 112 * 32


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 3000), st.integers(0, 3000))
def test_growing_in_steps_writes_what_one_step_writes(a: int, b: int) -> None:
    old, new = sorted((a, b))
    before = _tiles(old)
    grown = grow_tiles(old, new, b"".join(LEAVES[old:new]),
                       {t: before[t] for t in partials_needed(old, new)})
    assert set(grown) == set(changed_tiles(old, new))
    whole = _tiles(new)
    for tile, data in grown.items():
        assert whole[tile] == data


def test_every_root_from_tiles_up_to_600() -> None:
    for size in range(1, 600):
        tiles = _tiles(size)
        assert range_hash(0, size, size, _nodes(tiles)) == LEVELS.root(size), size


def test_proofs_from_tiles_at_every_size_to_300() -> None:
    for size in range(1, 301):
        nodes = _nodes(_tiles(size))
        indices = range(size) if size <= 64 else {0, 1, size // 2, size - 2, size - 1}
        for index in indices:
            assert hashes_of(inclusion_ranges(index, size), size, nodes) == \
                LEVELS.inclusion_proof(index, size), (index, size)
        for old in {1, size // 2, size - 1, size}:
            assert hashes_of(consistency_ranges(old, size), size, nodes) == \
                LEVELS.consistency_proof(old, size), (old, size)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, MAX), st.data())
def test_proofs_from_tiles_equal_merkle_levels(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(0, size))
    # A tile of a smaller tree is a prefix of the tile at the same place in the larger one.
    tiles = {t: BY_PLACE[t.level, t.index][:t.width * 32] for t in tiles_for_size(size)}
    ranges = inclusion_ranges(index, size)
    assert tiles_for_ranges(ranges, size) <= set(tiles)
    nodes = _nodes(tiles)
    assert hashes_of(ranges, size, nodes) == LEVELS.inclusion_proof(index, size)
    assert hashes_of(consistency_ranges(old, size), size, nodes) == \
        LEVELS.consistency_proof(old, size)


def test_a_tile_of_the_wrong_width_is_named() -> None:
    tiles = dict(_tiles(300))
    tiles[Tile(0, 1, 44)] = tiles[Tile(0, 1, 44)][:-1]
    with pytest.raises(VerificationError, match=r"tile/0/001\.p/44") as caught:
        _nodes(tiles)
    assert caught.value.step == "tile"


def test_entry_bundles_round_trip_and_refuse_damage() -> None:
    entries = [b"", b"a", b"x" * 65_535]
    data = encode_bundle(entries)
    assert data[:2] == b"\x00\x00" and data[2:5] == b"\x00\x01a" and data[5:7] == b"\xff\xff"
    tile = Tile(0, 0, 3)
    assert decode_bundle(tile, data) == entries
    with pytest.raises(ValueError, match="uint16"):
        encode_bundle([b"x" * 65_536])
    for damaged in (data[:-1], data + b"\x00", data + b"\x00\x00", data[:7]):
        with pytest.raises(VerificationError, match=r"tile/entries/000\.p/3"):
            decode_bundle(tile, damaged)


# Vectors of our own (docs/ledger-format.md §10), computed independently with hashlib alone.
VECTOR_TILE_3 = bytes.fromhex(
    "40766b2033429026f53d54502679a839706b4741f8dcaf3a8bba5f41b5ffe075"
    "e868811a482c27d50b6d45dde79c465d6adb9b06645100477a90cf3d8518898b"
    "049d7dcdb56bcfebd313304c9839f196a3d4b6ef3bdc0b08298f93ac8191f0a8")
VECTOR_BUNDLE_3 = bytes.fromhex("0007656e7472792d300007656e7472792d310007656e7472792d32")
VECTOR_FULL_TILE_SHA256 = "8921c57d2f65271c82bf0f686c002793863c80c8d1cbbbf5db6046ff59e8b590"
VECTOR_LEVEL1_257 = "f85f4ead34080710b4d1e808301543aaab81aa04deb88599350dc26a4f2f58de"
VECTOR_ROOT_257 = "918b1cec64f317c76e3cf55c0536841c039eff06772ebb8828ce7c176028b5ac"


def test_vectors_of_our_own() -> None:
    entries = [f"entry-{i}".encode() for i in range(257)]
    leaves = b"".join(leaf_hash(e) for e in entries)
    three = grow_tiles(0, 3, leaves[:96], {})
    assert three == {Tile(0, 0, 3): VECTOR_TILE_3}
    assert encode_bundle(entries[:3]) == VECTOR_BUNDLE_3
    # Grown from the tiles of size 3, as a publisher does at the next checkpoint.
    grown = grow_tiles(3, 257, leaves[96:], {Tile(0, 0, 3): VECTOR_TILE_3})
    assert set(grown) == {Tile(0, 0, 256), Tile(0, 1, 1), Tile(1, 0, 1)}
    assert hashlib.sha256(grown[Tile(0, 0, 256)]).hexdigest() == VECTOR_FULL_TILE_SHA256
    assert grown[Tile(1, 0, 1)].hex() == VECTOR_LEVEL1_257
    assert range_hash(0, 257, 257, _nodes(grown)).hex() == VECTOR_ROOT_257
