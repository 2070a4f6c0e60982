"""The start-up probe of an S3 Object Lock bucket (DESIGN.md §5): no server enforces everything,
so the store checks for itself before it stores anything, and refuses to run otherwise.

Steps (each failure raises PolicyViolationError naming the step's finding; an outage raises
UnavailableError):

1. the bucket exists and we may read its configuration;
2. versioning is ``Enabled``;
3. Object Lock is enabled on the bucket;
4. its default retention rule is COMPLIANCE for at least the policy minimum (GOVERNANCE can be
   bypassed by a privileged user; a shorter default would let unlocked writes expire early);
5. a canary object under ``PREFIX/.liuhen-canary/<uuid>`` written with explicit COMPLIANCE
   retention of one day ends up locked (re-applied with PutObjectRetention if the server dropped
   the headers);
6. DeleteObject of the canary's version is refused;
7. shortening the canary's retention is refused;
8. the canary version is still there with its retention unchanged.

The canary is never deleted (it expires with its one-day lock; a lifecycle rule may remove it
later) and no request ever carries ``x-amz-bypass-governance-retention``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.exceptions import (  # type: ignore[import-untyped]  # botocore ships no types
    ClientError,
)

from evidence.errors import NotFoundError, PolicyViolationError, UnavailableError
from storage.blobio import whole_seconds
from storage.s3common import (
    COMPLIANCE,
    S3Client,
    error_code,
    http_status,
    md5_b64,
    s3_errors,
    translate,
)

log = logging.getLogger(__name__)

CANARY_DIR = ".liuhen-canary"
CANARY_RETENTION = timedelta(days=1)
CANARY_BODY = b"liuhen object lock canary\n"
DAYS_PER_YEAR = 365  # a default rule in years counts as 365-day years (the shorter reading)


@dataclass(frozen=True, slots=True)
class BucketPolicy:
    """What the probe found: a bucket fit for evidence. Only ``probe_bucket`` makes one."""

    bucket: str
    default_mode: str
    default_days: int
    canary_key: str
    canary_version: str


def probe_bucket(client: S3Client, bucket: str, prefix: str, *, min_retention_days: int,
                 clock: Callable[[], datetime],
                 sse_args: Mapping[str, str] | None = None) -> BucketPolicy:
    """Run steps 1-8 above; see the module docstring. ``sse_args`` (ServerSideEncryption,
    SSEKMSKeyId) go on the canary too, so that a server refusing them fails here, at start."""
    where = f"s3://{bucket}"
    # (1) the bucket exists
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) in {"404", "NoSuchBucket"}:
            raise PolicyViolationError(f"{where}: the bucket does not exist") from exc
        raise _refused(exc, f"{where}: HeadBucket") from exc
    with s3_errors(f"{where}: GetBucketVersioning"):
        status = client.get_bucket_versioning(Bucket=bucket).get("Status")
    # (2) versioning on: without it a PUT replaces the object
    if status != "Enabled":
        raise PolicyViolationError(
            f"{where}: versioning is {status or 'not enabled'}, must be Enabled (and Object "
            "Lock enabled at bucket creation)")
    # (3) Object Lock enabled
    try:
        config = client.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    except ClientError as exc:
        if error_code(exc) == "ObjectLockConfigurationNotFoundError":
            raise PolicyViolationError(
                f"{where}: Object Lock is not enabled on this bucket (it can only be enabled "
                "when the bucket is created)") from exc
        raise _refused(exc, f"{where}: GetObjectLockConfiguration") from exc
    if config.get("ObjectLockEnabled") != "Enabled":
        raise PolicyViolationError(f"{where}: Object Lock is not enabled on this bucket")
    # (4) default rule COMPLIANCE >= the policy minimum
    rule = config.get("Rule", {}).get("DefaultRetention")
    if not rule:
        raise PolicyViolationError(
            f"{where}: Object Lock has no default retention rule; need COMPLIANCE for at least "
            f"{min_retention_days} days")
    mode = rule.get("Mode")
    days = int(rule.get("Days") or 0) or int(rule.get("Years") or 0) * DAYS_PER_YEAR
    if mode != COMPLIANCE:
        raise PolicyViolationError(
            f"{where}: the default retention mode is {mode}, must be COMPLIANCE ({mode} can be "
            "bypassed or shortened by a privileged user)")
    if days < min_retention_days:
        raise PolicyViolationError(
            f"{where}: the default retention is {days} days, shorter than the policy minimum of "
            f"{min_retention_days} days")
    key, version = _canary(client, bucket, prefix, clock, dict(sse_args or {}))
    return BucketPolicy(bucket=bucket, default_mode=mode, default_days=days, canary_key=key,
                        canary_version=version)


def _canary(client: S3Client, bucket: str, prefix: str, clock: Callable[[], datetime],
            sse_args: dict[str, str]) -> tuple[str, str]:
    key = f"{prefix}/{CANARY_DIR}/{uuid.uuid4()}" if prefix else f"{CANARY_DIR}/{uuid.uuid4()}"
    where = f"s3://{bucket}/{key}"
    now = clock()
    until = whole_seconds(now + CANARY_RETENTION)
    # (5) write the canary with explicit COMPLIANCE retention; make sure it is locked
    sse = f" with {sse_args}" if sse_args else ""
    with s3_errors(f"{where}: PutObject (canary{sse})"):
        put = client.put_object(Bucket=bucket, Key=key, Body=CANARY_BODY,
                                ContentMD5=md5_b64(CANARY_BODY), ObjectLockMode=COMPLIANCE,
                                ObjectLockRetainUntilDate=until, **sse_args)
    version = put.get("VersionId")
    if not version:
        raise PolicyViolationError(f"{where}: the server returned no VersionId for the canary")
    mode, held = _retention(client, bucket, key, version)
    if mode != COMPLIANCE or held is None or held < until:
        log.warning("%s: canary written with COMPLIANCE until %s came back %s until %s; "
                    "re-applying with PutObjectRetention", where, until, mode, held)
        with s3_errors(f"{where}: PutObjectRetention (canary)"):
            client.put_object_retention(Bucket=bucket, Key=key, VersionId=version,
                                        Retention={"Mode": COMPLIANCE, "RetainUntilDate": until})
        mode, held = _retention(client, bucket, key, version)
        if mode != COMPLIANCE or held is None or held < until:
            raise PolicyViolationError(
                f"{where}: the canary could not be locked: retention is {mode} until {held}")
    # (6) deleting the locked version must be refused
    _expect_refused(
        lambda: client.delete_object(Bucket=bucket, Key=key, VersionId=version),
        f"{where}: DeleteObject of the COMPLIANCE-locked canary version {version}")
    # (7) shortening its retention must be refused
    _expect_refused(
        lambda: client.put_object_retention(
            Bucket=bucket, Key=key, VersionId=version,
            Retention={"Mode": COMPLIANCE,
                       "RetainUntilDate": whole_seconds(now + timedelta(hours=1))}),
        f"{where}: shortening the canary's COMPLIANCE retention")
    # (8) and the canary is intact
    try:
        after_mode, after = _retention(client, bucket, key, version)
    except NotFoundError as exc:
        raise PolicyViolationError(
            f"{where}: the canary version {version} is gone after a refused delete: Object "
            "Lock is not enforced") from exc
    if after_mode != COMPLIANCE or after is None or after < held:
        raise PolicyViolationError(
            f"{where}: the canary's retention changed from COMPLIANCE until {held} to "
            f"{after_mode} until {after}: Object Lock is not enforced")
    log.info("%s: Object Lock probe passed (delete and shortening refused)", where)
    return key, version


def _retention(client: S3Client, bucket: str, key: str,
               version: str) -> tuple[str | None, datetime | None]:
    with s3_errors(f"s3://{bucket}/{key}: HeadObject {version}"):
        head = client.head_object(Bucket=bucket, Key=key, VersionId=version)
    until = head.get("ObjectLockRetainUntilDate")
    return head.get("ObjectLockMode"), until.astimezone(UTC) if until else None


def _expect_refused(call: Callable[[], object], what: str) -> None:
    with s3_errors(what):  # transport errors: UnavailableError
        _expect_client_error(call, what)


def _expect_client_error(call: Callable[[], object], what: str) -> None:
    try:
        call()
    except ClientError as exc:
        status = http_status(exc)
        if status >= 500 or status == 429:
            raise UnavailableError(f"{what}: HTTP {status} ({error_code(exc)}); "
                                   "probe again later") from exc
        log.info("%s: refused as required (%s, HTTP %s)", what, error_code(exc), status)
        return
    raise PolicyViolationError(f"{what} SUCCEEDED: the server does not enforce Object Lock; "
                               "refusing to store evidence here")


def _refused(exc: ClientError, what: str) -> Exception:
    translated = translate(exc, what)
    return translated if translated is not None else exc
