"""A log's C2SP tlog-tiles read over HTTP(S) from its URL prefix (ledger.ports.TileReader), for
auditors: ``liuhen audit --tiles URL`` and ``verify-bundle --tiles URL``. Nothing read is
trusted: the audit and the proofs check every byte."""

from __future__ import annotations

import httpx

from evidence.errors import NotFoundError, UnavailableError
from storage.tilestore import check_tile_path

MAX_TILE_OBJECT_BYTES = 256 * (2 + 0xFFFF)  # a full entry bundle of the largest entries


class HttpTileReader:
    """Tiles fetched from ``prefix`` over HTTP(S) (a C2SP tlog-tiles log's URL prefix). A 404
    is NotFoundError; other failures UnavailableError. Bodies are bounded."""

    def __init__(self, prefix: str, *, timeout_s: float = 30.0) -> None:
        self.prefix = prefix.rstrip("/")
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def __repr__(self) -> str:
        return f"HttpTileReader({self.prefix!r})"

    def read(self, path: str) -> bytes:
        url = f"{self.prefix}/{check_tile_path(path)}"
        try:
            with self._client.stream("GET", url) as reply:
                if reply.status_code == httpx.codes.NOT_FOUND:
                    raise NotFoundError(f"{url}: 404")
                if reply.status_code != httpx.codes.OK:
                    raise UnavailableError(f"{url}: HTTP {reply.status_code}")
                body = bytearray()
                for chunk in reply.iter_bytes():
                    body += chunk
                    if len(body) > MAX_TILE_OBJECT_BYTES:
                        raise UnavailableError(f"{url}: larger than any tile or bundle")
                return bytes(body)
        except httpx.HTTPError as exc:
            raise UnavailableError(f"{url}: {exc}") from exc

    def close(self) -> None:
        self._client.close()
