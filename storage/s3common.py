"""What the S3 Object Lock adapter's modules share: the client type, error translation
(STYLE.md §3), MD5 helpers for Content-MD5 and ETags, and the retention floor."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3  # type: ignore[import-untyped]  # boto3 ships no types
from botocore.config import Config  # type: ignore[import-untyped]  # botocore ships no types
from botocore.exceptions import (  # type: ignore[import-untyped]  # botocore ships no types
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from evidence.errors import (
    LiuhenError,
    NotFoundError,
    PolicyViolationError,
    UnavailableError,
    VerificationError,
)

S3Client = Any
SSE_MODES = ("AES256", "aws:kms")
"""A boto3 S3 client (or a wrapper with the same methods): boto3 has no type information and
boto3-stubs is not a dependency, so the adapter's boundary with it is untyped."""

COMPLIANCE = "COMPLIANCE"
META_SHA256 = "sha256"  # sent as x-amz-meta-sha256
RETENTION_SLACK = timedelta(hours=1)  # callers compute retain-until from their own clock, earlier

_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchVersion", "NoSuchUpload", "NoSuchBucket", "404",
                        "NotFound"})
_DIGEST = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"})
_BUSY = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout",
                   "Throttling", "ThrottlingException", "RequestLimitExceeded"})
_TRANSPORT = (ConnectionError, HTTPClientError, IncompleteReadError)
_CONFIG = (NoCredentialsError, PartialCredentialsError, NoRegionError)


def error_code(exc: ClientError) -> str:
    code: str = exc.response.get("Error", {}).get("Code", "") or str(
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return code


def http_status(exc: ClientError) -> int:
    status: int = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status


def translate(exc: Exception, what: str) -> LiuhenError | None:
    """The liuhen error family for a botocore error raised while doing ``what``, or None when
    ``exc`` is not one we translate (a programming error such as ParamValidationError)."""
    if isinstance(exc, ClientError):
        return _translate_client_error(exc, what)
    if isinstance(exc, _TRANSPORT):
        return UnavailableError(f"{what}: the S3 endpoint is unreachable: {exc}; retry later")
    if isinstance(exc, _CONFIG):
        return PolicyViolationError(f"{what}: S3 client configuration: {exc}")
    return None


def _translate_client_error(exc: ClientError, what: str) -> LiuhenError:
    code, status = error_code(exc), http_status(exc)
    message = exc.response.get("Error", {}).get("Message") or ""
    detail = f"{what}: {code} (HTTP {status}){': ' + message if message else ''}"
    if code in _BUSY or status >= 500 or status == 429:
        return UnavailableError(f"{detail}; retry later")
    if code in _NOT_FOUND or status == 404:
        return NotFoundError(detail)
    if code in _DIGEST:
        return VerificationError(f"{detail}: the server received other bytes than were sent",
                                 step="store.put")
    # AccessDenied on a refused operation (a locked version, a shortened retention) and any
    # other refusal: the request is well-formed, the server's policy forbids it.
    return PolicyViolationError(f"{detail}: the server refused the request")


@contextmanager
def s3_errors(what: str) -> Iterator[None]:
    """Translate botocore errors raised inside the block (``raise ... from exc``)."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        translated = translate(exc, what)
        if translated is None:
            raise
        raise translated from exc


def md5_b64(data: bytes | memoryview) -> str:
    """The Content-MD5 header value: base64 of the MD5 digest (RFC 1864)."""
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def multipart_etag(part_md5s: list[bytes]) -> str:
    """The ETag S3 (and RGW) give a multipart object: MD5 of the parts' MD5 digests, ``-N``."""
    joined = hashlib.md5(b"".join(part_md5s), usedforsecurity=False).hexdigest()
    return f"{joined}-{len(part_md5s)}"


def bare_etag(value: str | None) -> str:
    return (value or "").strip('"')


def describe_version(entry: dict[str, Any]) -> str:
    when = entry.get("LastModified")
    at = f" of {when.isoformat()}" if isinstance(when, datetime) else ""
    return f"{entry['kind']} {entry.get('VersionId')}{at}"


def retain_until_of(head: dict[str, Any]) -> datetime | None:
    until = head.get("ObjectLockRetainUntilDate")
    return until.astimezone(UTC) if isinstance(until, datetime) else None


def locked_until(head: dict[str, Any], retain_until: datetime) -> bool:
    held = retain_until_of(head)
    return head.get("ObjectLockMode") == COMPLIANCE and held is not None and held >= retain_until


def sse_args(sse: str | None, kms_key_id: str | None) -> dict[str, str]:
    if sse not in (None, *SSE_MODES):
        raise ValueError(f"sse must be one of {SSE_MODES} or None, not {sse!r}")
    if kms_key_id and sse != "aws:kms":
        raise ValueError("kms_key_id needs sse='aws:kms'")
    args = {"ServerSideEncryption": sse} if sse else {}
    if kms_key_id:
        args["SSEKMSKeyId"] = kms_key_id
    return args


def make_client(endpoint_url: str | None, region: str | None, max_concurrency: int) -> S3Client:
    config = Config(
        s3={"addressing_style": "path"} if endpoint_url else {},
        # Only Content-MD5: RGW 16 ignores the x-amz-checksum-* that botocore adds by default.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"mode": "standard", "max_attempts": 5},
        max_pool_connections=max(10, max_concurrency),
    )
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)
