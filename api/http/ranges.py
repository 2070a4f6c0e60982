"""Single byte ranges (RFC 9110 §14) for playback and download.

One range per request: ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n``. A Range header this does not
understand (another unit, several ranges, bad syntax) is ignored and the whole content is sent,
as §14.2 allows; a range that starts past the end gets 416 with ``Content-Range: bytes */size``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from fastapi import HTTPException
from fastapi.responses import StreamingResponse

from evidence.errors import LiuhenError

log = logging.getLogger("liuhen.api")

_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")


def read_range(stream: BinaryIO, *, start: int, length: int | None,
               chunk_bytes: int = 1 << 20) -> Iterator[bytes]:
    """Bytes ``[start, start + length)`` of ``stream`` (to its end when ``length`` is None),
    ``chunk_bytes`` at a time; closes the stream when done or abandoned.

    Stores hand out forward-only streams that check the SHA-256 at their end, so a range is
    reached by reading past ``start``; a whole read (``start`` 0, no ``length``) goes on to the
    end, where a changed object raises VerificationError instead of ending quietly. A seekable
    stream (an object encrypted at rest: storage/sealedstore.py) jumps to ``start`` and fetches
    and decrypts only the segments the range covers."""
    try:
        skip = start
        if skip and stream.seekable():
            stream.seek(start)
            skip = 0
        while skip:
            got = stream.read(min(skip, chunk_bytes))
            if not got:
                return
            skip -= len(got)
        left = length
        while left is None or left > 0:
            got = stream.read(chunk_bytes if left is None else min(left, chunk_bytes))
            if not got:
                return
            if left is not None:
                left -= len(got)
            yield got
    finally:
        stream.close()


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int
    """Inclusive, as in Content-Range."""

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The range asked for, clipped to ``size``; None for "the whole content"; HTTPException
    416 when it cannot be satisfied."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # suffix: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise unsatisfiable(size)
        return ByteRange(start=max(0, size - n), end=size - 1)
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if last != "" and int(last) < start:
        return None  # invalid syntax (last < first): ignored
    if start >= size:
        raise unsatisfiable(size)
    return ByteRange(start=start, end=end)


def unsatisfiable(size: int) -> HTTPException:
    return HTTPException(status_code=416, detail=f"the range is outside the content of {size} "
                         "bytes", headers={"Content-Range": f"bytes */{size}"})


def _guarded(chunks: Iterator[bytes], what: str) -> Iterator[bytes]:
    # Once the status line is out, an error can only cut the response short; say so in the log
    # (a VerificationError here means the stored bytes changed: the fixity job must look).
    try:
        yield from chunks
    except LiuhenError:
        log.exception("streaming %s stopped", what)
        raise


def copy_response(stream: BinaryIO, *, size: int, wanted: ByteRange | None, media_type: str,
                  disposition: str, what: str, headers: dict[str, str]) -> StreamingResponse:
    """The whole of a stored copy (200) or the range ``wanted`` (206), streamed from
    ``stream`` (an opened, already-recorded access); ``headers`` are added to the range ones."""
    start, length = (0, None) if wanted is None else (wanted.start, wanted.length)
    out = {"Accept-Ranges": "bytes", "Content-Length": str(size if length is None else length),
           "Cache-Control": "no-store", "Content-Disposition": disposition, **headers}
    if wanted is not None:
        out["Content-Range"] = wanted.content_range(size)
    body = _guarded(read_range(stream, start=start, length=length), what)
    return StreamingResponse(body, status_code=200 if wanted is None else 206,
                             media_type=media_type, headers=out)
