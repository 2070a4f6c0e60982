"""Tiles on a real Ceph RGW with Object Lock (storage/s3tiles.py): published, audited and proven
from the bucket; each tile a COMPLIANCE-locked version that cannot be deleted; the checkpoint
key's versions are the checkpoint history; an unsafe bucket is refused.

Every test needs RGW: the fixtures start it, and FAIL when they cannot (tests/support/s3.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]  # no types

from evidence.errors import ConflictError, PolicyViolationError
from integrity.trust import TrustRoot
from ledger.publishing import publish_checkpoint
from ledger.tiles import TileProofs, audit_tiles, publish_tiles
from storage.ledger_store import SqlLedgerStore
from storage.s3tiles import S3TileStore
from tests.integration.conftest import AT, ORIGIN, make_items, make_signer, sqlite_url
from tests.support import s3 as rgw_support
from tests.support.s3 import MIN_DAYS, Buckets, S3Env

s3_env = rgw_support.s3_env
s3_admin = rgw_support.s3_admin
buckets = rgw_support.buckets


def _now() -> datetime:
    return datetime.now(UTC)  # the RGW judges Object Lock dates by its own clock


def _connect(env: S3Env, bucket: str) -> S3TileStore:
    return S3TileStore.connect(f"s3://{bucket}/log-{uuid.uuid4().hex[:8]}",
                               endpoint_url=env.endpoint_url, region=env.region,
                               retention_days=MIN_DAYS, clock=_now, client=env.client())


def test_tiles_on_object_lock(s3_env: S3Env, s3_admin: Any, buckets: Buckets,
                              tmp_path: Path) -> None:
    tiles = _connect(s3_env, buckets.locked)
    station, log = make_signer("station-test-01", role="station"), make_signer(
        "liuhen.test-bureau/log", role="log")
    with SqlLedgerStore.open(sqlite_url(tmp_path / "ledger.db"), origin=ORIGIN,
                             clock=lambda: AT) as store:
        for size in (200, 300):
            have = store.head().size
            store.append_batch(make_items(size - have, start=have), signers=[station])
            publish_checkpoint(store, origin=ORIGIN, signers=[log], now=AT)
            latest = store.latest_checkpoint()
            assert latest is not None
            assert publish_tiles(tiles, store, latest).written > 0
        report = audit_tiles(tiles, TrustRoot(origin=ORIGIN, keys=(log.public,)))
        assert report.entries == 300
        proofs = TileProofs(tiles)
        for index in (0, 199, 255, 299):
            assert proofs.inclusion_proof(index, 300) == store.inclusion_proof(index, 300)
        assert proofs.consistency_proof(200, 300) == store.consistency_proof(200, 300)
    key = f"{tiles.prefix}/tile/0/000"
    head = s3_admin.head_object(Bucket=tiles.bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ContentLength"] == 8192
    with pytest.raises(ClientError):  # nobody deletes a tile's version, the publisher neither
        s3_admin.delete_object(Bucket=tiles.bucket, Key=key, VersionId=head["VersionId"])
    with pytest.raises(ConflictError, match="immutable"):
        tiles.write_once("tile/0/000", b"\x00" * 8192)
    versions = s3_admin.list_object_versions(Bucket=tiles.bucket,
                                             Prefix=f"{tiles.prefix}/checkpoint")["Versions"]
    assert len(versions) == 2  # the checkpoint history: sizes 200 and 300


def test_an_unlocked_bucket_is_refused(s3_env: S3Env, buckets: Buckets) -> None:
    with pytest.raises(PolicyViolationError):
        _connect(s3_env, buckets.plain)
