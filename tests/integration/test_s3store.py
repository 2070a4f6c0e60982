"""S3 Object Lock store against a real Ceph RGW 16.2 (DESIGN.md §3 steps 5-6, §5).

Every test needs RGW: the fixtures start it, and FAIL when they cannot (tests/support/s3.py).
The stop/start fault test runs last: it stops the whole cluster once and starts it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import (  # type: ignore[import-untyped]  # botocore ships no types
    ClientError,
    EndpointConnectionError,
)

from evidence.errors import (
    ConflictError,
    NotFoundError,
    PolicyViolationError,
    UnavailableError,
    VerificationError,
)
from evidence.ids import Sha256Hex
from evidence.records import StoredObject
from ingest.ports import BlobStore
from storage.s3store import S3ObjectLockStore
from tests.support import s3 as rgw_support
from tests.support.s3 import MIN_DAYS, Buckets, FaultyClient, S3Env, rgw

# The session fixtures (RGW started or the tests FAIL; fresh buckets), imported here only.
s3_env = rgw_support.s3_env
s3_admin = rgw_support.s3_admin
buckets = rgw_support.buckets

MiB = 1024 * 1024
PART = 5 * MiB  # S3's minimum part size
PREFIX = "evidence"


def _until(days: int = MIN_DAYS + 2) -> datetime:
    """Later than the locked bucket's default (MIN_DAYS + 1), so a version that only got the
    default (RGW multipart) is visibly short and must be re-locked."""
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def _now() -> datetime:
    """The real clock: the RGW judges Object Lock dates by its own (S3ObjectLockStore)."""
    return datetime.now(UTC)


def _connect(env: S3Env, bucket: str, *, client: Any = None, **options: Any) -> S3ObjectLockStore:
    return S3ObjectLockStore.connect(
        f"s3://{bucket}/{PREFIX}", endpoint_url=env.endpoint_url, region=env.region,
        min_retention_days=MIN_DAYS, client=client if client is not None else env.client(),
        clock=_now, **options)


def _source(tmp_path: Path, size: int) -> tuple[Path, Sha256Hex]:
    data = os.urandom(size)
    path = tmp_path / f"clip-{hashlib.sha256(data).hexdigest()[:12]}.mp4"
    path.write_bytes(data)
    return path, Sha256Hex(hashlib.sha256(data).hexdigest())


def _key(tmp_path: Path, label: str) -> str:
    return f"originals/{label}/{tmp_path.name}"


def _put(store: S3ObjectLockStore, key: str, path: Path, sha: Sha256Hex,
         until: datetime | None = None) -> StoredObject:
    return store.put(key, path, sha256=sha, size=path.stat().st_size,
                     retain_until=until or _until())


def _versions(admin: Any, bucket: str, key: str) -> tuple[list[dict[str, Any]],
                                                           list[dict[str, Any]]]:
    listed = admin.list_object_versions(Bucket=bucket, Prefix=f"{PREFIX}/{key}")
    full = f"{PREFIX}/{key}"
    return ([v for v in listed.get("Versions", []) if v["Key"] == full],
            [m for m in listed.get("DeleteMarkers", []) if m["Key"] == full])


def _retention(admin: Any, bucket: str, obj: StoredObject) -> tuple[str, datetime]:
    got = admin.get_object_retention(Bucket=bucket, Key=f"{PREFIX}/{obj.key}",
                                     VersionId=obj.version_id)["Retention"]
    return got["Mode"], got["RetainUntilDate"].astimezone(UTC)


def _relocks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if r.name == "storage.s3store" and "re-applied Object Lock" in r.getMessage()]


@pytest.fixture(scope="module")
def store(s3_env: S3Env, buckets: Buckets) -> S3ObjectLockStore:
    return _connect(s3_env, buckets.locked, multipart_threshold=PART, part_size=PART,
                    max_concurrency=2)


# -- the start-up probe ---------------------------------------------------------------------


def test_this_run_owns_its_cluster(s3_env: S3Env) -> None:
    """Two runs on one machine never share a folder or a port: without LIUHEN_CEPH_DIR the run
    started its own RGW in a fresh folder on a port the kernel picked (issue 11)."""
    if "LIUHEN_CEPH_DIR" in os.environ:
        pytest.skip("LIUHEN_CEPH_DIR names a shared cluster on purpose")
    assert s3_env.ceph_dir.name.startswith("liuhen-ceph-")
    assert s3_env.ceph_dir != Path("/tmp/liuhen-ceph")
    port = int(s3_env.endpoint_url.rsplit(":", 1)[1])
    assert port != 7480
    assert f"127.0.0.1:{port}" in (s3_env.ceph_dir / "ceph.conf").read_text()


def test_probe_accepts_a_compliance_bucket_and_leaves_a_locked_canary(
        s3_env: S3Env, buckets: Buckets, s3_admin: Any) -> None:
    opened = _connect(s3_env, buckets.locked)
    blob_store: BlobStore = opened
    assert blob_store.url == f"s3://{buckets.locked}/{PREFIX}"
    policy = opened.policy
    assert (policy.default_mode, policy.default_days) == ("COMPLIANCE", MIN_DAYS + 1)
    assert policy.canary_key.startswith(f"{PREFIX}/.liuhen-canary/")
    head = s3_admin.head_object(Bucket=buckets.locked, Key=policy.canary_key,
                                VersionId=policy.canary_version)
    assert head["ObjectLockMode"] == "COMPLIANCE"


def test_connect_uses_the_standard_credential_chain(s3_env: S3Env, buckets: Buckets,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in s3_env.env().items():
        monkeypatch.setenv(name, value)
    opened = S3ObjectLockStore.connect(f"s3://{buckets.locked}/{PREFIX}",
                                       endpoint_url=s3_env.endpoint_url, region=None,
                                       min_retention_days=MIN_DAYS, clock=_now)
    assert opened.url == f"s3://{buckets.locked}/{PREFIX}"


@pytest.mark.parametrize(("which", "message"), [
    ("plain", r"versioning is not enabled, must be Enabled"),
    ("versioning_only", r"Object Lock is not enabled on this bucket"),
    ("governance", r"the default retention mode is GOVERNANCE, must be COMPLIANCE"),
    ("short", rf"the default retention is {MIN_DAYS - 1} days, shorter than the policy minimum "
              rf"of {MIN_DAYS} days"),
])
def test_probe_refuses_unsafe_buckets(s3_env: S3Env, buckets: Buckets, which: str,
                                      message: str) -> None:
    bucket = getattr(buckets, which)
    with pytest.raises(PolicyViolationError, match=f"s3://{bucket}: {message}"):
        _connect(s3_env, bucket)


def test_probe_refuses_a_missing_bucket(s3_env: S3Env) -> None:
    with pytest.raises(PolicyViolationError, match="the bucket does not exist"):
        _connect(s3_env, "liuhen-no-such-bucket")


def test_probe_refuses_a_server_that_deletes_locked_versions(s3_env: S3Env,
                                                             buckets: Buckets) -> None:
    # A server that claims Object Lock but lets the delete through (simulated: the wrapper
    # answers DeleteObject with success without sending it; the real server would refuse).
    liar = FaultyClient(s3_env.client(), delete_object=lambda real, **kw: {"DeleteMarker": False})
    with pytest.raises(PolicyViolationError, match="DeleteObject of the COMPLIANCE-locked canary "
                                                   r"version .* SUCCEEDED"):
        _connect(s3_env, buckets.locked, client=liar)


def test_probe_refuses_a_server_that_shortens_retention(s3_env: S3Env,
                                                        buckets: Buckets) -> None:
    # Simulated: the wrapper answers the shortening with success without sending it.
    liar = FaultyClient(s3_env.client(), put_object_retention=lambda real, **kw: {})
    with pytest.raises(PolicyViolationError, match="shortening the canary's COMPLIANCE "
                                                   "retention SUCCEEDED"):
        _connect(s3_env, buckets.locked, client=liar)


# -- uploads ----------------------------------------------------------------------------------


def test_single_put_is_compliance_locked_as_requested(
        store: S3ObjectLockStore, buckets: Buckets, s3_admin: Any,
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path, sha = _source(tmp_path, MiB)
    until = _until()
    with caplog.at_level(logging.WARNING, logger="storage.s3store"):
        obj = _put(store, _key(tmp_path, "single"), path, sha, until)
    assert (obj.lock_mode, obj.retain_until, obj.size, obj.sha256) == (
        "COMPLIANCE", until, MiB, sha)
    assert _retention(s3_admin, buckets.locked, obj) == ("COMPLIANCE", until)
    head = s3_admin.head_object(Bucket=buckets.locked, Key=f"{PREFIX}/{obj.key}",
                                VersionId=obj.version_id)
    assert head["Metadata"] == {"sha256": sha}
    assert head["ETag"].strip('"') == hashlib.md5(path.read_bytes(),
                                                  usedforsecurity=False).hexdigest()
    assert _relocks(caplog) == []  # a single PUT's lock headers are honoured


def test_multipart_upload_is_relocked_to_the_requested_date(
        store: S3ObjectLockStore, buckets: Buckets, s3_admin: Any,
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path, sha = _source(tmp_path, 3 * PART + 123)
    until = _until()
    with caplog.at_level(logging.WARNING, logger="storage.s3store"):
        obj = _put(store, _key(tmp_path, "multipart"), path, sha, until)
    # RGW 16.2 ignored the lock headers on CreateMultipartUpload (the version got the bucket
    # default, MIN_DAYS + 1 days): the store noticed and re-applied the requested date.
    assert len(_relocks(caplog)) == 1
    assert (obj.lock_mode, obj.retain_until) == ("COMPLIANCE", until)
    assert _retention(s3_admin, buckets.locked, obj) == ("COMPLIANCE", until)
    head = s3_admin.head_object(Bucket=buckets.locked, Key=f"{PREFIX}/{obj.key}",
                                VersionId=obj.version_id)
    assert head["ETag"].strip('"').endswith("-4")
    assert store.verify(obj, rehash=True) == obj
    assert not Path(f"{path}.upload.json").exists()


def test_same_bytes_again_returns_the_stored_version(
        store: S3ObjectLockStore, buckets: Buckets, s3_admin: Any,
        tmp_path: Path) -> None:
    path, sha = _source(tmp_path, 1000)
    key = _key(tmp_path, "idem")
    until = _until()  # once: two calls may straddle a second and ask for a later date
    first = _put(store, key, path, sha, until)
    assert _put(store, key, path, sha, until) == first
    versions, markers = _versions(s3_admin, buckets.locked, key)
    assert len(versions) == 1 and markers == []


def test_other_bytes_under_a_used_key_conflict(store: S3ObjectLockStore,
                                               tmp_path: Path) -> None:
    path, sha = _source(tmp_path, 1000)
    key = _key(tmp_path, "conflict")
    obj = _put(store, key, path, sha)
    other, other_sha = _source(tmp_path, 1001)
    with pytest.raises(ConflictError, match=f"other bytes under {key}.*{obj.version_id}"):
        _put(store, key, other, other_sha)


def test_a_source_that_changed_since_acquisition_is_not_stored(
        store: S3ObjectLockStore, buckets: Buckets, s3_admin: Any,
        tmp_path: Path) -> None:
    path, _ = _source(tmp_path, 2 * PART + 1)
    key = _key(tmp_path, "changed")
    with pytest.raises(VerificationError, match="the caller recorded"):
        store.put(key, path, sha256=Sha256Hex("0" * 64), size=path.stat().st_size,
                  retain_until=_until())
    assert _versions(s3_admin, buckets.locked, key) == ([], [])


def test_bad_digest_is_a_verification_error(s3_env: S3Env, buckets: Buckets,
                                            tmp_path: Path) -> None:
    def corrupt(real: Callable[..., Any], **kw: Any) -> Any:
        if ".liuhen-canary/" in kw["Key"]:
            return real(**kw)
        body = bytearray(kw["Body"])
        body[0] ^= 0xFF  # a bit flipped on the wire: Content-MD5 no longer matches
        return real(**{**kw, "Body": bytes(body)})

    flaky = _connect(s3_env, buckets.locked, client=FaultyClient(s3_env.client(),
                                                                 put_object=corrupt))
    path, sha = _source(tmp_path, 1000)
    with pytest.raises(VerificationError, match="BadDigest"):
        _put(flaky, _key(tmp_path, "baddigest"), path, sha)


def test_retention_below_the_policy_minimum_is_refused(store: S3ObjectLockStore,
                                                       tmp_path: Path) -> None:
    path, sha = _source(tmp_path, 10)
    with pytest.raises(PolicyViolationError, match=f"policy minimum of {MIN_DAYS} days"):
        _put(store, _key(tmp_path, "short"), path, sha, _until(days=1))


def test_what_goes_on_the_wire(s3_env: S3Env, buckets: Buckets, tmp_path: Path) -> None:
    """Content-MD5 on every PUT and part, COMPLIANCE on every upload, never a governance
    bypass, and no Delete* but the probe's (refused) delete of its canary."""
    sent: list[tuple[str, dict[str, str]]] = []

    def record(request: Any, event_name: str, **_: Any) -> None:
        sent.append((event_name.rsplit(".", 1)[-1], {k.lower(): v.decode() if isinstance(v, bytes)
                                                     else v for k, v in request.headers.items()}))

    client = s3_env.client()
    client.meta.events.register("before-send.s3", record)
    watched = _connect(s3_env, buckets.locked, client=client, multipart_threshold=PART,
                       part_size=PART)
    small, small_sha = _source(tmp_path, 1000)
    big, big_sha = _source(tmp_path, 2 * PART + 1)
    for label, path, sha in (("wire-small", small, small_sha), ("wire-big", big, big_sha)):
        obj = _put(watched, _key(tmp_path, label), path, sha)
        watched.verify(obj, rehash=True)
        watched.extend_retention(obj, obj.retain_until + timedelta(days=1))
        watched.set_legal_hold(obj, True)
        watched.set_legal_hold(obj, False)
    operations = [op for op, _ in sent]
    assert all("x-amz-bypass-governance-retention" not in headers for _, headers in sent)
    assert [op for op in operations if op.startswith("Delete")] == ["DeleteObject"]  # canary
    uploads = [(op, h) for op, h in sent if op in ("PutObject", "UploadPart")]
    assert len(uploads) == 1 + 1 + 3  # canary, small PUT, 3 parts
    assert all("content-md5" in h for _, h in uploads)
    assert all(h["x-amz-object-lock-mode"] == "COMPLIANCE"
               for op, h in sent if op in ("PutObject", "CreateMultipartUpload"))


