"""REST: clip search and detail, playback and download (with a purpose, recorded as
``accessed`` before the first byte), access logs of a clip and of an officer."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from api.http.auth import Principal, Role, allow
from api.http.deps import CaseworkDep
from api.http.errors import ERROR_RESPONSES
from api.http.ranges import copy_response, parse_range
from api.http.rest_cases import Limit, ShaPath, visible_accesses
from api.http.schemas import SHA256_PATTERN, AccessOut, ClipDetailOut, ClipOut, LinkOut
from evidence.identity import MAX_PURPOSE_CHARS, InvalidInputError, canonical_purpose
from evidence.records import ClipQuery

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["clips"])
log = logging.getLogger("liuhen.api")

Readers = Annotated[Principal, Depends(allow(Role.OFFICER, Role.LEADER, Role.AUDITOR,
                                              Role.ADMIN))]
Supervisors = Annotated[Principal, Depends(allow(Role.LEADER, Role.AUDITOR, Role.ADMIN))]

PURPOSE_HEADER = "X-Liuhen-Purpose"
Purpose = Annotated[str | None, Query(max_length=MAX_PURPOSE_CHARS,
                                      description="why you view this clip (required here or "
                                      f"in {PURPOSE_HEADER}); recorded in the ledger")]
PurposeHeader = Annotated[str | None, Header(alias=PURPOSE_HEADER, max_length=3 * 4 * 500,
                                             description="the purpose, percent-encoded UTF-8")]
RangeHeader = Annotated[str | None, Header(alias="Range", max_length=100)]
CaseQuery = Annotated[str | None, Query(alias="case", min_length=1, max_length=100,
                                        description="the case this access is for")]

_MEDIA: dict[int | str, dict[str, Any]] = {
    200: {"description": "the whole copy",
          "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}},
                      "application/octet-stream": {"schema": {"type": "string",
                                                              "format": "binary"}}}},
    206: {"description": "the requested byte range",
          "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}},
                      "application/octet-stream": {"schema": {"type": "string",
                                                              "format": "binary"}}}},
}


TOTAL_HEADER = "X-Total-Count"
Cursor = Annotated[str | None, Query(pattern=SHA256_PATTERN,
                                     description="keyset page: the clips after (before) this "
                                     "clip's SHA-256 in `order`")]


@router.get("/clips", summary="search clips, a keyset page at a time",
            response_description=f"a page of clips; the header {TOTAL_HEADER} holds how many "
            "match, and Link (RFC 8288) the next and previous pages")
def search_clips(
    *, request: Request, response: Response, who: Readers, cw: CaseworkDep,
    officer: Annotated[str | None, Query(max_length=32, description="警号")] = None,
    device: Annotated[str | None, Query(max_length=64, description="recorder serial")] = None,
    start: Annotated[AwareDatetime | None, Query(description="captured at or after")] = None,
    end: Annotated[AwareDatetime | None, Query(description="captured before")] = None,
    case: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    step: Annotated[str | None, Query(min_length=1, max_length=32,
                                      description="a step of `case`")] = None,
    order: Annotated[Literal["captured", "officer", "device"],
                     Query(description="newest capture first; or by 警号 or recorder, then "
                                       "newest first")] = "captured",
    after: Cursor = None, before: Cursor = None, limit: Limit = 100,
) -> list[ClipOut]:
    if step is not None and case is None:
        raise InvalidInputError("step 是案件中的环节：请同时给出 case (step names a step within a "
                                "case: give case too)")
    if after is not None and before is not None:
        raise InvalidInputError("after 与 before 只能给出一个 (give after or before, not both)")
    query = cw.scopes.query(who.scope, ClipQuery(
        officer=officer, device=device, start=start, end=end, case_id=case, step_id=step,
        order=order, after=after and after.lower(), before=before and before.lower(),
        limit=limit + 1))
    found = cw.cases.clips(query)
    more = len(found) > limit
    found = (found[1:] if before is not None else found[:limit]) if more else found
    response.headers[TOTAL_HEADER] = str(cw.cases.count_clips(query))
    backwards = before is not None
    has_next, has_prev = (True, more) if backwards else (more, after is not None)
    links = []
    if found and has_next:
        url = request.url.remove_query_params("before").include_query_params(
            after=found[-1].sha256)
        links.append(f'<{url}>; rel="next"')
    if found and has_prev:
        url = request.url.remove_query_params("after").include_query_params(
            before=found[0].sha256)
        links.append(f'<{url}>; rel="prev"')
    if links:
        response.headers["Link"] = ", ".join(links)
    return [ClipOut.of(c) for c in found]


@router.get("/clips/{sha256}", summary="a clip: where its copies are, retention, links")
def get_clip(sha256: ShaPath, who: Readers, cw: CaseworkDep) -> ClipDetailOut:
    sha = sha256.lower()
    clip = cw.scopes.clip(who.scope, sha)
    return ClipDetailOut(**ClipOut.of(clip).model_dump(),
                         links=[LinkOut.of(lk) for lk in cw.cases.links(sha256=sha)])


def _purpose(query: str | None, header: str | None) -> str | None:
    """The purpose from the query, else from the header: percent-encoded UTF-8 (or raw UTF-8,
    which arrives as Latin-1); bytes that are not UTF-8 become U+FFFD, which is refused."""
    if query:
        return query
    if not header:
        return None
    return unquote(header.encode("latin-1").decode("utf-8", errors="replace"), errors="replace")




def _serve(cw: CaseworkDep, who: Principal, sha256: str, *, action: str, variant: str,
           purpose: str | None, case_id: str | None, range_header: str | None
           ) -> StreamingResponse:
    sha = sha256.lower()
    clip = cw.scopes.clip(who.scope, sha)  # out of scope: not found, before anything else
    purpose = canonical_purpose(purpose)
    cw.approvals.use(who.account, who.scope, clip, variant=variant)  # grant_used, or 403
    obj = getattr(clip, variant, None)
    size = obj.size if obj is not None else 0
    wanted = parse_range(range_header, size) if obj is not None else None  # 416 before recording
    opened = cw.access.open(sha, action=action, variant=variant, purpose=purpose, actor=who.name,
                       role=who.role, case_id=case_id,
                       byte_range=None if wanted is None else (wanted.start, wanted.end))
    media = "video/mp4" if variant in ("playback", "proxy") else "application/octet-stream"
    disposition = "attachment" if action == "download" else "inline"
    headers = {"ETag": f'"{opened.object.sha256}"'}
    if opened.access_index is not None:
        headers["X-Liuhen-Access-Index"] = str(opened.access_index)
    return copy_response(opened.stream, size=opened.object.size, wanted=wanted, media_type=media,
                         disposition=f'{disposition}; filename="{sha}-{variant}'
                         f'{".mp4" if media == "video/mp4" else ".bin"}"',
                         what=f"{variant} of {sha}", headers=headers)


@router.get("/clips/{sha256}/play", responses=_MEDIA, response_class=StreamingResponse,
            summary="play a copy (ranges supported); needs a purpose")
def play(sha256: ShaPath, *, who: Readers, cw: CaseworkDep, purpose: Purpose = None,
         purpose_header: PurposeHeader = None, case_id: CaseQuery = None,
         variant: Literal["playback", "proxy", "original"] = "playback",
         range_header: RangeHeader = None) -> StreamingResponse:
    return _serve(cw, who, sha256, action="play", variant=variant,
                  purpose=_purpose(purpose, purpose_header), case_id=case_id,
                  range_header=range_header)


@router.get("/clips/{sha256}/download", responses=_MEDIA, response_class=StreamingResponse,
            summary="download a copy, the original by default (by its stored version)")
def download(sha256: ShaPath, *, who: Readers, cw: CaseworkDep, purpose: Purpose = None,
             purpose_header: PurposeHeader = None, case_id: CaseQuery = None,
             variant: Literal["original", "playback", "proxy"] = "original",
             range_header: RangeHeader = None) -> StreamingResponse:
    return _serve(cw, who, sha256, action="download", variant=variant,
                  purpose=_purpose(purpose, purpose_header), case_id=case_id,
                  range_header=range_header)


@router.get("/clips/{sha256}/accesses", summary="who viewed this clip, and why",
            tags=["access log"])
def clip_accesses(sha256: ShaPath, who: Supervisors, cw: CaseworkDep,
                  limit: Limit = 500) -> list[AccessOut]:
    cw.scopes.clip(who.scope, sha256.lower())
    return [AccessOut.of(a) for a in cw.access.log(sha256=sha256.lower(), limit=limit)]


@router.get("/officers/{officer_no}/accesses", tags=["access log"],
            summary="views of an officer's clips (by=clips) or views by the officer (by=actor)")
def officer_accesses(officer_no: Annotated[str, Path(min_length=1, max_length=32)],
                     who: Supervisors, cw: CaseworkDep,
                     by: Literal["clips", "actor"] = "clips",
                     limit: Limit = 500) -> list[AccessOut]:
    if by == "clips":
        found = cw.access.log(officer=officer_no, limit=limit)
    else:
        found = cw.access.log(actor=officer_no, limit=limit)
    return [AccessOut.of(a) for a in visible_accesses(cw, who, found)]

