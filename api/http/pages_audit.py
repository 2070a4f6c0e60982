"""The pages auditors use (docs/web.md): verify a clip by hash or by upload, re-checking the
ledger's answer with the pure core (docs/verification.md B3–B4), and read access logs."""


from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from fastapi import APIRouter, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from api.compose import Services
from api.http.auth import Principal
from api.http.rest_cases import visible_accesses
from api.http.rest_ledger import scoped_verify
from api.http.web import (
    CaseworkPage,
    Csrf,
    PageRoute,
    Supervisor,
    check_csrf,
    page,
    sha_in_path,
)
from evidence.errors import (
    NotFoundError,
    VerificationError,
)
from evidence.identity import InvalidInputError
from evidence.ids import is_sha256_hex
from evidence.records import Access
from integrity.bundle import check_checkpoint, check_included, check_included_sm3
from integrity.hashing import Readable, digest_stream
from ledger.proofs import Verification

router = APIRouter(route_class=PageRoute, include_in_schema=False)
"""Included by pages.router, which adds the /ui prefix."""


# --- auditors: verification and access logs -------------------------------------------------

@dataclass(frozen=True, slots=True)
class CheckedEntry:
    index: int
    kind: str
    at: datetime
    actor: str
    station: str
    included: bool | None
    """True: the inclusion proof leads to the signed checkpoint root; None: no checkpoint
    covers the entry yet."""


@dataclass(frozen=True, slots=True)
class Checked:
    verification: Verification
    entries: tuple[CheckedEntry, ...]
    checkpoint_ok: bool
    failure: str | None

    @property
    def verified(self) -> bool:
        return (self.failure is None and self.verification.acquired and self.checkpoint_ok
                and all(e.included for e in self.entries))


def _check(cw: Services, who: Principal, sha: str) -> Checked:
    """Re-check what the ledger returned: the checkpoint's log signature against the trust
    root, and every entry's inclusion proof from its own bytes (docs/verification.md, B3-B4).
    A clip out of the caller's scope is answered as never recorded (access/scope.py)."""
    v = scoped_verify(cw, who, sha)
    trust = cw.ledger.trust
    entries: list[CheckedEntry] = []
    failure = None
    checkpoint_ok = False
    try:
        if v.checkpoint is not None:
            checkpoint = check_checkpoint(v.checkpoint.note, trust=trust)
            checkpoint_ok = True
        for e in v.entries:
            included = None
            if e.proof is not None and v.checkpoint is not None:
                check_included(e.index, e.data, e.proof, checkpoint=checkpoint)
                check_included_sm3(e.index, e.data, e.sm3_proof, checkpoint=checkpoint)
                included = True
            entries.append(CheckedEntry(index=e.index, kind=e.kind, at=e.at, actor=e.actor,
                                        station=e.station, included=included))
    except VerificationError as exc:
        failure = str(exc)
    return Checked(verification=v, entries=tuple(entries), checkpoint_ok=checkpoint_ok,
                   failure=failure)


def _verify_page(request: Request, who: Principal, cw: Services, sha: str | None, *,
                 source: str = "") -> Response:
    checked = None
    if sha is not None:
        try:
            checked = _check(cw, who, sha)
        except NotFoundError as exc:
            return page(request, "verify.html", who=who, title="核验 Verify", sha256=sha,
                         checked=None, unknown=str(exc), source=source, status_code=404)
    return page(request, "verify.html", who=who, title="核验 Verify", sha256=sha or "",
                 checked=checked, unknown=None, source=source)


@router.get("/verify", name="web_verify")
def verify(request: Request, *, who: Supervisor, cw: CaseworkPage,
           sha256: str | None = None) -> Response:
    sha = sha256.strip().lower() if sha256 and sha256.strip() else None
    if sha is not None and not is_sha256_hex(sha):
        raise InvalidInputError("SHA-256 或 SM3 摘要是 64 位十六进制数字 (a SHA-256 or SM3 "
                                "digest is 64 hexadecimal digits)")
    return _verify_page(request, who, cw, sha, source="hash")


@router.post("/verify", name="web_verify_upload")
async def verify_upload(request: Request, *, who: Supervisor, cw: CaseworkPage, csrf: Csrf,
                        file: UploadFile) -> Response:
    """Hash an uploaded file (streamed from the spooled upload) and verify that hash. The
    request gate capped the upload and read none of it before the auditor was known."""
    check_csrf(request, csrf)
    # Off the event loop: hashing gigabytes and the ledger queries would stall every request.
    # UploadFile.file is a SpooledTemporaryFile (typed BinaryIO), which has readinto.
    spooled = cast(Readable, file.file)
    sha = (await run_in_threadpool(digest_stream, spooled)).sha256
    return await run_in_threadpool(_verify_page, request, who, cw, sha, source="upload")


@router.get("/access-log", name="web_access_log")
def access_log(request: Request, *, who: Supervisor, cw: CaseworkPage, clip: str | None = None,
               officer: str | None = None, actor: str | None = None,
               case: str | None = None) -> Response:
    q = {k: (v.strip() if v else None) or None
         for k, v in {"clip": clip, "officer": officer, "actor": actor, "case": case}.items()}
    rows: list[Access] = []
    scope = ""
    if q["clip"]:
        rows, scope = cw.access.log(sha256=sha_in_path(q["clip"])), f"视频 clip {q['clip'][:16]}…"
    elif q["officer"]:
        rows, scope = cw.access.log(officer=q["officer"]), f"警号 {q['officer']} 的视频 clips of"
    elif q["actor"]:
        rows, scope = cw.access.log(actor=q["actor"]), f"调阅人 viewer {q['actor']}"
    elif q["case"]:
        rows, scope = cw.access.log(case_id=q["case"]), f"案件 case {q['case']}"
    if q["clip"]:
        cw.scopes.clip(who.scope, sha_in_path(q["clip"]))
    rows = visible_accesses(cw, who, rows)
    return page(request, "access_log.html", who=who, title="调阅记录 Access log", q=q,
                 rows=rows, scope=scope, searched=any(q.values()))


