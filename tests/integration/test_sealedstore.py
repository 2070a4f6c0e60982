"""Encryption at rest (storage/sealedstore.py, docs/adr/0010-sm4-envelope.md) over the real stores:
the local WORM directory (SQLite) and Ceph RGW (PostgreSQL). The stores hold only ciphertext;
reads decrypt, ranges fetch only their segments, tampering is caught and named, a KEK rotation
re-wraps keys without touching the objects."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.http.ranges import read_range
from evidence.errors import ConflictError, PolicyViolationError, VerificationError
from evidence.ids import Sha256Hex
from integrity import sm4stream as s4
from storage.kekfile import KekFileKeyService
from storage.ledger_store import SqlLedgerStore
from storage.localstore import LocalWormStore, UnsafeStoreWarning
from storage.object_keys import SqlObjectKeys
from storage.s3store import S3ObjectLockStore
from storage.sealedstore import FETCH_SEGMENTS, RangedStore, SealedStore
from tests.integration.conftest import ORIGIN, pinned_clock
from tests.support import s3 as rgw_support
from tests.support.s3 import MIN_DAYS, Buckets, S3Env

s3_env = rgw_support.s3_env
s3_admin = rgw_support.s3_admin
buckets = rgw_support.buckets

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
S = s4.SEGMENT_BYTES


class CountingStore:
    """The local store, counting the sealed bytes fetched by range (to show that a range read
    fetches only its segments)."""

    def __init__(self, inner: LocalWormStore) -> None:
        self.inner = inner
        self.url = inner.url
        self.fetched = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def read_range(self, obj: Any, offset: int, length: int) -> bytes:
        data = self.inner.read_range(obj, offset, length)
        self.fetched += len(data)
        return data


def _plain(size: int, seed: int) -> bytes:
    return (hashlib.sha256(str(seed).encode()).digest() * (size // 32 + 1))[:size]


def _source(tmp_path: Path, data: bytes) -> tuple[Path, Sha256Hex]:
    path = tmp_path / f"src-{hashlib.sha256(data).hexdigest()[:12]}"
    path.write_bytes(data)
    return path, Sha256Hex(hashlib.sha256(data).hexdigest())


@pytest.fixture
def records(tmp_path: Path) -> Iterator[SqlObjectKeys]:
    ledger = SqlLedgerStore.open(f"sqlite:///{tmp_path / 'ledger.db'}", origin=ORIGIN,
                                 clock=pinned_clock)
    yield SqlObjectKeys(ledger.engine, clock=pinned_clock)
    ledger.close()


@pytest.fixture
def local(tmp_path: Path) -> LocalWormStore:
    with pytest.warns(UnsafeStoreWarning):
        return LocalWormStore(tmp_path / "objects", clock=lambda: NOW)


def _sealed(inner: RangedStore, tmp_path: Path, records: SqlObjectKeys) -> SealedStore:
    return SealedStore(inner, keys=KekFileKeyService(tmp_path / "keys" / "kek"),
                       records=records)


def _scan(files: list[bytes], originals: list[bytes]) -> list[str]:
    """Which originals (of 64 bytes or more) show a 64-byte window, taken every 4 KiB, in any
    stored file."""
    found = []
    for n, data in enumerate(originals):
        if len(data) < 64:
            continue
        windows = {data[i:i + 64] for i in range(0, len(data) - 63, 4096)}
        if any(w in blob for w in windows for blob in files):
            found.append(f"original {n}")
    return found


def test_local_store_holds_only_ciphertext_and_reads_decrypt(
        local: LocalWormStore, tmp_path: Path, records: SqlObjectKeys) -> None:
    store = _sealed(local, tmp_path, records)
    originals = [_plain(size, seed) for seed, size in enumerate((0, 1, S, 3 * S + 123))]
    objs = []
    for n, data in enumerate(originals):
        src, sha = _source(tmp_path, data)
        obj = store.put(f"originals/{n:02d}/clip", src, sha256=sha, size=len(data),
                        retain_until=NOW + timedelta(days=200))
        assert obj.sha256 == sha and obj.size == len(data)
        assert obj.sealing is not None and obj.sealing.sealed_size == s4.sealed_size(len(data))
        assert obj.version_id == obj.sealing.sealed_sha256  # the local store's version id
        objs.append(obj)
        with store.open(obj) as fh:
            assert fh.read() == data
        store.verify(obj, rehash=True)
        store.verify_plaintext(obj)
    stored = [p.read_bytes() for p in (tmp_path / "objects" / "objects").rglob("*")
              if p.is_file()]
    assert len(stored) == len(originals)
    assert _scan(stored, originals) == []
    # The scan can find what it looks for: the plaintext files themselves.
    assert _scan([_plain(3 * S + 123, 3)], originals) == ["original 3"]


def test_range_read_fetches_only_its_segments(local: LocalWormStore, tmp_path: Path,
                                              records: SqlObjectKeys) -> None:
    counting = CountingStore(local)
    store = _sealed(counting, tmp_path, records)
    data = _plain(40 * S + 5, 9)
    src, sha = _source(tmp_path, data)
    obj = store.put("originals/rr/clip", src, sha256=sha, size=len(data),
                    retain_until=NOW + timedelta(days=200))
    with store.open(obj) as fh:
        fh.seek(20 * S + 100)
        assert fh.read(1000) == data[20 * S + 100:20 * S + 1100]
    assert 0 < counting.fetched <= FETCH_SEGMENTS * (S + s4.TAG_BYTES)
    assert counting.fetched < s4.sealed_size(len(data)) // 2


def test_tampered_segment_is_named(local: LocalWormStore, tmp_path: Path,
                                   records: SqlObjectKeys) -> None:
    store = _sealed(local, tmp_path, records)
    data = _plain(5 * S, 4)
    src, sha = _source(tmp_path, data)
    obj = store.put("originals/tt/clip", src, sha256=sha, size=len(data),
                    retain_until=NOW + timedelta(days=200))
    path = tmp_path / "objects" / "objects" / "originals" / "tt" / "clip"
    raw = bytearray(path.read_bytes())
    raw[s4.segment_offset(3) + 7] ^= 1
    st = path.stat()
    path.chmod(0o600)
    path.write_bytes(bytes(raw))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # hide it from size/mtime checks
    path.chmod(0o400)
    with pytest.raises(VerificationError, match="segment 3"), store.open(obj) as fh:
        fh.read()
    with pytest.raises(VerificationError):  # fixity without keys sees it too
        store.verify(obj, rehash=True)


def test_resumed_put_reuses_the_key_and_other_bytes_conflict(
        local: LocalWormStore, tmp_path: Path, records: SqlObjectKeys) -> None:
    store = _sealed(local, tmp_path, records)
    data = _plain(2 * S + 1, 5)
    src, sha = _source(tmp_path, data)
    until = NOW + timedelta(days=200)
    first = store.put("originals/rp/clip", src, sha256=sha, size=len(data), retain_until=until)
    again = store.put("originals/rp/clip", src, sha256=sha, size=len(data), retain_until=until)
    assert again == first
    other, other_sha = _source(tmp_path, _plain(10, 6))
    with pytest.raises(ConflictError):
        store.put("originals/rp/clip", other, sha256=other_sha, size=10, retain_until=until)


def test_kek_rotation_rewraps_without_touching_objects(
        local: LocalWormStore, tmp_path: Path, records: SqlObjectKeys) -> None:
    store = _sealed(local, tmp_path, records)
    data = _plain(3 * S, 8)
    src, sha = _source(tmp_path, data)
    obj = store.put("originals/kr/clip", src, sha256=sha, size=len(data),
                    retain_until=NOW + timedelta(days=200))
    before = sorted(p.stat().st_mtime_ns for p in (tmp_path / "objects").rglob("*")
                    if p.is_file())
    keys = KekFileKeyService(tmp_path / "keys" / "kek")
    old = keys.current_kek_id()
    new = keys.rotate()
    for record in list(records.all()):
        dk = keys.unwrap(record.kek_id, record.wrapped_key, context=record.object_key.encode())
        _, wrapped = keys.wrap(dk, context=record.object_key.encode())
        records.rewrap(record.store_url, record.object_key, old_kek_id=record.kek_id,
                       kek_id=new, wrapped_key=wrapped)
    assert {r.kek_id for r in records.all()} == {new} != {old}
    with store.open(obj) as fh:
        assert fh.read() == data
    after = sorted(p.stat().st_mtime_ns for p in (tmp_path / "objects").rglob("*")
                   if p.is_file())
    assert after == before
    # The ledger's first wrapping (old KEK, retired not destroyed) still opens the key.
    assert obj.sealing is not None
    keys.unwrap(old, bytes.fromhex(obj.sealing.wrapped_key), context=obj.key.encode())


def test_rgw_bucket_holds_only_ciphertext(s3_env: S3Env, buckets: Buckets, s3_admin: Any,
                                         tmp_path: Path, records: SqlObjectKeys) -> None:
    inner = S3ObjectLockStore.connect(
        f"s3://{buckets.locked}/sealed-{tmp_path.name}", endpoint_url=s3_env.endpoint_url,
        region=s3_env.region, min_retention_days=MIN_DAYS, client=s3_env.client(),
        clock=lambda: datetime.now(UTC))
    store = _sealed(inner, tmp_path, records)
    data = _plain(3 * S + 77, 11)
    src, sha = _source(tmp_path, data)
    obj = store.put("originals/s3/clip", src, sha256=sha, size=len(data),
                    retain_until=datetime.now(UTC).replace(microsecond=0)
                    + timedelta(days=MIN_DAYS + 2))
    got = s3_admin.get_object(Bucket=buckets.locked,
                              Key=f"sealed-{tmp_path.name}/originals/s3/clip",
                              VersionId=obj.version_id)["Body"].read()
    assert len(got) == s4.sealed_size(len(data))
    assert _scan([got], [data]) == []
    with store.open(obj) as fh:
        assert fh.read() == data
        fh.seek(2 * S + 3)
        assert fh.read(10) == data[2 * S + 3:2 * S + 13]
    store.verify(obj, rehash=True)


def test_kek_files_are_private_and_wrappings_bound_to_their_object(tmp_path: Path) -> None:
    keys = KekFileKeyService(tmp_path / "kek")
    first = keys.current_kek_id()
    kek_id, wrapped = keys.wrap(b"k" * 16, context=b"originals/aa/one")
    assert kek_id == first
    assert keys.unwrap(kek_id, wrapped, context=b"originals/aa/one") == b"k" * 16
    with pytest.raises(VerificationError):  # moved to another object
        keys.unwrap(kek_id, wrapped, context=b"originals/aa/two")
    flipped = bytes([wrapped[0] ^ 1]) + wrapped[1:]
    with pytest.raises(VerificationError):
        keys.unwrap(kek_id, flipped, context=b"originals/aa/one")
    second = keys.rotate()
    assert second != first and keys.current_kek_id() == second
    assert keys.unwrap(first, wrapped, context=b"originals/aa/one") == b"k" * 16  # retired
    assert {oct(p.stat().st_mode & 0o777) for p in (tmp_path / "kek").iterdir()} == {"0o600"}
    (tmp_path / "kek" / f"{first}.kek").chmod(0o644)
    with pytest.raises(PolicyViolationError, match="readable by others"):
        keys.unwrap(first, wrapped, context=b"originals/aa/one")


def test_http_range_reads_fetch_only_their_segments(local: LocalWormStore, tmp_path: Path,
                                                    records: SqlObjectKeys) -> None:
    """api/http/ranges.py seeks the decrypting stream instead of reading up to the start."""
    counting = CountingStore(local)
    store = _sealed(counting, tmp_path, records)
    data = _plain(64 * S + 9, 12)
    src, sha = _source(tmp_path, data)
    obj = store.put("originals/hr/clip", src, sha256=sha, size=len(data),
                    retain_until=NOW + timedelta(days=200))
    start = 50 * S + 17
    got = b"".join(read_range(store.open(obj), start=start, length=3 * S))
    assert got == data[start:start + 3 * S]
    assert counting.fetched <= 4 * (S + s4.TAG_BYTES)  # 4 segments cover the range, not 54
    counting.fetched = 0
    assert b"".join(read_range(store.open(obj), start=0, length=None)) == data
    assert counting.fetched == s4.sealed_size(len(data)) - s4.HEADER_BYTES
