"""S3 Object Lock object store (DESIGN.md §3 steps 5-6, §5): the production ``BlobStore``.

``S3ObjectLockStore.connect("s3://BUCKET/PREFIX", ...)`` builds a boto3 client from boto3's own
credential chain (this module reads no environment itself), probes the bucket (storage/s3probe.py:
versioning, Object Lock, default COMPLIANCE rule >= the policy minimum, a canary whose delete and
retention shortening must both be refused) and raises PolicyViolationError when anything is
wrong. Then, per object:

- keys are unique: before an upload the key is HEADed; the same SHA-256 (``x-amz-meta-sha256``)
  → that version is verified and returned (idempotent resume); other bytes, or earlier versions
  or a delete marker without a live version → ConflictError;
- uploads carry Content-MD5 on every PUT and part, SHA-256 in metadata and an explicit
  ``ObjectLockMode=COMPLIANCE`` + ``ObjectLockRetainUntilDate`` (storage/s3upload.py; sources
  larger than ``multipart_threshold`` go multipart, parallel and resumable);
- afterwards the exact VersionId is HEADed: size, ETag (MD5, or md5-of-md5s ``-N``), SHA-256
  metadata, lock mode and retain-until. RGW 16.2 ignores lock headers on CreateMultipartUpload
  (the version gets the bucket default, or no lock), so a missing or earlier lock is re-applied
  with PutObjectRetention on that VersionId (logged at WARNING: "re-applied Object Lock") and
  HEADed again; if it still does not hold → VerificationError;
- reads are by VersionId only; ``verify`` also lists the key's versions: a newer version or a
  delete marker on top of ours → VerificationError naming it.

Never sent: ``x-amz-bypass-governance-retention``. Never called: any Delete* operation (the probe's
refused DeleteObject of the canary is the one deliberate exception, DESIGN.md §5).

Errors (storage/s3common.py): connection failures, timeouts, HTTP 5xx, SlowDown →
UnavailableError; AccessDenied and other refusals → PolicyViolationError; NoSuchKey/NoSuchVersion
→ NotFoundError; BadDigest → VerificationError.

Server-side encryption (``sse="AES256"`` or ``"aws:kms"`` with ``kms_key_id``) is sent on
PutObject and CreateMultipartUpload and checked on HEAD. Measured on Ceph RGW 16.2.15 over plain
HTTP: both are refused with ``400 InvalidRequest``, on PutObject and on CreateMultipartUpload
alike (RGW requires TLS for SSE unless ``rgw_crypt_require_ssl = false``, and SSE-KMS needs a
configured KMS backend). The probe writes its canary with the same SSE headers, so such a server
is refused at ``connect`` (PolicyViolationError naming the canary PutObject), not at the first
upload. Use TLS and a KMS on a production RGW; the tests do not depend on SSE.

Clients: the client built by ``connect`` sends only Content-MD5 (``request_checksum_calculation=
"when_required"``: RGW ignores the CRC32 that newer botocore adds by default), uses path-style
addressing when an ``endpoint_url`` is given, and has ``max_pool_connections >=
max_concurrency``. A ``client=`` passed in is used as is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from evidence.errors import (
    ConflictError,
    NotFoundError,
    PolicyViolationError,
    VerificationError,
)
from evidence.ids import Sha256Hex, is_sha256_hex
from evidence.records import ObjectVersion, StoredObject
from storage.blobio import verified_reader, whole_seconds
from storage.s3common import (
    COMPLIANCE,
    META_SHA256,
    RETENTION_SLACK,
    S3Client,
    bare_etag,
    describe_version,
    locked_until,
    make_client,
    retain_until_of,
    s3_errors,
    sse_args,
)
from storage.s3probe import CANARY_DIR, BucketPolicy, probe_bucket
from storage.s3upload import (
    MIN_PART_BYTES,
    UploadPlan,
    multipart_upload,
    part_size_for,
    single_put,
    state_path,
)

log = logging.getLogger(__name__)

MiB = 1024 * 1024
STEP = "store.verify"


class S3ObjectLockStore:
    """Write-once evidence storage on an S3 bucket with Object Lock; satisfies
    ``ingest.ports.BlobStore``. Build it with ``connect`` (which probes the bucket); the
    constructor does no I/O and needs the probe's ``BucketPolicy``.

    ``clock`` must read the real time (the composition root passes its one clock helper,
    ``api.compose.utc_now``, never a job's moved clock): the server judges every retain-until
    date by its own clock, so the probe's canary and the policy floor checked before each upload
    must be measured against "now" as the server sees it. A moved clock would write canaries the
    server refuses, or let a retain-until pass the floor here that is short by the server's.
    """

    def __init__(self, client: S3Client, policy: BucketPolicy, *, prefix: str,
                 min_retention_days: int, multipart_threshold: int = 64 * MiB,
                 part_size: int = 16 * MiB, max_concurrency: int = 4, sse: str | None = None,
                 kms_key_id: str | None = None, clock: Callable[[], datetime]) -> None:
        if part_size < MIN_PART_BYTES:
            raise ValueError(f"part_size {part_size} is below S3's minimum of {MIN_PART_BYTES}")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        sse_args(sse, kms_key_id)  # validates the combination
        self._client = client
        self.policy = policy
        self.bucket = policy.bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        self.min_retention_days = min_retention_days
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self.sse = sse
        self.kms_key_id = kms_key_id
        self._clock = clock

    @classmethod
    def connect(cls, url: str, *, endpoint_url: str | None, region: str | None,
                min_retention_days: int, multipart_threshold: int = 64 * MiB,
                part_size: int = 16 * MiB, max_concurrency: int = 4, sse: str | None = None,
                kms_key_id: str | None = None, client: S3Client | None = None,
                clock: Callable[[], datetime]) -> S3ObjectLockStore:
        """Connect to ``s3://BUCKET/PREFIX`` and probe it (storage/s3probe.py steps 1-8):
        PolicyViolationError saying what is wrong with the bucket, UnavailableError when the
        endpoint does not answer."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"store URL {url!r}: expected s3://BUCKET/PREFIX")
        if min_retention_days < 1:
            raise ValueError("min_retention_days must be at least 1")
        bucket, prefix = parts.netloc, parts.path.strip("/")
        if client is None:
            client = make_client(endpoint_url, region, max_concurrency)
        policy = probe_bucket(client, bucket, prefix, min_retention_days=min_retention_days,
                              clock=clock, sse_args=sse_args(sse, kms_key_id))
        return cls(client, policy, prefix=prefix, min_retention_days=min_retention_days,
                   multipart_threshold=multipart_threshold, part_size=part_size,
                   max_concurrency=max_concurrency, sse=sse, kms_key_id=kms_key_id, clock=clock)

    def __repr__(self) -> str:
        return f"S3ObjectLockStore({self.url!r})"

    # -- BlobStore -------------------------------------------------------------------------

    def put(self, key: str, source: Path, *, sha256: Sha256Hex, size: int,
            retain_until: datetime) -> StoredObject:
        """Store ``source`` once under ``key``, COMPLIANCE-locked until ``retain_until``, and
        return the verified version; see ``BlobStore.put`` and the module docstring."""
        if not is_sha256_hex(sha256):
            raise ValueError(f"sha256 {sha256!r} is not 64 lowercase hex digits")
        until = whole_seconds(retain_until)
        full = self._full_key(key)
        existing = self._existing(full, key=key, sha256=sha256, size=size, retain_until=until)
        if existing is not None:  # an earlier attempt stored it (or crashed before re-locking)
            state_path(source).unlink(missing_ok=True)
            return self._settle(existing, etag=None, retain_until=existing.retain_until)
        floor = self._clock() + timedelta(days=self.min_retention_days) - RETENTION_SLACK
        if until < floor:
            raise PolicyViolationError(
                f"retain-until {until.isoformat()} for {key} is earlier than the policy minimum "
                f"of {self.min_retention_days} days from now")
        args: dict[str, Any] = {"Metadata": {META_SHA256: sha256}, "ObjectLockMode": COMPLIANCE,
                                "ObjectLockRetainUntilDate": until,
                                **sse_args(self.sse, self.kms_key_id)}
        plan = UploadPlan(bucket=self.bucket, key=full, source=source, size=size, sha256=sha256,
                          args=args)
        if size > self.multipart_threshold:
            result = multipart_upload(self._client, plan,
                                      part_size=part_size_for(size, self.part_size),
                                      max_concurrency=self.max_concurrency)
            log.info("%s: %s uploaded in %d part(s), %d reused from an earlier attempt",
                     self.url, key, result.parts_uploaded, result.parts_reused)
        else:
            result = single_put(self._client, plan)
        obj = StoredObject(store=self.url, key=key, version_id=result.version_id, size=size,
                           sha256=sha256, lock_mode=COMPLIANCE, retain_until=until)
        obj = self._settle(obj, etag=result.etag, retain_until=until)
        state_path(source).unlink(missing_ok=True)
        return obj

    def verify(self, obj: StoredObject, *, rehash: bool = False) -> StoredObject:
        """HEAD the exact version (size, SHA-256 metadata, lock; a missing lock is re-applied),
        check that it is still the key's latest version with no delete marker on top, and with
        ``rehash`` read it back and recompute SHA-256."""
        self._own(obj)
        settled = self._settle(obj, etag=None, retain_until=obj.retain_until)
        self._check_latest(obj)
        if rehash:
            with self.open(obj) as stream:
                while stream.read(1 << 20):
                    pass  # the verified reader raises VerificationError at end of stream
        return settled

    def open(self, obj: StoredObject) -> BinaryIO:
        """GET the exact version; reading to the end raises VerificationError when the bytes
        are not the recorded size and SHA-256."""
        self._own(obj)
        full = self._full_key(obj.key)
        where = f"{self.url}/{obj.key} version {obj.version_id}"
        with s3_errors(f"{where}: GetObject"):
            reply = self._client.get_object(Bucket=self.bucket, Key=full,
                                            VersionId=obj.version_id)
        body = reply["Body"]
        if reply.get("VersionId") not in (None, obj.version_id):
            body.close()
            raise VerificationError(f"{where}: GetObject answered version "
                                    f"{reply.get('VersionId')}", step=STEP)

        def read(n: int) -> bytes:
            with s3_errors(f"{where}: reading the body"):
                data: bytes = body.read(n)
            return data

        return verified_reader(read, body.close, sha256=obj.sha256, size=obj.size, what=where)

    def read_range(self, obj: StoredObject, offset: int, length: int) -> bytes:
        """Bytes ``[offset, offset + length)`` of the exact version (GetObject with Range),
        unverified: the caller authenticates them (the sealing store's segments)."""
        self._own(obj)
        where = f"{self.url}/{obj.key} version {obj.version_id}"
        with s3_errors(f"{where}: GetObject range {offset}+{length}"):
            reply = self._client.get_object(
                Bucket=self.bucket, Key=self._full_key(obj.key), VersionId=obj.version_id,
                Range=f"bytes={offset}-{offset + length - 1}")
            data: bytes = reply["Body"].read()
        return data

    def extend_retention(self, obj: StoredObject, retain_until: datetime) -> StoredObject:
        """Move the version's COMPLIANCE retain-until later; earlier than it is now →
        PolicyViolationError (the server would refuse too)."""
        self._own(obj)
        until = whole_seconds(retain_until)
        full = self._full_key(obj.key)
        where = f"{self.url}/{obj.key} version {obj.version_id}"
        head = self._head(full, obj.version_id)
        current = retain_until_of(head)
        if current is not None and until < current:
            raise PolicyViolationError(
                f"{where}: retention can only be extended; it runs until {current.isoformat()}, "
                f"asked for {until.isoformat()}")
        if current != until or head.get("ObjectLockMode") != COMPLIANCE:
            with s3_errors(f"{where}: PutObjectRetention"):
                self._client.put_object_retention(
                    Bucket=self.bucket, Key=full, VersionId=obj.version_id,
                    Retention={"Mode": COMPLIANCE, "RetainUntilDate": until})
        return self._settle(obj, etag=None, retain_until=until)

    def set_legal_hold(self, obj: StoredObject, on: bool) -> None:
        """PutObjectLegalHold on the exact version, then read it back."""
        self._own(obj)
        full = self._full_key(obj.key)
        where = f"{self.url}/{obj.key} version {obj.version_id}"
        status = "ON" if on else "OFF"
        with s3_errors(f"{where}: PutObjectLegalHold {status}"):
            self._client.put_object_legal_hold(Bucket=self.bucket, Key=full,
                                               VersionId=obj.version_id,
                                               LegalHold={"Status": status})
        if self.legal_hold(obj) != on:
            raise VerificationError(f"{where}: the legal hold did not become {status}",
                                    step=STEP)

    def legal_hold(self, obj: StoredObject) -> bool:
        """Whether the version is under a legal hold (GetObjectLegalHold)."""
        self._own(obj)
        where = f"{self.url}/{obj.key} version {obj.version_id}"
        with s3_errors(f"{where}: GetObjectLegalHold"):
            reply = self._client.get_object_legal_hold(
                Bucket=self.bucket, Key=self._full_key(obj.key), VersionId=obj.version_id)
        return bool(reply.get("LegalHold", {}).get("Status") == "ON")

    def inventory(self) -> Iterator[ObjectVersion]:
        """Every version and delete marker under the prefix (ListObjectVersions, paginated), in
        the server's order (key, then newest first); the probe's canaries are left out. For the
        fixity audit (jobs/fixity.py): a key liuhen wrote has exactly one version, so a second
        version or a delete marker is someone else's doing."""
        prefix = f"{self.prefix}/" if self.prefix else ""
        canary = f"{prefix}{CANARY_DIR}/"
        args: dict[str, Any] = {"Bucket": self.bucket}
        if prefix:
            args["Prefix"] = prefix
        with s3_errors(f"{self.url}: ListObjectVersions"):
            for page in self._client.get_paginator("list_object_versions").paginate(**args):
                listed = [(v, False) for v in page.get("Versions", [])]
                listed += [(m, True) for m in page.get("DeleteMarkers", [])]
                listed.sort(key=lambda item: (item[0].get("Key", ""),
                                              not item[0].get("IsLatest", False)))
                for item, marker in listed:
                    full = str(item.get("Key", ""))
                    if full.startswith(canary):
                        continue
                    modified = item.get("LastModified")
                    yield ObjectVersion(
                        key=full.removeprefix(prefix), version_id=str(item.get("VersionId") or ""),
                        is_latest=bool(item.get("IsLatest")), delete_marker=marker,
                        size=int(item.get("Size") or 0),
                        modified=modified.astimezone(UTC) if isinstance(modified, datetime)
                        else None)

    # -- internals -------------------------------------------------------------------------

    def _own(self, obj: StoredObject) -> None:
        if obj.store != self.url:
            raise ValueError(f"{obj.key} belongs to {obj.store}, not {self.url}")

    def _full_key(self, key: str) -> str:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") for p in parts) or parts[0].startswith("."):
            raise PolicyViolationError(
                f"object key {key!r} is not allowed: '/'-separated non-empty segments, no "
                "'.' or '..', not starting with '.'")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _head(self, full: str, version_id: str) -> dict[str, Any]:
        with s3_errors(f"{self.url}: HeadObject {full} version {version_id}"):
            head: dict[str, Any] = self._client.head_object(Bucket=self.bucket, Key=full,
                                                            VersionId=version_id)
        return head

    def _existing(self, full: str, *, key: str, sha256: Sha256Hex, size: int,
                  retain_until: datetime) -> StoredObject | None:
        """The key's live version when it holds ``sha256`` (with the later of its own and the
        requested retain-until); None when the key is new; ConflictError otherwise."""
        try:
            with s3_errors(f"{self.url}: HeadObject {full}"):
                head = self._client.head_object(Bucket=self.bucket, Key=full)
        except NotFoundError:
            # RGW sends no x-amz-delete-marker on HEAD: list, so that a key with earlier
            # versions under a delete marker is not silently reused.
            found = self._versions(full)
            if found:
                raise ConflictError(
                    f"{self.url} already has {len(found)} version(s)/delete marker(s) under "
                    f"{key} but no live version ({describe_version(found[0])}); keys are unique"
                ) from None
            return None
        stored = head.get("Metadata", {}).get(META_SHA256)
        if stored != sha256:
            raise ConflictError(f"{self.url} already holds other bytes under {key} (version "
                                f"{head.get('VersionId')}, sha256 metadata {stored})")
        held = retain_until_of(head)
        return StoredObject(store=self.url, key=key, version_id=head["VersionId"],
                            size=size, sha256=sha256,  # _settle compares size with the HEAD
                            lock_mode=head.get("ObjectLockMode") or "",
                            retain_until=max(held, retain_until) if held else retain_until)

    def _settle(self, obj: StoredObject, *, etag: str | None,
                retain_until: datetime) -> StoredObject:
        """DESIGN.md §3 step 6: HEAD the exact version and check size, ETag (when known),
        SHA-256 metadata and SSE; lock COMPLIANCE >= ``retain_until``, re-applied if not."""
        full = self._full_key(obj.key)
        where = f"{self.url}/{obj.key} version {obj.version_id}"
        head = self._head(full, obj.version_id)
        problems = []
        if int(head.get("ContentLength", -1)) != obj.size:
            problems.append(f"size {head.get('ContentLength')} (expected {obj.size})")
        if etag is not None and bare_etag(head.get("ETag")) != etag:
            problems.append(f"ETag {head.get('ETag')} (expected {etag})")
        if head.get("Metadata", {}).get(META_SHA256) != obj.sha256:
            problems.append(f"sha256 metadata {head.get('Metadata', {}).get(META_SHA256)} "
                            f"(expected {obj.sha256})")
        if self.sse and head.get("ServerSideEncryption") != self.sse:
            problems.append(f"server-side encryption {head.get('ServerSideEncryption')} "
                            f"(expected {self.sse})")
        if problems:
            raise VerificationError(f"{where}: " + "; ".join(problems), step=STEP)
        if not locked_until(head, retain_until):
            log.warning("%s: lock is %s until %s, asked for COMPLIANCE until %s: re-applied "
                        "Object Lock with PutObjectRetention", where, head.get("ObjectLockMode"),
                        retain_until_of(head), retain_until.isoformat())
            with s3_errors(f"{where}: PutObjectRetention"):
                self._client.put_object_retention(
                    Bucket=self.bucket, Key=full, VersionId=obj.version_id,
                    Retention={"Mode": COMPLIANCE, "RetainUntilDate": retain_until})
            head = self._head(full, obj.version_id)
            if not locked_until(head, retain_until):
                raise VerificationError(
                    f"{where}: still {head.get('ObjectLockMode')} until {retain_until_of(head)} "
                    f"after PutObjectRetention COMPLIANCE until {retain_until.isoformat()}",
                    step=STEP)
        return StoredObject(store=self.url, key=obj.key, version_id=obj.version_id,
                            size=obj.size, sha256=obj.sha256, lock_mode=COMPLIANCE,
                            retain_until=retain_until_of(head) or retain_until)

    def _versions(self, full: str) -> list[dict[str, Any]]:
        """Every version and delete marker of exactly ``full`` (newest first per S3)."""
        found: list[dict[str, Any]] = []
        with s3_errors(f"{self.url}: ListObjectVersions {full}"):
            pages = self._client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=full)
            for page in pages:
                found += [dict(v, kind="version") for v in page.get("Versions", [])
                          if v.get("Key") == full]
                found += [dict(m, kind="delete marker") for m in page.get("DeleteMarkers", [])
                          if m.get("Key") == full]
        return found

    def _check_latest(self, obj: StoredObject) -> None:
        found = self._versions(self._full_key(obj.key))
        latest = [v for v in found if v.get("IsLatest")]
        where = f"{self.url}/{obj.key}"
        if not latest:
            raise VerificationError(f"{where}: no latest version listed; expected "
                                    f"{obj.version_id}", step=STEP)
        top = latest[0]
        if top["kind"] != "version" or top.get("VersionId") != obj.version_id:
            raise VerificationError(
                f"{where}: the latest entry is {describe_version(top)}, not our version "
                f"{obj.version_id}: the key was overlaid behind the store's back", step=STEP)
