"""Network uploads from 4G recorders and phones: the tus 1.0 protocol (https://tus.io, core and
the ``creation`` extension) under ``/api/uploads`` (docs/api.md §Network uploads;
ingest/network.py does the work).

- ``OPTIONS /api/uploads``: the versions and extensions (no credential needed).
- ``POST /api/uploads`` with ``Upload-Length`` and ``Upload-Metadata`` (``filename``, and the
  device's clock as ``device_time``, ISO 8601 with its offset, or China Standard Time without):
  201 with ``Location``.
- ``HEAD /api/uploads/{id}``: ``Upload-Offset`` (the bytes the server holds) and
  ``Upload-Length``.
- ``PATCH /api/uploads/{id}`` with ``Content-Type: application/offset+octet-stream`` and
  ``Upload-Offset``: appends; 204 with the new ``Upload-Offset``. The PATCH that completes the
  upload answers once the clip is ingested (``Upload-Sha256`` names it); a cut one is resumed
  from what HEAD reports.

Every request but OPTIONS carries the device's own credential (``liuhen devices add`` prints
it) as a bearer token, role ``device``: the request gate refuses anyone else before one byte of
a body is read (api/http/gate.py). A device sees only its own uploads.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta, timezone
from typing import Annotated

from anyio import from_thread
from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from api.http.auth import Principal, Role, allow, public
from api.http.deps import CaseworkDep
from api.http.errors import ERROR_RESPONSES
from evidence.errors import PolicyViolationError

router = APIRouter(prefix="/api/uploads", responses=ERROR_RESPONSES, tags=["uploads"])
Device = Annotated[Principal, Depends(allow(Role.DEVICE))]
UploadId = Annotated[str, Path(pattern="^[0-9a-f]{32}$", description="the upload's id")]
UPLOAD_PATH = "/api/uploads/{upload_id}"
TUS = {"Tus-Resumable": "1.0.0"}
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
BATCH_BYTES = 1 << 20


def _tus(resumable: str | None) -> None:
    if resumable != "1.0.0":
        raise PolicyViolationError("需要 Tus-Resumable: 1.0.0 (tus 1.0 only)")


def parse_metadata(header: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs (a key alone: empty)."""
    out: dict[str, str] = {}
    for pair in (header or "").split(","):
        key, _, value = pair.strip().partition(" ")
        if not key:
            continue
        try:
            out[key] = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise PolicyViolationError(f"Upload-Metadata 的 {key!r} 不是 UTF-8 的 base64") from exc
    return out


def parse_device_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise PolicyViolationError(f"device_time {text[:40]!r} 不是 ISO 8601 时间") from exc
    return moment.replace(tzinfo=CHINA_STANDARD_TIME) if moment.tzinfo is None else moment


@router.options("", status_code=204, response_class=Response, dependencies=[Depends(public)],
                summary="tus: versions and extensions")
def options() -> Response:
    return Response(status_code=204, headers={
        **TUS, "Tus-Version": "1.0.0", "Tus-Extension": "creation",
        "Tus-Max-Size": str(64 << 30)})


@router.post("", status_code=201, response_class=Response,
             summary="tus: create an upload (Upload-Length, metadata)")
def create(who: Device, cw: CaseworkDep,
           upload_length: Annotated[int, Header(ge=1)],
           upload_metadata: Annotated[str | None, Header()] = None,
           tus_resumable: Annotated[str | None, Header()] = None) -> Response:
    _tus(tus_resumable)
    meta = parse_metadata(upload_metadata)
    upload = cw.uploads.create(serial=who.name, length=upload_length,
                               name=meta.get("filename", ""),
                               device_time=parse_device_time(meta.get("device_time")))
    return Response(status_code=201, headers={**TUS, "Location": f"/api/uploads/{upload.id}"})


@router.head("/{upload_id}", response_class=Response, summary="tus: the bytes the server holds")
def offset(upload_id: UploadId, who: Device, cw: CaseworkDep) -> Response:
    upload, have = cw.uploads.status(upload_id, who.name)
    return Response(status_code=200, headers={
        **TUS, "Upload-Offset": str(have), "Upload-Length": str(upload.length),
        "Cache-Control": "no-store"})


@router.patch("/{upload_id}", status_code=204, response_class=Response,
              summary="tus: append bytes at Upload-Offset", openapi_extra={
    "requestBody": {"required": True, "content": {"application/offset+octet-stream": {
        "schema": {"type": "string", "format": "binary"}}}}})
async def append(upload_id: UploadId, request: Request, who: Device, cw: CaseworkDep, *,
                 upload_offset: Annotated[int, Header(ge=0)],
                 tus_resumable: Annotated[str | None, Header()] = None) -> Response:
    _tus(tus_resumable)
    if request.headers.get("content-type", "") != "application/offset+octet-stream":
        return Response(status_code=415, headers=TUS)
    stream = request.stream().__aiter__()
    ended = False

    async def batch() -> bytes | None:
        """Up to BATCH_BYTES of the body (None at its end); a dropped client ends it too."""
        nonlocal ended
        if ended:
            return None
        parts, size = [], 0
        while size < BATCH_BYTES:
            try:
                chunk = await stream.__anext__()
            except StopAsyncIteration:
                ended = True
                break
            except ClientDisconnect:  # keep what arrived: the client resumes from there
                ended = True
                break
            parts.append(chunk)
            size += len(chunk)
        return b"".join(parts) if parts or not ended else None

    def next_batch() -> bytes | None:
        return from_thread.run(batch)

    new_offset, upload = await run_in_threadpool(cw.uploads.append, upload_id, who.name,
                                                 upload_offset, next_batch)
    headers = {**TUS, "Upload-Offset": str(new_offset)}
    if upload.sha256:
        headers["Upload-Sha256"] = upload.sha256
    return Response(status_code=204, headers=headers)
