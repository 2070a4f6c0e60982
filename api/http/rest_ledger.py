"""REST: verification (by hash, by upload), inclusion and consistency proofs, checkpoints, proof
bundles; who am I; health. Proofs verify offline with ``integrity.merkle`` and
``integrity.notes`` (docs/verification.md)."""

from __future__ import annotations

import contextlib
import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.compose import Services
from api.http.auth import ALL_ROLES, Principal, Role, allow, public
from api.http.deps import CaseworkDep
from api.http.errors import ERROR_RESPONSES
from api.http.rest_cases import Offset, ShaPath
from api.http.schemas import (
    CheckpointOut,
    ConsistencyOut,
    InclusionOut,
    PrincipalOut,
    VerifyOut,
)
from evidence.errors import NotFoundError
from ledger.proofs import Verification, never_recorded

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["verification"])

Anyone = Annotated[Principal, Depends(allow(*ALL_ROLES))]
Readers = Annotated[Principal, Depends(allow(Role.OFFICER, Role.LEADER, Role.AUDITOR,
                                              Role.ADMIN))]

VERIFY_UPLOAD_PATH = "/api/verify"
"""Exempt from the request body cap: it streams and hashes a whole clip and keeps nothing."""
MAX_TREE_SIZE = 2**53 - 1  # indices and sizes are JSON-safe integers
TreeIndex = Annotated[int, Query(ge=0, le=MAX_TREE_SIZE)]
TreeSize = Annotated[int | None, Query(ge=1, le=MAX_TREE_SIZE,
                                       description="default: the latest checkpoint's size")]


@router.get("/health", tags=["meta"], dependencies=[Depends(public)],
            summary="liveness: the server answers (no token needed)")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/me", tags=["meta"], summary="the caller's name and role")
def me(who: Anyone) -> PrincipalOut:
    return PrincipalOut(name=who.name, role=who.role)


def scoped_verify(cw: Services, who: Principal, digest: str) -> Verification:
    """Verification of ``digest`` (SHA-256 or SM3); to a person, a clip out of their scope
    (access/scope.py) is answered exactly as content the ledger never recorded."""
    verification = cw.proofs.verify(digest)  # resolves SHA-256 or SM3 once
    if Role.STATION not in who.roles and not who.scope.everything:
        clip = verification.clip
        if clip is None:
            try:
                clip = cw.cases.clip(verification.sha256)
            except NotFoundError:
                clip = None
        if clip is not None and not cw.scopes.admits(who.scope, clip):
            raise never_recorded(digest)
    return verification


@router.get("/verify/{sha256}", summary="is this content in the ledger? entries with proofs "
            "(the hash: its SHA-256 or its SM3; ``matched`` says which)")
def verify_by_hash(sha256: ShaPath, who: Anyone, cw: CaseworkDep) -> VerifyOut:
    return VerifyOut.of(scoped_verify(cw, who, sha256.lower()),
                        for_station=who.role is Role.STATION)


@router.post(
    VERIFY_UPLOAD_PATH.removeprefix("/api"),
    summary="upload a file: hashed as it streams (nothing kept), then verified",
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def verify_by_upload(request: Request, who: Anyone, cw: CaseworkDep) -> VerifyOut:
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    verification = await run_in_threadpool(scoped_verify, cw, who, digest.hexdigest())
    return VerifyOut.of(verification, size=size, for_station=who.role is Role.STATION)


@router.get("/ledger/proofs/inclusion", summary="RFC 9162 inclusion proof of an entry")
def inclusion_proof(who: Anyone, cw: CaseworkDep, index: TreeIndex,
                    size: TreeSize = None) -> InclusionOut:
    return InclusionOut.of(cw.proofs.inclusion(index, size))


@router.get("/ledger/proofs/consistency",
            summary="RFC 9162 consistency proof between two tree sizes")
def consistency_proof(who: Anyone, cw: CaseworkDep,
                      old: Annotated[int, Query(ge=1, le=MAX_TREE_SIZE)],
                      new: TreeSize = None) -> ConsistencyOut:
    return ConsistencyOut.of(cw.proofs.consistency(old, new))


@router.get("/ledger/checkpoints/latest", summary="the latest signed checkpoint")
def latest_checkpoint(who: Anyone, cw: CaseworkDep) -> CheckpointOut:
    return CheckpointOut.of(cw.proofs.latest_checkpoint())


@router.get("/ledger/checkpoints", summary="signed checkpoints, newest first")
def list_checkpoints(who: Anyone, cw: CaseworkDep,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                     offset: Offset = 0) -> list[CheckpointOut]:
    newest_first = cw.proofs.checkpoints()[::-1][offset:offset + limit]
    return [CheckpointOut.of(c) for c in newest_first]


@router.get("/clips/{sha256}/bundle", response_class=Response,
            summary="offline proof bundle of the clip's acquisition entry",
            responses={200: {"description": "liuhen/bundle/v1 JSON (docs/ledger-format.md §7)",
                             "content": {"application/json": {"schema": {"type": "object"}}}}})
def proof_bundle(sha256: ShaPath, who: Readers, cw: CaseworkDep) -> Response:
    sha = sha256.lower()
    with contextlib.suppress(NotFoundError):  # an SM3 digest names the clip too; unknown
        sha, _ = cw.proofs.resolve(sha)  # digests get the scope check's not-found below
    cw.scopes.clip(who.scope, sha)
    data = cw.proofs.bundle(sha)
    return Response(content=data, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{sha}.bundle.json"'})