# -- what the server refuses, and what verify() notices --------------------------------------


def test_the_server_refuses_delete_and_shortening_and_the_object_stays(
        store: S3ObjectLockStore, buckets: Buckets, s3_admin: Any,
        tmp_path: Path) -> None:
    path, sha = _source(tmp_path, 4096)
    obj = _put(store, _key(tmp_path, "refused"), path, sha)
    full = f"{PREFIX}/{obj.key}"
    with pytest.raises(ClientError) as deleting:
        s3_admin.delete_object(Bucket=buckets.locked, Key=full, VersionId=obj.version_id)
    assert deleting.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as shortening:
        s3_admin.put_object_retention(
            Bucket=buckets.locked, Key=full, VersionId=obj.version_id,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": _until(days=MIN_DAYS)})
    assert shortening.value.response["Error"]["Code"] == "AccessDenied"
    assert store.verify(obj, rehash=True) == obj
    assert _retention(s3_admin, buckets.locked, obj) == ("COMPLIANCE", obj.retain_until)


def test_verify_flags_a_version_replaced_behind_the_stores_back(
        store: S3ObjectLockStore, buckets: Buckets, s3_admin: Any,
        tmp_path: Path) -> None:
    path, sha = _source(tmp_path, 4096)
    obj = _put(store, _key(tmp_path, "replaced"), path, sha)
    forged = s3_admin.put_object(Bucket=buckets.locked, Key=f"{PREFIX}/{obj.key}",
                                 Body=b"forged clip", Metadata={"sha256": sha})
    with pytest.raises(VerificationError,
                       match=f"latest entry is version {forged['VersionId']}.*not our version "
                             f"{obj.version_id}"):
        store.verify(obj)
    with store.open(obj) as stream:  # our version itself is intact, by VersionId
        assert stream.read() == path.read_bytes()


def test_verify_flags_a_delete_marker_on_top(
        store: S3ObjectLockStore, buckets: Buckets, s3_admin: Any,
        tmp_path: Path) -> None:
    path, sha = _source(tmp_path, 4096)
    obj = _put(store, _key(tmp_path, "marked"), path, sha)
    marker = s3_admin.delete_object(Bucket=buckets.locked, Key=f"{PREFIX}/{obj.key}")
    assert marker["DeleteMarker"]
    with pytest.raises(VerificationError, match=f"delete marker {marker['VersionId']}"):
        store.verify(obj)
    # and the key is never reused: its history conflicts with a new upload
    with pytest.raises(ConflictError, match="no live version"):
        _put(store, obj.key, path, sha)


def test_a_missing_version_is_not_found(store: S3ObjectLockStore, tmp_path: Path) -> None:
    path, sha = _source(tmp_path, 10)
    obj = _put(store, _key(tmp_path, "missing"), path, sha)
    ghost = StoredObject(store=obj.store, key=obj.key, version_id="no-such-version-0000000000",
                         size=obj.size, sha256=obj.sha256, lock_mode=obj.lock_mode,
                         retain_until=obj.retain_until)
    with pytest.raises(NotFoundError):
        store.verify(ghost)


def test_legal_hold_on_and_off(store: S3ObjectLockStore, buckets: Buckets, s3_admin: Any,
                               tmp_path: Path) -> None:
    path, sha = _source(tmp_path, 10)
    obj = _put(store, _key(tmp_path, "hold"), path, sha)
    full = f"{PREFIX}/{obj.key}"

    def status() -> str:
        got = s3_admin.get_object_legal_hold(Bucket=buckets.locked, Key=full,
                                             VersionId=obj.version_id)
        return str(got["LegalHold"]["Status"])

    store.set_legal_hold(obj, True)
    assert status() == "ON" and store.legal_hold(obj)
    store.set_legal_hold(obj, False)
    assert status() == "OFF" and not store.legal_hold(obj)


def test_retention_extends_but_never_shortens(
        store: S3ObjectLockStore, buckets: Buckets, s3_admin: Any,
        tmp_path: Path) -> None:
    path, sha = _source(tmp_path, 10)
    obj = _put(store, _key(tmp_path, "extend"), path, sha)
    later = obj.retain_until + timedelta(days=30)
    extended = store.extend_retention(obj, later)
    assert extended.retain_until == later
    assert _retention(s3_admin, buckets.locked, obj) == ("COMPLIANCE", later)
    with pytest.raises(PolicyViolationError, match="can only be extended"):
        store.extend_retention(extended, later - timedelta(days=1))
    assert store.verify(extended) == extended


# -- resume and faults ------------------------------------------------------------------------


def _fail_after(parts: int) -> Callable[..., Any]:
    done = 0
    lock = threading.Lock()

    def upload_part(real: Callable[..., Any], **kw: Any) -> Any:
        nonlocal done
        with lock:
            done += 1
            if done > parts:
                raise EndpointConnectionError(endpoint_url="http://127.0.0.1:7480 (injected)")
        return real(**kw)

    return upload_part


def test_an_interrupted_multipart_upload_resumes_with_only_the_missing_parts(
        s3_env: S3Env, buckets: Buckets, s3_admin: Any, tmp_path: Path) -> None:
    path, sha = _source(tmp_path, 4 * PART + 99)  # 5 parts
    key = _key(tmp_path, "resume")
    options = {"multipart_threshold": PART, "part_size": PART, "max_concurrency": 2}
    broken = FaultyClient(s3_env.client(), upload_part=_fail_after(2))
    with pytest.raises(UnavailableError, match="unreachable"):
        _put(_connect(s3_env, buckets.locked, client=broken, **options), key, path, sha)
    state = json.loads(Path(f"{path}.upload.json").read_text())
    assert sorted(state["parts"]) == ["1", "2"]

    counting = FaultyClient(s3_env.client())
    obj = _put(_connect(s3_env, buckets.locked, client=counting, **options), key, path, sha)
    assert counting.calls.get("create_multipart_upload", 0) == 0
    assert counting.calls["list_parts"] == 1
    assert counting.calls["upload_part"] == 3  # parts 3, 4, 5 only
    assert obj.lock_mode == "COMPLIANCE" and obj.size == path.stat().st_size
    assert not Path(f"{path}.upload.json").exists()
    versions, markers = _versions(s3_admin, buckets.locked, key)
    assert [v["VersionId"] for v in versions] == [obj.version_id] and markers == []


def test_a_part_the_server_holds_with_other_bytes_is_uploaded_again(
        s3_env: S3Env, buckets: Buckets, tmp_path: Path) -> None:
    path, sha = _source(tmp_path, 2 * PART + 1)
    key = _key(tmp_path, "badpart")
    options = {"multipart_threshold": PART, "part_size": PART, "max_concurrency": 1}
    broken = FaultyClient(s3_env.client(), upload_part=_fail_after(1))
    with pytest.raises(UnavailableError):
        _put(_connect(s3_env, buckets.locked, client=broken, **options), key, path, sha)
    upload_id = json.loads(Path(f"{path}.upload.json").read_text())["upload_id"]
    admin = s3_env.client()
    junk = os.urandom(PART)  # part 1 overwritten on the server with other (valid-MD5) bytes
    admin.upload_part(Bucket=buckets.locked, Key=f"{PREFIX}/{key}", UploadId=upload_id,
                      PartNumber=1, Body=junk)
    counting = FaultyClient(s3_env.client())
    obj = _put(_connect(s3_env, buckets.locked, client=counting, **options), key, path, sha)
    assert counting.calls["upload_part"] == 3
    _connect(s3_env, buckets.locked).verify(obj, rehash=True)


def test_sse_is_sent_on_the_canary_so_a_refusing_server_fails_at_connect(
        s3_env: S3Env, buckets: Buckets, tmp_path: Path) -> None:
    # RGW over plain HTTP refuses SSE (400 InvalidRequest): connect must say so. A server that
    # accepts it (TLS + KMS configured) must then store objects with that encryption.
    try:
        encrypted = _connect(s3_env, buckets.locked, sse="AES256")
    except PolicyViolationError as exc:
        assert "canary with {'ServerSideEncryption': 'AES256'}" in str(exc)
        return
    path, sha = _source(tmp_path, 10)
    obj = _put(encrypted, _key(tmp_path, "sse"), path, sha)
    assert encrypted.verify(obj) == obj


def test_rgw_stopped_mid_upload_then_restarted_stores_exactly_once(
        s3_env: S3Env, buckets: Buckets, s3_admin: Any, tmp_path: Path) -> None:
    path, sha = _source(tmp_path, 3 * PART + 5)  # 4 parts
    key = _key(tmp_path, "outage")
    options = {"multipart_threshold": PART, "part_size": PART, "max_concurrency": 2}
    stopped = threading.Event()
    stopper: list[threading.Thread] = []

    def stop_rgw() -> None:
        try:
            rgw("stop")
        finally:
            stopped.set()

    def upload_part(real: Callable[..., Any], **kw: Any) -> Any:
        if kw["PartNumber"] == 1:
            reply = real(**kw)
            stopper.append(threading.Thread(target=stop_rgw))
            stopper[0].start()
            return reply
        stopped.wait(timeout=300)  # later parts go out once the server is down
        return real(**kw)

    impatient = FaultyClient(s3_env.client(max_attempts=1, connect_timeout=2, read_timeout=10),
                             upload_part=upload_part)
    doomed = _connect(s3_env, buckets.locked, client=impatient, **options)
    started = time.monotonic()
    try:
        with pytest.raises(UnavailableError):
            _put(doomed, key, path, sha)
        assert stopped.is_set()
    finally:
        for thread in stopper:
            thread.join(timeout=300)
        rgw("start")
    assert time.monotonic() - started < 120
    state = json.loads(Path(f"{path}.upload.json").read_text())
    assert list(state["parts"]) == ["1"]

    counting = FaultyClient(s3_env.client())
    obj = _put(_connect(s3_env, buckets.locked, client=counting, **options), key, path, sha)
    assert counting.calls["upload_part"] == 3
    versions, markers = _versions(s3_admin, buckets.locked, key)
    assert [v["VersionId"] for v in versions] == [obj.version_id] and markers == []
    assert _connect(s3_env, buckets.locked).verify(obj, rehash=True) == obj
