"""The local write-once directory store (DESIGN.md §5 "Embedded default"): once, read-only,
hashed in metadata, honest about being weaker than Object Lock."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evidence.errors import ConflictError, NotFoundError, PolicyViolationError, VerificationError
from evidence.ids import Sha256Hex
from evidence.records import StoredObject
from ingest.ports import BlobStore
from storage.localstore import LOCK_MODE, LocalWormStore, UnsafeStoreWarning

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
KEY = "originals/ab/clip-0001.mp4"


def _store(root: Path, *, min_days: int = 180) -> LocalWormStore:
    with pytest.warns(UnsafeStoreWarning):
        return LocalWormStore(root, min_retention_days=min_days, clock=lambda: NOW)


@pytest.fixture
def store(tmp_path: Path) -> LocalWormStore:
    return _store(tmp_path / "objects")


def _source(tmp_path: Path, data: bytes, name: str = "clip.mp4") -> tuple[Path, Sha256Hex]:
    path = tmp_path / name
    path.write_bytes(data)
    return path, Sha256Hex(hashlib.sha256(data).hexdigest())


def _put(store: LocalWormStore, tmp_path: Path, data: bytes, *, key: str = KEY,
         days: int = 200) -> StoredObject:
    src, sha = _source(tmp_path, data, name=f"src-{hashlib.sha256(data).hexdigest()[:16]}")
    return store.put(key, src, sha256=sha, size=len(data),
                     retain_until=NOW + timedelta(days=days))


def _sidecars(store: LocalWormStore, key: str = KEY) -> list[Path]:
    return sorted((store.root / "meta" / key).glob("*.json"))


def test_is_a_blob_store(store: LocalWormStore) -> None:
    blob_store: BlobStore = store
    assert blob_store.url == store.root.as_uri()
    assert store.url.startswith("file:///")


def test_warns_once_on_construction(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="storage.localstore"), \
            pytest.warns(UnsafeStoreWarning, match="weaker than S3 Object Lock") as warned:
        LocalWormStore(tmp_path / "objects", clock=lambda: NOW)
    assert len(warned) == 1
    assert issubclass(UnsafeStoreWarning, UserWarning)
    records = [r for r in caplog.records if "weaker than S3 Object Lock" in r.getMessage()]
    assert len(records) == 1 and records[0].levelno == logging.WARNING


def test_writes_once_read_only_with_sidecar(store: LocalWormStore, tmp_path: Path) -> None:
    data = b"\x00\x01clip bytes" * 1000
    obj = _put(store, tmp_path, data)
    sha = hashlib.sha256(data).hexdigest()
    assert obj == StoredObject(store=store.url, key=KEY, version_id=sha, size=len(data),
                               sha256=Sha256Hex(sha), lock_mode=LOCK_MODE,
                               retain_until=NOW + timedelta(days=200))
    path = store.root / "objects" / KEY
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o400
    [sidecar] = _sidecars(store)
    assert stat.S_IMODE(sidecar.stat().st_mode) == 0o400
    assert sha in sidecar.read_text()
    leftovers = [p.name for p in path.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # the temp file is gone


def test_same_bytes_is_idempotent(store: LocalWormStore, tmp_path: Path) -> None:
    first = _put(store, tmp_path, b"same bytes")
    again = _put(store, tmp_path, b"same bytes")
    assert again == first
    assert len(_sidecars(store)) == 1


def test_other_bytes_under_the_same_key_conflict(store: LocalWormStore, tmp_path: Path) -> None:
    _put(store, tmp_path, b"original")
    with pytest.raises(ConflictError, match=KEY):
        _put(store, tmp_path, b"forgery")
    assert (store.root / "objects" / KEY).read_bytes() == b"original"


def test_no_delete_api(store: LocalWormStore) -> None:
    names = {n.lower() for n in dir(store)}
    assert not {n for n in names if any(w in n for w in ("delete", "remove", "unlink", "purge"))}


def test_source_not_matching_the_recorded_hash_is_refused(store: LocalWormStore,
                                                          tmp_path: Path) -> None:
    src, _ = _source(tmp_path, b"bytes changed in staging")
    with pytest.raises(VerificationError, match="SHA-256"):
        store.put(KEY, src, sha256=Sha256Hex("0" * 64), size=src.stat().st_size,
                  retain_until=NOW + timedelta(days=200))
    assert [p for p in (store.root / "objects").rglob("*") if not p.is_dir()] == []


def test_retention_below_the_policy_minimum_is_refused(store: LocalWormStore,
                                                        tmp_path: Path) -> None:
    with pytest.raises(PolicyViolationError, match="180 days"):
        _put(store, tmp_path, b"short-lived", days=30)


@pytest.mark.parametrize("key", ["../escape", "/abs/path", "a//b", ".hidden", "a/./b", ""])
def test_unsafe_keys_are_refused(store: LocalWormStore, tmp_path: Path, key: str) -> None:
    with pytest.raises(PolicyViolationError, match="not allowed"):
        _put(store, tmp_path, b"x", key=key)


def test_rehash_catches_an_edit_that_keeps_size_and_mtime(store: LocalWormStore,
                                                          tmp_path: Path) -> None:
    obj = _put(store, tmp_path, b"A" * 4096)
    path = store.root / "objects" / KEY
    before = path.stat()
    path.chmod(0o644)  # the attacker: make it writable, flip bytes in place, restore the times
    with path.open("r+b") as fh:
        fh.seek(100)
        fh.write(b"B")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    path.chmod(0o400)
    assert store.verify(obj) == obj  # the cheap check cannot see it...
    with pytest.raises(VerificationError, match=KEY):
        store.verify(obj, rehash=True)  # ...the re-hash does


def test_verify_catches_a_plain_edit_and_a_replaced_file(store: LocalWormStore,
                                                         tmp_path: Path) -> None:
    obj = _put(store, tmp_path, b"A" * 4096)
    path = store.root / "objects" / KEY
    path.chmod(0o644)
    path.write_bytes(b"A" * 4095 + b"B")
    with pytest.raises(VerificationError, match=f"{KEY}: the file was modified or replaced"):
        store.verify(obj)
    path.unlink()
    path.write_bytes(b"C" * 10)
    with pytest.raises(VerificationError, match=KEY):
        store.verify(obj)


def test_missing_file_is_not_found(store: LocalWormStore, tmp_path: Path) -> None:
    obj = _put(store, tmp_path, b"gone soon")
    (store.root / "objects" / KEY).unlink()
    with pytest.raises(NotFoundError, match=KEY):
        store.verify(obj)


def test_writable_mode_is_reset(store: LocalWormStore, tmp_path: Path,
                                caplog: pytest.LogCaptureFixture) -> None:
    obj = _put(store, tmp_path, b"mode")
    path = store.root / "objects" / KEY
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="storage.localstore"):
        store.verify(obj)
    assert stat.S_IMODE(path.stat().st_mode) == 0o400
    assert any("made owner-read-only again" in r.getMessage() for r in caplog.records)


def test_open_reads_and_checks_the_bytes(store: LocalWormStore, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)
    obj = _put(store, tmp_path, data)
    with store.open(obj) as stream:
        assert stream.read() == data
    path = store.root / "objects" / KEY
    before = path.stat()
    path.chmod(0o644)
    with path.open("r+b") as fh:
        fh.write(b"\xff")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    with store.open(obj) as stream, pytest.raises(VerificationError, match="SHA-256"):
        stream.read()


def test_retention_only_extends_in_new_sidecar_versions(store: LocalWormStore,
                                                         tmp_path: Path) -> None:
    obj = _put(store, tmp_path, b"retained")
    later = store.extend_retention(obj, NOW + timedelta(days=400))
    assert later.retain_until == NOW + timedelta(days=400)
    assert store.verify(obj).retain_until == NOW + timedelta(days=400)
    with pytest.raises(PolicyViolationError, match="only be extended"):
        store.extend_retention(obj, NOW + timedelta(days=300))
    sidecars = _sidecars(store)
    assert [p.name for p in sidecars] == ["000001.json", "000002.json"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o400 for p in sidecars)
    first = (NOW + timedelta(days=200)).isoformat()
    assert first in sidecars[0].read_text()  # the first version is untouched


def test_legal_hold_on_and_off(store: LocalWormStore, tmp_path: Path) -> None:
    obj = _put(store, tmp_path, b"held")
    assert not store.legal_hold(obj)
    store.set_legal_hold(obj, True)
    assert store.legal_hold(obj)
    store.set_legal_hold(obj, True)  # no change, no new version
    store.set_legal_hold(obj, False)
    assert not store.legal_hold(obj)
    assert len(_sidecars(store)) == 3


def test_a_crash_before_the_sidecar_is_repaired_by_the_next_put(store: LocalWormStore,
                                                               tmp_path: Path) -> None:
    obj = _put(store, tmp_path, b"crash")
    for sidecar in _sidecars(store):
        sidecar.unlink()
    assert _put(store, tmp_path, b"crash") == obj
    assert len(_sidecars(store)) == 1


def test_survives_a_new_instance(store: LocalWormStore, tmp_path: Path) -> None:
    obj = _put(store, tmp_path, b"persisted")
    reopened = _store(store.root)
    assert reopened.verify(obj, rehash=True) == obj
