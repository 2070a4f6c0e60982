"""The log's C2SP tlog-tiles in an S3 bucket with Object Lock (ledger.ports.TileStore;
docs/ledger-format.md §10), under ``s3://BUCKET/PREFIX`` (the prefix a tlog client is given is
that bucket path's public URL).

Threat model: the bucket is probed as the evidence store is (storage/s3probe.py: versioning,
Object Lock, a COMPLIANCE default rule, a canary that cannot be deleted or shortened), and each
tile and entry bundle is PUT with explicit COMPLIANCE retention: nobody, the publisher included,
can delete or replace a version. ``write_once`` reads the key first and refuses other bytes
(ConflictError); a second version with the same bytes (two publishers racing) is harmless. The
``checkpoint`` key takes a new version at each checkpoint, locked by the bucket's default rule,
so its versions are the checkpoint history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from evidence.errors import ConflictError, NotFoundError
from storage.blobio import whole_seconds
from storage.s3common import COMPLIANCE, S3Client, make_client, md5_b64, s3_errors
from storage.s3probe import probe_bucket
from storage.tilestore import check_tile_path

IMMUTABLE = "public, max-age=31536000, immutable"  # the spec: long-lived caching for tiles
MUTABLE = "no-cache"  # the spec: the checkpoint is not cached beyond a few seconds


class S3TileStore:
    """Tiles under ``prefix`` of ``bucket``; build it with :meth:`connect` (probes the bucket)."""

    def __init__(self, client: S3Client, *, bucket: str, prefix: str, retention_days: int,
                 clock: Callable[[], datetime]) -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}"
        self.retention_days = retention_days
        self._clock = clock  # the real clock: the server judges retain-until by its own

    @classmethod
    def connect(cls, url: str, *, endpoint_url: str | None, region: str | None,
                retention_days: int, clock: Callable[[], datetime],
                client: S3Client | None = None) -> S3TileStore:
        """``s3://BUCKET/PREFIX`` probed as the evidence store is; PolicyViolationError names
        what is wrong with the bucket."""
        parts = urlsplit(url)
        prefix = parts.path.strip("/")
        if parts.scheme != "s3" or not parts.netloc or not prefix:
            raise ValueError(f"tiles URL {url!r}: expected s3://BUCKET/PREFIX")
        if client is None:
            client = make_client(endpoint_url, region, 4)
        probe_bucket(client, parts.netloc, prefix, min_retention_days=retention_days,
                     clock=clock)
        return cls(client, bucket=parts.netloc, prefix=prefix, retention_days=retention_days,
                   clock=clock)

    def __repr__(self) -> str:
        return f"S3TileStore({self.url!r})"

    def _key(self, path: str) -> str:
        return f"{self.prefix}/{check_tile_path(path)}"

    def read(self, path: str) -> bytes:
        key = self._key(path)
        with s3_errors(f"{self.url}: GetObject {path}"):
            reply = self._client.get_object(Bucket=self.bucket, Key=key)
            data: bytes = reply["Body"].read()
        return data

    def write_once(self, path: str, data: bytes) -> None:
        try:
            existing = self.read(path)
        except NotFoundError:
            existing = None
        if existing is not None:
            if existing != data:
                raise ConflictError(f"{self.url}/{path} already holds other bytes: tiles are "
                                    "immutable")
            return
        until = whole_seconds(self._clock() + timedelta(days=self.retention_days))
        with s3_errors(f"{self.url}: PutObject {path}"):
            self._client.put_object(
                Bucket=self.bucket, Key=self._key(path), Body=data, ContentMD5=md5_b64(data),
                ContentType="application/octet-stream", CacheControl=IMMUTABLE,
                Metadata={"sha256": hashlib.sha256(data).hexdigest()},
                ObjectLockMode=COMPLIANCE, ObjectLockRetainUntilDate=until)

    def write_checkpoint(self, note: bytes) -> None:
        with s3_errors(f"{self.url}: PutObject checkpoint"):
            self._client.put_object(
                Bucket=self.bucket, Key=self._key("checkpoint"), Body=note,
                ContentMD5=md5_b64(note), ContentType="text/plain; charset=utf-8",
                CacheControl=MUTABLE)
