"""Tiles published from a real ledger store (SQLite and PostgreSQL): the C2SP layout at every
checkpoint, write-once tiles, and proofs from tiles equal to the store's."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from evidence.errors import ConflictError, NotFoundError
from evidence.records import Clip
from integrity.merkle import HASH_SIZE
from integrity.notes import Signer
from integrity.tiles import Tile, decode_bundle, tiles_for_size
from integrity.trust import TrustRoot
from ledger import tiles as ledger_tiles
from ledger.proofs import Proofs
from ledger.publishing import publish_checkpoint
from ledger.tiles import TileProofs, publish_tiles, published_size
from storage.ledger_store import SqlLedgerStore
from storage.tilestore import LocalTileStore
from tests.integration.conftest import AT, ORIGIN, make_items

SIZES = [1, 2, 255, 256, 257, 300, 511, 512, 513, 700]


def _grow(store: SqlLedgerStore, to: int, station: Signer) -> None:
    have = store.head().size
    if to > have:
        store.append_batch(make_items(to - have, start=have), signers=[station])


def _checkpoint(store: SqlLedgerStore, tiles: LocalTileStore, log: Signer) -> int:
    publish_checkpoint(store, origin=ORIGIN, signers=[log], now=AT)
    latest = store.latest_checkpoint()
    assert latest is not None
    return publish_tiles(tiles, store, latest).written


def _check_layout(root: Path, store: SqlLedgerStore, size: int) -> None:
    latest = store.latest_checkpoint()
    assert latest is not None
    assert (root / "checkpoint").read_bytes() == latest.note
    rows = list(store.entry_rows(0, size))
    for tile in tiles_for_size(size):
        data = (root / tile.path).read_bytes()
        assert len(data) == tile.width * HASH_SIZE, tile.path
        if tile.level == 0:
            first = tile.index * 256
            assert data == b"".join(r[2] for r in rows[first:first + tile.width])
            entries = decode_bundle(tile, (root / tile.bundle_path).read_bytes())
            assert entries == [r[1] for r in rows[first:first + tile.width]]


def test_tiles_at_each_checkpoint_and_proofs_equal_the_store(
        store: SqlLedgerStore, tmp_path: Path, station_signer: Signer, log_signer: Signer) -> None:
    root = tmp_path / "log"
    tiles = LocalTileStore(root)
    proofs = TileProofs(tiles, cache_bytes=16 * 8192)
    for size in SIZES:
        _grow(store, size, station_signer)
        assert _checkpoint(store, tiles, log_signer) > 0
        assert published_size(tiles) == size
        _check_layout(root, store, size)
        for index in range(size):
            assert proofs.inclusion_proof(index, size) == store.inclusion_proof(index, size)
            assert proofs.leaf_hash(index, size) == store.entry(index).leaf_hash
        for old in range(1, size + 1):
            assert proofs.consistency_proof(old, size) == store.consistency_proof(old, size)
        for cp in store.checkpoints():  # an older checkpoint's partial tiles are still served
            assert proofs.root(cp.head.size) == cp.head.root
        assert proofs.held_bytes <= proofs.cache_bytes
    assert _checkpoint(store, tiles, log_signer) == 0  # nothing new: nothing written


def test_publishing_in_small_steps_keeps_partial_tiles(
        store: SqlLedgerStore, tmp_path: Path, station_signer: Signer, log_signer: Signer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One level-0 tile per step: each level's partial tile is carried from step to step, and
    only the checkpoint's partial tiles are written."""
    monkeypatch.setattr(ledger_tiles, "STEP_TILES", 256)
    root = tmp_path / "log"
    tiles = LocalTileStore(root)
    _grow(store, 1000, station_signer)
    _checkpoint(store, tiles, log_signer)
    _check_layout(root, store, 1000)
    assert not (root / "tile/0/000.p/256").exists()
    assert sorted(p.name for p in (root / "tile/1").iterdir()) == ["000.p"]
    assert [p.name for p in (root / "tile/1/000.p").iterdir()] == ["3"]
    proofs = TileProofs(tiles)
    for index in range(0, 1000, 7):
        assert proofs.inclusion_proof(index, 1000) == store.inclusion_proof(index, 1000)


def test_tiles_are_written_once(tmp_path: Path) -> None:
    tiles = LocalTileStore(tmp_path / "log")
    path = Tile(0, 1234067, 256).path
    tiles.write_once(path, b"a" * 8192)
    tiles.write_once(path, b"a" * 8192)  # the same bytes again: a second publisher
    with pytest.raises(ConflictError, match="immutable"):
        tiles.write_once(path, b"b" * 8192)
    written = tmp_path / "log/tile/0/x001/x234/067"
    assert written.read_bytes() == b"a" * 8192
    assert stat.S_IMODE(written.stat().st_mode) == 0o444
    with pytest.raises(NotFoundError):
        tiles.read("tile/0/000")
    with pytest.raises(ValueError, match="tlog-tiles path"):
        tiles.read("../keyring.json")


def _no_clip(sha256: str) -> Clip:
    raise NotFoundError(f"no clip {sha256} in this test's catalogue")


def test_verify_by_hash_with_proofs_from_tiles(
        store: SqlLedgerStore, tmp_path: Path, station_signer: Signer, log_signer: Signer) -> None:
    """``proofs_from_tiles``: the same answer as from the store's levels; while the tiles lag
    the latest checkpoint (recorded before its tiles), the store answers."""
    tiles = LocalTileStore(tmp_path / "log")
    _grow(store, 600, station_signer)
    _checkpoint(store, tiles, log_signer)

    def proofs(tile_proofs: TileProofs | None) -> Proofs:
        return Proofs(store=store, trust=lambda: TrustRoot(origin=ORIGIN, keys=()),
                      clip_of=_no_clip,
                      publish=lambda: None, tile_proofs=tile_proofs)

    for subject in ("s0", "s257", "s599"):
        from_tiles = proofs(TileProofs(tiles)).verify(subject)
        assert from_tiles == proofs(None).verify(subject)
        assert from_tiles.entries[0].proof is not None
    _grow(store, 650, station_signer)
    publish_checkpoint(store, origin=ORIGIN, signers=[log_signer], now=AT)  # no tiles yet
    lagging = proofs(TileProofs(tiles)).verify("s640")
    assert lagging == proofs(None).verify("s640")
    assert lagging.entries[0].proof is not None
