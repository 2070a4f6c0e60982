"""Uploads for the S3 Object Lock store: one PUT, or a resumable parallel multipart upload.

Integrity: every PUT and every UploadPart carries Content-MD5 of exactly the bytes sent (the one
check RGW 16 enforces; it ignores x-amz-checksum-*), and the returned ETag must equal that MD5.
SHA-256 is computed over the same bytes in file order while they are read, and the upload is
completed only when it equals the SHA-256 the caller recorded at acquisition: a source that
changed since then is never completed (VerificationError).

Resume (DESIGN.md §3: a crash at any point resumes without loss or duplication): the UploadId and
the ETag of every part the server acknowledged are kept in ``<source>.upload.json`` (rewritten
atomically after each part). A re-run reads it, asks the server (ListParts) which parts it holds,
and re-reads every part to recompute its MD5: a listed part whose ETag equals that MD5 is kept,
any other part is uploaded (again). The state file is only a hint; ListParts is the truth. An
upload the server no longer knows (aborted or expired) starts over. The source's directory must
be writable for the state file.

Concurrency: parts go out on ``max_concurrency`` threads (boto3 clients are thread-safe); the
reading/hashing thread keeps at most ``max_concurrency`` parts in flight, so memory stays near
``(max_concurrency + 1) * part_size``. One process uploads one source at a time (the state file
is not locked).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evidence.errors import LiuhenError, NotFoundError, PolicyViolationError, VerificationError
from evidence.ids import Sha256Hex
from storage.blobio import write_replace
from storage.s3common import S3Client, bare_etag, md5_b64, multipart_etag, s3_errors

log = logging.getLogger(__name__)

STATE_FORMAT = "liuhen/s3-upload/v1"
STATE_SUFFIX = ".upload.json"
MAX_PARTS = 10_000  # S3's limit on parts per upload
MIN_PART_BYTES = 5 * 1024 * 1024  # S3's minimum size of every part but the last
STEP = "store.put"


@dataclass(frozen=True, slots=True)
class UploadPlan:
    """One source to store under one key; ``args`` go to PutObject/CreateMultipartUpload
    (metadata, lock mode and date, server-side encryption)."""

    bucket: str
    key: str
    source: Path
    size: int
    sha256: Sha256Hex
    args: dict[str, Any]

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True, slots=True)
class UploadResult:
    version_id: str
    etag: str
    """The ETag the server must report: MD5 hex, or md5-of-md5s ``-N`` for multipart."""
    parts_uploaded: int = 0
    parts_reused: int = 0


@dataclass(slots=True)
class _State:
    bucket: str
    key: str
    upload_id: str
    size: int
    sha256: str
    part_size: int
    parts: dict[int, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        return json.dumps({"format": STATE_FORMAT, "bucket": self.bucket, "key": self.key,
                           "upload_id": self.upload_id, "size": self.size,
                           "sha256": self.sha256, "part_size": self.part_size,
                           "parts": {str(n): e for n, e in sorted(self.parts.items())}},
                          indent=1).encode()


@dataclass(frozen=True, slots=True)
class _PartDone:
    number: int
    md5: bytes
    uploaded: bool


def state_path(source: Path) -> Path:
    return source.with_name(source.name + STATE_SUFFIX)


def part_size_for(size: int, part_size: int) -> int:
    """``part_size``, grown in whole MiB when ``size`` would need more than MAX_PARTS parts."""
    mib = 1024 * 1024
    return max(part_size, math.ceil(size / MAX_PARTS / mib) * mib)


def single_put(client: S3Client, plan: UploadPlan) -> UploadResult:
    """One PutObject with Content-MD5; the bytes are checked against ``plan.sha256`` first."""
    data = plan.source.read_bytes()
    _check_source(plan, hashlib.sha256(data).hexdigest(), len(data))
    md5 = hashlib.md5(data, usedforsecurity=False)
    with s3_errors(f"{plan.where}: PutObject"):
        reply = client.put_object(Bucket=plan.bucket, Key=plan.key, Body=data,
                                  ContentMD5=md5_b64(data), **plan.args)
    if bare_etag(reply.get("ETag")) != md5.hexdigest():
        raise VerificationError(f"{plan.where}: PutObject answered ETag {reply.get('ETag')}, "
                                f"not the MD5 {md5.hexdigest()} of the bytes sent", step=STEP)
    version = reply.get("VersionId")
    if not version:
        raise PolicyViolationError(f"{plan.where}: the server returned no VersionId "
                                   "(is versioning still enabled?)")
    return UploadResult(version_id=version, etag=md5.hexdigest())


def multipart_upload(client: S3Client, plan: UploadPlan, *, part_size: int,
                     max_concurrency: int) -> UploadResult:
    """Upload ``plan`` in parts of ``part_size``, resuming a recorded upload; see the module
    docstring. The state file is left in place on failure and removed by the caller once the
    stored version is verified."""
    path = state_path(plan.source)
    state = _load_state(path, plan, part_size)
    listed: dict[int, tuple[str, int]] = {}
    if state is not None:
        try:
            listed = _list_parts(client, plan, state.upload_id)
        except NotFoundError:
            log.warning("%s: the server no longer knows upload %s; starting a new one",
                        plan.where, state.upload_id)
            state = None
        else:
            log.info("%s: resuming upload %s, the server holds %d part(s)", plan.where,
                     state.upload_id, len(listed))
    if state is None:
        with s3_errors(f"{plan.where}: CreateMultipartUpload"):
            upload_id = client.create_multipart_upload(Bucket=plan.bucket, Key=plan.key,
                                                       **plan.args)["UploadId"]
        state = _State(plan.bucket, plan.key, upload_id, plan.size, plan.sha256, part_size)
        write_replace(path, state.encode())
    digests = _send_parts(client, plan, state, path=path, listed=listed,
                          max_concurrency=max_concurrency)
    parts = [{"PartNumber": n, "ETag": f'"{d.md5.hex()}"'} for n, d in enumerate(digests, 1)]
    with s3_errors(f"{plan.where}: CompleteMultipartUpload {state.upload_id}"):
        reply = client.complete_multipart_upload(Bucket=plan.bucket, Key=plan.key,
                                                 UploadId=state.upload_id,
                                                 MultipartUpload={"Parts": parts})
    etag = multipart_etag([d.md5 for d in digests])
    version = reply.get("VersionId") or _latest_version(client, plan, etag)
    return UploadResult(version_id=version, etag=etag,
                        parts_uploaded=sum(d.uploaded for d in digests),
                        parts_reused=sum(not d.uploaded for d in digests))


def _send_parts(client: S3Client, plan: UploadPlan, state: _State, *, path: Path,
                listed: dict[int, tuple[str, int]], max_concurrency: int) -> list[_PartDone]:
    count = max(1, math.ceil(plan.size / state.part_size))
    done: dict[int, _PartDone] = {}
    failure: LiuhenError | None = None
    sha = hashlib.sha256()
    seen = 0

    def collect(futures: Iterable[Future[_PartDone]]) -> None:
        nonlocal failure
        for fut in futures:
            exc = fut.exception()
            if exc is not None:
                if not isinstance(exc, LiuhenError):
                    raise exc
                failure = failure or exc
                continue
            part = fut.result()
            done[part.number] = part
            if part.uploaded or state.parts.get(part.number) != part.md5.hex():
                state.parts[part.number] = part.md5.hex()
                write_replace(path, state.encode())

    with ThreadPoolExecutor(max_workers=max_concurrency,
                            thread_name_prefix="liuhen-s3-part") as pool, \
            plan.source.open("rb") as fh:
        pending: set[Future[_PartDone]] = set()
        for number in range(1, count + 1):
            if failure is not None:
                break
            data = fh.read(state.part_size)
            sha.update(data)
            seen += len(data)
            pending.add(pool.submit(_send_part, client, plan, upload_id=state.upload_id,
                                    number=number, data=data, listed=listed.get(number)))
            if len(pending) >= max_concurrency:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                collect(finished)
        finished, _ = wait(pending)
        collect(finished)
        if failure is not None:
            raise failure
        seen += len(fh.read(1))  # a source that grew is not the recorded one either
    _check_source(plan, sha.hexdigest(), seen)
    return [done[n] for n in range(1, count + 1)]


def _send_part(client: S3Client, plan: UploadPlan, *, upload_id: str, number: int,
               data: bytes, listed: tuple[str, int] | None) -> _PartDone:
    md5 = hashlib.md5(data, usedforsecurity=False)
    if listed is not None:
        if listed == (md5.hexdigest(), len(data)):
            return _PartDone(number, md5.digest(), uploaded=False)
        log.warning("%s: part %d on the server has ETag %s (%d bytes), not %s (%d bytes); "
                    "uploading it again", plan.where, number, listed[0], listed[1],
                    md5.hexdigest(), len(data))
    with s3_errors(f"{plan.where}: UploadPart {number} of upload {upload_id}"):
        reply = client.upload_part(Bucket=plan.bucket, Key=plan.key, UploadId=upload_id,
                                   PartNumber=number, Body=data, ContentMD5=md5_b64(data))
    if bare_etag(reply.get("ETag")) != md5.hexdigest():
        raise VerificationError(f"{plan.where}: part {number} answered ETag {reply.get('ETag')}, "
                                f"not the MD5 {md5.hexdigest()} of the bytes sent", step=STEP)
    return _PartDone(number, md5.digest(), uploaded=True)


def _check_source(plan: UploadPlan, sha256: str, size: int) -> None:
    if sha256 != plan.sha256 or size != plan.size:
        raise VerificationError(
            f"{plan.where}: {plan.source} holds {size} bytes with SHA-256 {sha256}, the caller "
            f"recorded {plan.size} bytes with SHA-256 {plan.sha256}; not stored", step=STEP)


def _load_state(path: Path, plan: UploadPlan, part_size: int) -> _State | None:
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except ValueError:
        log.warning("%s: unreadable upload state %s; starting a new upload", plan.where, path)
        return None
    wanted = {"format": STATE_FORMAT, "bucket": plan.bucket, "key": plan.key, "size": plan.size,
              "sha256": plan.sha256, "part_size": part_size}
    if any(doc.get(k) != v for k, v in wanted.items()) or not doc.get("upload_id"):
        log.warning("%s: upload state %s is for another upload; starting a new one",
                    plan.where, path)
        return None
    parts = {int(n): str(e) for n, e in doc.get("parts", {}).items()}
    return _State(plan.bucket, plan.key, str(doc["upload_id"]), plan.size, plan.sha256,
                  part_size, parts)


def _list_parts(client: S3Client, plan: UploadPlan, upload_id: str) -> dict[int, tuple[str, int]]:
    parts: dict[int, tuple[str, int]] = {}
    marker = 0
    while True:
        with s3_errors(f"{plan.where}: ListParts of upload {upload_id}"):
            page = client.list_parts(Bucket=plan.bucket, Key=plan.key, UploadId=upload_id,
                                     PartNumberMarker=marker)
        for part in page.get("Parts", []):
            parts[int(part["PartNumber"])] = (bare_etag(part["ETag"]), int(part["Size"]))
        if not page.get("IsTruncated"):
            return parts
        marker = int(page["NextPartNumberMarker"])


def _latest_version(client: S3Client, plan: UploadPlan, etag: str) -> str:
    # Some RGW releases leave VersionId out of CompleteMultipartUpload's answer.
    with s3_errors(f"{plan.where}: HeadObject after CompleteMultipartUpload"):
        head = client.head_object(Bucket=plan.bucket, Key=plan.key)
    if bare_etag(head.get("ETag")) != etag or not head.get("VersionId"):
        raise VerificationError(f"{plan.where}: the completed upload is not the latest version "
                                f"(ETag {head.get('ETag')}, expected {etag})", step=STEP)
    version: str = head["VersionId"]
    return version
