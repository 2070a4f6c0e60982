"""``liuhen audit --tiles`` and ``verify-bundle --tiles``: the whole log verified from its C2SP
tlog-tiles alone (no database), and each tampering caught at the step and tile it breaks."""

from __future__ import annotations

import functools
import os
import re
import shutil
import threading
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from evidence.errors import VerificationError
from evidence.records import TreeHead
from integrity.notes import Signer, sign_checkpoint
from integrity.tiles import Tile
from integrity.trust import TrustRoot
from ledger.publishing import publish_checkpoint
from ledger.tiles import audit_tiles, publish_tiles, published_size
from storage.httptiles import HttpTileReader
from storage.ledger_store import SqlLedgerStore
from storage.tilestore import LocalTileStore
from tests.integration.conftest import AT, ORIGIN, make_items, make_signer, sqlite_url
from tests.integration.test_cli import demo, liuhen

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
SIZE = 700  # two full level-0 tiles, a partial one, a partial level-1 tile


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TrustRoot, Signer]:
    """A log of SIZE entries published as tiles (checkpoints at 300 and SIZE)."""
    where = tmp_path_factory.mktemp("tiles")
    station, log = make_signer("station-test-01", role="station"), make_signer(
        "liuhen.test-bureau/log", role="log")
    with SqlLedgerStore.open(sqlite_url(where / "ledger.db"), origin=ORIGIN,
                             clock=lambda: AT) as store:
        tiles = LocalTileStore(where / "log")
        for size in (300, SIZE):
            have = store.head().size
            store.append_batch(make_items(size - have, start=have), signers=[station])
            publish_checkpoint(store, origin=ORIGIN, signers=[log], now=AT)
            latest = store.latest_checkpoint()
            assert latest is not None
            publish_tiles(tiles, store, latest)
    return where / "log", TrustRoot(origin=ORIGIN, keys=(log.public,)), log


@pytest.fixture
def log_copy(published: tuple[Path, TrustRoot, Signer], tmp_path: Path) -> Path:
    copy = tmp_path / "log"
    shutil.copytree(published[0], copy)
    return copy


def _flip(path: Path, offset: int = 5) -> None:
    os.chmod(path, 0o644)  # what an attacker with file access does first
    data = bytearray(path.read_bytes())
    data[offset] ^= 1
    path.write_bytes(bytes(data))


def test_the_whole_log_verifies_from_tiles(published: tuple[Path, TrustRoot, Signer]) -> None:
    root, trust, _ = published
    report = audit_tiles(LocalTileStore(root), trust, deep=True)
    assert report.entries == SIZE and report.checkpoint.head.size == SIZE
    assert report.tiles == 4 and report.sm3_checked and report.deep


@pytest.mark.parametrize(("attack", "step", "named"), [
    (lambda r: _flip(r / "tile/0/000"), "T3", "tile/0/000"),
    (lambda r: _flip(r / "tile/0/002.p/188", 32 * 187), "T3", "tile/0/002.p/188"),
    (lambda r: _flip(r / "tile/entries/001", 40), "T", "tile/entries/001"),
    (lambda r: _flip(r / "tile/1/000.p/2", 33), "T5", "tile/1/000.p/2"),
    (lambda r: (r / "tile/entries/001").unlink(), "T2", "tile/entries/001"),
    (lambda r: (r / "tile/0/001").unlink(), "T3", "tile/0/001"),
    (lambda r: (r / "tile/1/000.p/2").unlink(), "T5", "tile/1/000.p/2"),
    (lambda r: (r / "checkpoint").unlink(), "T1", "checkpoint"),
])
def test_each_tampering_is_caught_where_it_is(log_copy: Path,
                                              published: tuple[Path, TrustRoot, Signer],
                                              attack: Callable[[Path], None], step: str,
                                              named: str) -> None:
    attack(log_copy)
    with pytest.raises(VerificationError) as caught:
        audit_tiles(LocalTileStore(log_copy), published[1])
    assert caught.value.step.startswith(step)
    assert named in str(caught.value)


