"""Routes stations push to (docs/station.md §Joining a bureau; docs/adr/0014-two-level-log.md).

A registration is ``public`` (an anonymous body of at most 16 KiB): it only files a ``pending``
request that an admin approves on the bureau (``liuhen stations approve``, which issues the
station's API token, role ``station``, named by the station id). Everything else takes that
token, so the request gate refuses an anonymous upload before reading its body; a token may act
only for the station it names. A push is further authenticated by what it carries — a checkpoint
signed by the approved station's registered log keys over exactly the pushed entries
(ledger/stations.py verifies signature and consistency before anything is stored). Unknown,
pending and revoked stations are refused (422 ``policy_violation``).
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
from pathlib import Path as PathLib
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from api.http.auth import Principal, Role, allow, public
from api.http.deps import CaseworkDep
from api.http.errors import ERROR_RESPONSES
from evidence.errors import NotPermittedError, VerificationError
from evidence.identity import InvalidInputError
from evidence.records import PublicKey
from integrity.hashing import new_sm3
from integrity.notes import parse_vkey

router = APIRouter(prefix="/api/stations", responses=ERROR_RESPONSES, tags=["stations"])
StationCaller = Annotated[Principal, Depends(allow(Role.STATION))]


def _acting_for(who: Principal, station_id: str) -> None:
    if who.name != station_id:
        raise NotPermittedError(f"此令牌属于站点 {who.name}，不能代表站点 {station_id} "
                                "(a station token acts only for its own station)")

PUSH_PATH = "/api/stations/{station_id}/push"
OBJECT_PATH = "/api/stations/{station_id}/objects/{index}"
StationId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]


class BureauOut(BaseModel):
    origin: str
    """The bureau log's origin; a station's is ``<host of this>/station/<id>``."""


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vkey: str = Field(max_length=400)
    role: str = Field(pattern=r"^(log|station)$")
    valid_from: int = Field(ge=0)
    valid_until: int | None = Field(default=None, ge=0)


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    station_id: StationId
    origin: str = Field(min_length=1, max_length=200)
    keys: list[KeyIn] = Field(min_length=2, max_length=32)


class StationOut(BaseModel):
    station_id: str
    origin: str
    status: str
    size: int
    """Entries of its log the bureau holds: a sync resumes from here."""


class PushIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: int = Field(ge=0)
    entries: list[str] = Field(max_length=100_000)
    """Base64 of each entry's bytes, in order from ``start``."""
    note: str = Field(min_length=1, max_length=20_000)
    """The station's signed checkpoint at ``start + len(entries)``."""


class PushOut(BaseModel):
    station_id: str
    size: int
    """The bureau's receipt: it holds and verified the station's entries ``[0, size)``."""
    bureau_index: int | None


def _key(item: KeyIn) -> PublicKey:
    try:
        return parse_vkey(item.vkey, role=item.role, valid_from=item.valid_from,
                          valid_until=item.valid_until)
    except VerificationError as exc:
        raise InvalidInputError(f"无效的公钥 {item.vkey!r}: {exc}") from exc


@router.get("/bureau", dependencies=[Depends(public)], summary="this bureau's log origin")
def bureau(cw: CaseworkDep) -> BureauOut:
    return BureauOut(origin=str(cw.ledger.origin))


@router.post("/register", dependencies=[Depends(public)],
             summary="file a station's registration (pending until an admin approves it)")
def register(body: RegisterIn, cw: CaseworkDep) -> StationOut:
    record = cw.stations.register(body.station_id, origin=body.origin,
                                  keys=[_key(k) for k in body.keys])
    return StationOut(station_id=record.station_id, origin=record.origin, status=record.status,
                      size=record.size)


@router.get("/{station_id}", summary="an approved station's acknowledged size")
def state(station_id: StationId, who: StationCaller, cw: CaseworkDep) -> StationOut:
    _acting_for(who, station_id)
    record = cw.stations.state(station_id)
    return StationOut(station_id=record.station_id, origin=record.origin, status=record.status,
                      size=record.size)


@router.post("/{station_id}/push", summary="push entries and the checkpoint over them")
def push(station_id: StationId, body: PushIn, who: StationCaller, cw: CaseworkDep) -> PushOut:
    _acting_for(who, station_id)
    try:
        entries = [base64.b64decode(e, validate=True) for e in body.entries]
    except ValueError as exc:  # binascii.Error, and non-ASCII text
        raise InvalidInputError("条目不是有效的 base64 (entries must be base64)") from exc
    receipt = cw.stations.push(station_id, start=body.start, entries=entries,
                               note=body.note.encode())
    return PushOut(station_id=receipt.station_id, size=receipt.size,
                   bureau_index=receipt.bureau_index)


class ObjectOut(BaseModel):
    station_id: str
    index: int
    size: int
    sha256: str
    sm3: str
    """The receipt: the bureau holds these bytes (size, both digests), checked against the
    station's entry and re-hashed in its store."""


@router.put(OBJECT_PATH.removeprefix("/api/stations"),
            summary="upload the stored bytes of a station's stored entry (streamed)",
            openapi_extra={"requestBody": {"required": True, "content": {
                "application/octet-stream": {"schema": {"type": "string",
                                                        "format": "binary"}}}}})
async def put_object(station_id: StationId, index: Annotated[int, Path(ge=0, le=2**53 - 1)],
                     request: Request, who: StationCaller, cw: CaseworkDep) -> ObjectOut:
    _acting_for(who, station_id)
    incoming = cw.ledger.settings.data_dir / "incoming"
    incoming.mkdir(mode=0o700, exist_ok=True)
    digest = hashlib.sha256()
    sm3 = new_sm3()
    size = 0
    with tempfile.NamedTemporaryFile(dir=incoming, prefix=f"{station_id}-", delete=False) as fh:
        spool = PathLib(fh.name)
        try:
            async for chunk in request.stream():
                digest.update(chunk)
                sm3.update(chunk)
                size += len(chunk)
                fh.write(chunk)
        except BaseException:
            spool.unlink(missing_ok=True)
            raise
    try:
        receipt = await run_in_threadpool(cw.stations.accept_object, station_id, index, spool,
                                          sha256=digest.hexdigest(), sm3=sm3.hexdigest(),
                                          size=size)
    finally:
        spool.unlink(missing_ok=True)
    return ObjectOut(station_id=receipt.station_id, index=receipt.index, size=receipt.size,
                     sha256=receipt.sha256, sm3=receipt.sm3)

