#!/usr/bin/env python3
"""Check that the S3 endpoint written by scripts/ceph-rgw.sh really enforces Object Lock.

Reads $LIUHEN_CEPH_DIR/s3.env (default /tmp/liuhen-ceph/s3.env), or the file given as the first
argument. Creates a fresh bucket with Object Lock, then checks, for a single PUT:

  * default bucket rule COMPLIANCE is stored,
  * PUT with Content-MD5 and explicit COMPLIANCE retain-until (+1 day) gives that retention,
  * DeleteObject with the VersionId is refused (AccessDenied),
  * shortening the retention is refused,
  * a plain DELETE only adds a delete marker (the version is still readable by VersionId),

and reports (without failing) what a multipart upload does with lock headers, then checks that
PutObjectRetention on the completed multipart version does lock it. Exit status 0 when every
required check passed, 1 otherwise. The objects stay locked for a day: use a throw-away cluster.

Needs boto3. Run: .venv/bin/python scripts/ceph-rgw-selftest.py
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import sys
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

DEFAULT_DIR = "/tmp/liuhen-ceph"  # noqa: S108 - the default of scripts/ceph-rgw.sh, a test cluster
FAILURES: list[str] = []


def check(ok: bool, what: str, detail: str = "") -> bool:
    print(f"{'PASS' if ok else 'FAIL'}  {what}{('  — ' + detail) if detail else ''}")
    if not ok:
        FAILURES.append(what)
    return ok


def note(what: str) -> None:
    print(f"INFO  {what}")


def load_env(path: str) -> dict[str, str]:
    env: dict[str, str] = {}
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            line = raw.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                env[key] = value
    for key in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "LIUHEN_S3_ENDPOINT_URL",
        "AWS_DEFAULT_REGION",
    ):
        if key not in env:
            raise SystemExit(f"{path}: missing {key}")
    return env


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "?")


def expect_refused(what: str, call, codes=("AccessDenied",)) -> None:
    try:
        call()
    except ClientError as exc:
        code = error_code(exc)
        check(
            code in codes,
            what,
            f"refused with {code} (HTTP {exc.response['ResponseMetadata']['HTTPStatusCode']})",
        )
        return
    check(False, what, "the request SUCCEEDED")


def retention_of(s3, bucket: str, key: str, version: str):
    try:
        r = s3.get_object_retention(Bucket=bucket, Key=key, VersionId=version)["Retention"]
        return r.get("Mode"), r.get("RetainUntilDate")
    except ClientError as exc:
        return None, error_code(exc)


def main() -> int:
    path = (
        sys.argv[1]
        if len(sys.argv) > 1
        else os.path.join(os.environ.get("LIUHEN_CEPH_DIR", DEFAULT_DIR), "s3.env")
    )
    env = load_env(path)
    s3 = boto3.client(
        "s3",
        endpoint_url=env["LIUHEN_S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            # RGW 16 predates the flexible (x-amz-checksum-*) checksums that newer botocore sends
            # by default and does not check them; Content-MD5 is what it verifies: send only that.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 2},
        ),
    )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    one_day = now + dt.timedelta(days=1)
    bucket = f"selftest-{uuid.uuid4().hex[:12]}"
    print(f"endpoint {env['LIUHEN_S3_ENDPOINT_URL']}, bucket {bucket}")

    # -- bucket with Object Lock and a default COMPLIANCE rule
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    check(
        versioning == "Enabled",
        "versioning enabled by ObjectLockEnabledForBucket",
        f"status {versioning}",
    )
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    cfg = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    rule = cfg.get("Rule", {}).get("DefaultRetention", {})
    check(
        cfg.get("ObjectLockEnabled") == "Enabled"
        and rule.get("Mode") == "COMPLIANCE"
        and rule.get("Days") == 1,
        "default retention rule COMPLIANCE 1 day stored",
        str(cfg),
    )

    # -- single PUT, Content-MD5, explicit COMPLIANCE retention
    body = b"liuhen object lock self-test\n" * 100
    key = "clips/single.bin"
    put = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentMD5=md5_b64(body),
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=one_day,
        Metadata={"sha256": hashlib.sha256(body).hexdigest()},
    )
    vid = put.get("VersionId")
    check(bool(vid), "PUT returns a VersionId", str(vid))
    check(
        put["ETag"].strip('"') == hashlib.md5(body, usedforsecurity=False).hexdigest(),
        "ETag is the MD5 of the body",
        put["ETag"],
    )
    mode, until = retention_of(s3, bucket, key, vid)
    check(
        mode == "COMPLIANCE" and until == one_day,
        "GetObjectRetention gives the explicit COMPLIANCE date",
        f"{mode} {until}",
    )
    head = s3.head_object(Bucket=bucket, Key=key, VersionId=vid)
    check(
        head.get("ObjectLockMode") == "COMPLIANCE" and head.get("ContentLength") == len(body),
        "HEAD by VersionId shows lock mode and size",
        f"{head.get('ObjectLockMode')} {head.get('ObjectLockRetainUntilDate')} "
        f"{head.get('ContentLength')}",
    )

    # a wrong Content-MD5 must be refused too
    expect_refused(
        "PUT with a wrong Content-MD5 refused",
        lambda: s3.put_object(
            Bucket=bucket, Key="clips/badmd5.bin", Body=body, ContentMD5=md5_b64(body + b"x")
        ),
        codes=("BadDigest", "InvalidDigest"),
    )

    try:
        s3.put_object(
            Bucket=bucket,
            Key="clips/badcrc.bin",
            Body=body,
            ChecksumCRC32="AAAAAA==",
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=one_day,
        )
        note(
            "a wrong x-amz-checksum-crc32 is ACCEPTED: this RGW ignores flexible checksums "
            "(rely on Content-MD5)"
        )
    except ClientError as exc:
        note(f"a wrong x-amz-checksum-crc32 is refused ({error_code(exc)})")

    expect_refused(
        "DeleteObject with the VersionId refused",
        lambda: s3.delete_object(Bucket=bucket, Key=key, VersionId=vid),
    )
    expect_refused(
        "shortening the COMPLIANCE retention refused",
        lambda: s3.put_object_retention(
            Bucket=bucket,
            Key=key,
            VersionId=vid,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": now + dt.timedelta(hours=1)},
        ),
    )
    expect_refused(
        "switching COMPLIANCE to GOVERNANCE refused",
        lambda: s3.put_object_retention(
            Bucket=bucket,
            Key=key,
            VersionId=vid,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": one_day},
        ),
    )
    # extending is allowed
    longer = one_day + dt.timedelta(hours=1)
    s3.put_object_retention(
        Bucket=bucket,
        Key=key,
        VersionId=vid,
        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": longer},
    )
    mode, until = retention_of(s3, bucket, key, vid)
    check(
        mode == "COMPLIANCE" and until == longer,
        "extending the retention allowed",
        f"{mode} {until}",
    )

    deleted = s3.delete_object(Bucket=bucket, Key=key)
    check(
        bool(deleted.get("DeleteMarker")),
        "plain DELETE adds a delete marker",
        f"DeleteMarker={deleted.get('DeleteMarker')} VersionId={deleted.get('VersionId')}",
    )
    got = s3.get_object(Bucket=bucket, Key=key, VersionId=vid)["Body"].read()
    check(got == body, "the locked version is still readable by VersionId after the plain DELETE")
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key)
    check(
        len(versions.get("Versions", [])) == 1 and len(versions.get("DeleteMarkers", [])) == 1,
        "list_object_versions: 1 version + 1 delete marker",
        f"{len(versions.get('Versions', []))} versions, "
        f"{len(versions.get('DeleteMarkers', []))} markers",
    )

    # -- object without lock headers: does the bucket default apply?
    plain = s3.put_object(
        Bucket=bucket, Key="clips/default.bin", Body=body, ContentMD5=md5_b64(body)
    )
    mode, until = retention_of(s3, bucket, "clips/default.bin", plain["VersionId"])
    check(
        mode == "COMPLIANCE",
        "single PUT without lock headers gets the bucket default rule",
        f"{mode} {until}",
    )

    # -- multipart upload with explicit lock headers (reported, then fixed with PutObjectRetention)
    mkey = "clips/multipart.bin"
    two_days = now + dt.timedelta(days=2)
    part1 = os.urandom(5 * 1024 * 1024)
    part2 = os.urandom(1024 * 1024)
    mpu = s3.create_multipart_upload(
        Bucket=bucket, Key=mkey, ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=two_days
    )
    parts = []
    for number, data in ((1, part1), (2, part2)):
        r = s3.upload_part(
            Bucket=bucket,
            Key=mkey,
            UploadId=mpu["UploadId"],
            PartNumber=number,
            Body=data,
            ContentMD5=md5_b64(data),
        )
        parts.append({"PartNumber": number, "ETag": r["ETag"]})
    expect_refused(
        "UploadPart with a wrong Content-MD5 refused",
        lambda: s3.upload_part(
            Bucket=bucket,
            Key=mkey,
            UploadId=mpu["UploadId"],
            PartNumber=3,
            Body=part2,
            ContentMD5=md5_b64(part1),
        ),
        codes=("BadDigest", "InvalidDigest"),
    )
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=mkey, UploadId=mpu["UploadId"], MultipartUpload={"Parts": parts}
    )
    mvid = done.get("VersionId")
    if not mvid:  # some RGW versions leave VersionId out of CompleteMultipartUpload's answer
        mvid = s3.head_object(Bucket=bucket, Key=mkey)["VersionId"]
        note(f"CompleteMultipartUpload returned no VersionId; HEAD gives {mvid}")
    mode, until = retention_of(s3, bucket, mkey, mvid)
    if mode == "COMPLIANCE" and until == two_days:
        note(f"multipart: explicit lock headers HONORED ({mode} until {until})")
    elif mode == "COMPLIANCE":
        note(
            "multipart: explicit lock headers IGNORED, bucket default rule applied "
            f"({mode} until {until}, "
            f"asked for {two_days})"
        )
    else:
        note(
            f"multipart: NO retention on the completed version (GetObjectRetention: {mode} {until})"
        )
    head = s3.head_object(Bucket=bucket, Key=mkey, VersionId=mvid)
    note(
        f"multipart HEAD: ObjectLockMode={head.get('ObjectLockMode')} "
        f"RetainUntil={head.get('ObjectLockRetainUntilDate')} ETag={head['ETag']}"
    )
    try:
        s3.put_object_retention(
            Bucket=bucket,
            Key=mkey,
            VersionId=mvid,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": two_days},
        )
        note("PutObjectRetention on the multipart version accepted")
    except ClientError as exc:
        note(f"PutObjectRetention on the multipart version refused: {error_code(exc)}")
    mode, until = retention_of(s3, bucket, mkey, mvid)
    check(
        mode == "COMPLIANCE" and until is not None and until >= two_days,
        "multipart version locked COMPLIANCE ≥ requested date after PutObjectRetention",
        f"{mode} {until}",
    )
    expect_refused(
        "DeleteObject of the multipart version refused",
        lambda: s3.delete_object(Bucket=bucket, Key=mkey, VersionId=mvid),
    )

    # -- multipart with lock headers in a lock-enabled bucket WITHOUT a default rule (reported only)
    bare = f"{bucket}-nodefault"
    s3.create_bucket(Bucket=bare, ObjectLockEnabledForBucket=True)
    data = b"one small part\n"
    mpu = s3.create_multipart_upload(
        Bucket=bare, Key=mkey, ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=one_day
    )
    r = s3.upload_part(
        Bucket=bare,
        Key=mkey,
        UploadId=mpu["UploadId"],
        PartNumber=1,
        Body=data,
        ContentMD5=md5_b64(data),
    )
    done = s3.complete_multipart_upload(
        Bucket=bare,
        Key=mkey,
        UploadId=mpu["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["ETag"]}]},
    )
    bvid = done.get("VersionId") or s3.head_object(Bucket=bare, Key=mkey)["VersionId"]
    mode, until = retention_of(s3, bare, mkey, bvid)
    if mode is None:
        note(
            "multipart without a bucket default rule: the version is NOT locked "
            f"(GetObjectRetention: {until})"
        )
    else:
        note(f"multipart without a bucket default rule: {mode} until {until} (asked for {one_day})")
    s3.put_object_retention(
        Bucket=bare,
        Key=mkey,
        VersionId=bvid,
        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": one_day},
    )
    mode, until = retention_of(s3, bare, mkey, bvid)
    check(
        mode == "COMPLIANCE" and until == one_day,
        "PutObjectRetention locks a multipart version in a bucket without default rule",
        f"{mode} {until}",
    )

    print()
    if FAILURES:
        print(f"Object Lock self-test: {len(FAILURES)} check(s) FAILED: " + "; ".join(FAILURES))
        return 1
    print("Object Lock self-test: all required checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
