"""Request body cap (bound DoS): every request body is at most ``max_bytes`` except the few
streaming routes named in ``unlimited`` (verify-by-upload hashes as it reads and keeps nothing).

A body declared larger (Content-Length) is refused before the app sees it; a body that turns out
larger while it is read raises HTTP 413 from ``receive``, which FastAPI passes through to the
JSON error handler. Either way the answer is ``413 {"error": "payload_too_large", ...}``.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _too_large(max_bytes: int) -> str:
    return f"the request body is larger than {max_bytes} bytes"


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int,
                 unlimited: frozenset[tuple[str, str]] = frozenset()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.unlimited = unlimited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in self.unlimited:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send, 413 if declared.isdigit() else 400,
                               _too_large(self.max_bytes) if declared.isdigit()
                               else "malformed Content-Length")
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(status_code=413, detail=_too_large(self.max_bytes))
            return message

        await self.app(scope, limited, send)

    @staticmethod
    async def _refuse(send: Send, status: int, detail: str) -> None:
        code = "payload_too_large" if status == 413 else "bad_request"
        body = json.dumps({"error": code, "detail": detail}).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