def test_a_checkpoint_not_matching_the_tiles(log_copy: Path,
                                             published: tuple[Path, TrustRoot, Signer]) -> None:
    _, trust, log = published
    note = (log_copy / "checkpoint").read_bytes()
    # Signed by the log key, but over another root: the entries rebuild the real one (T6).
    forged = sign_checkpoint(ORIGIN, TreeHead(size=SIZE, root=b"\x07" * 32), [log])
    (log_copy / "checkpoint").write_bytes(forged.note)
    with pytest.raises(VerificationError) as caught:
        audit_tiles(LocalTileStore(log_copy), trust)
    assert caught.value.step == "T6"
    # Signed by a key the trust root does not name (T1).
    stranger = make_signer("liuhen.test-bureau/log", role="log")
    (log_copy / "checkpoint").write_bytes(sign_checkpoint(
        ORIGIN, TreeHead(size=SIZE, root=b"\x07" * 32), [stranger]).note)
    with pytest.raises(VerificationError) as caught:
        audit_tiles(LocalTileStore(log_copy), trust)
    assert caught.value.step == "T1"
    # Larger than the tiles published: the tiles it needs are missing.
    (log_copy / "checkpoint").write_bytes(sign_checkpoint(
        ORIGIN, TreeHead(size=SIZE + 1, root=b"\x07" * 32), [log]).note)
    with pytest.raises(VerificationError, match=r"tile/0/002\.p/189"):
        audit_tiles(LocalTileStore(log_copy), trust)
    assert note  # the honest one, for the record


def test_cli_audit_and_verify_bundle_from_tiles(tmp_path: Path) -> None:
    data = tmp_path / "d"
    demo(data)
    keyring, bundle = data / "keyring.json", data / "demo.bundle.json"
    code, out = liuhen("audit", "--tiles", str(data / "log"), "--trust-root", str(keyring))
    assert code == 0, out
    assert "瓦片审计通过" in out and "audit from tiles OK" in out
    code, out = liuhen("verify-bundle", str(bundle), "--trust-root", str(keyring), "--tiles",
                       str(data / "log"))
    assert code == 0, out
    assert "inclusion proof computed from the tiles" in out
    # The entry's leaf in the level-0 tile changed: the proof from tiles fails B4 while the
    # bundle's own copy would still pass; the audit names the tile.
    index = int(re.search(r"bundle OK: entry (\d+)", out).group(1))  # type: ignore[union-attr]
    size = int(re.search(r"size (\d+)", out).group(1))  # type: ignore[union-attr]
    # Another entry's leaf, under the entry's path, in the bundle checkpoint's level-0 tile
    # and in the latest one's (the one the audit reads).
    for tile in {Tile(0, 0, size), Tile(0, 0, published_size(LocalTileStore(data / "log")))}:
        _flip(data / "log" / tile.path, 32 * (0 if index else 1))
    code, out = liuhen("verify-bundle", str(bundle), "--trust-root", str(keyring), "--tiles",
                       str(data / "log"))
    assert code != 0 and "B4" in out, out
    code, out = liuhen("verify-bundle", str(bundle), "--trust-root", str(keyring))
    assert code == 0, out
    code, out = liuhen("audit", "--tiles", str(data / "log"), "--trust-root", str(keyring))
    assert code != 0 and "T3" in out and "tile/0/000.p/" in out, out


def test_audit_from_tiles_served_over_http(log_copy: Path,
                                           published: tuple[Path, TrustRoot, Signer]) -> None:
    """The log directory served as static files (any web server): the URL prefix is enough."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(log_copy))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    reader = HttpTileReader(f"http://127.0.0.1:{server.server_address[1]}/")
    try:
        assert audit_tiles(reader, published[1]).entries == SIZE
        (log_copy / "tile/0/001").unlink()  # a 404
        with pytest.raises(VerificationError, match="tile/0/001") as caught:
            audit_tiles(reader, published[1])
        assert caught.value.step == "T3"
    finally:
        reader.close()
        server.shutdown()
        server.server_close()


def test_deep_audit_parses_every_entry(tmp_path: Path) -> None:
    """T4 (--deep): an entry in the log that is no v1 entry is named by its index, though its
    leaf, tiles and checkpoint all agree; without --deep the hashes alone pass."""
    station, log = make_signer("station-test-01", role="station"), make_signer(
        "liuhen.test-bureau/log", role="log")
    tiles = LocalTileStore(tmp_path / "log")
    with SqlLedgerStore.open(sqlite_url(tmp_path / "ledger.db"), origin=ORIGIN,
                             clock=lambda: AT) as store:
        store.append_batch([*make_items(3), (b"not an entry", "note", "s3")], signers=[station])
        publish_checkpoint(store, origin=ORIGIN, signers=[log], now=AT)
        latest = store.latest_checkpoint()
        assert latest is not None
        publish_tiles(tiles, store, latest)
    trust = TrustRoot(origin=ORIGIN, keys=(log.public,))
    assert audit_tiles(tiles, trust).entries == 4
    with pytest.raises(VerificationError) as caught:
        audit_tiles(tiles, trust, deep=True)
    assert caught.value.step == "T4" and caught.value.index == 3
    assert "tile/entries/000.p/4" in str(caught.value)
