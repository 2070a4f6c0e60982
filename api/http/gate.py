"""The request gate: a pure ASGI middleware, outermost, that decides what of a request the app
may read before any route runs (docs/api.md §Hosts and request bodies).

Threat model: anyone who can reach the port. FastAPI reads (and spools to disk) a route's form,
multipart or JSON body *before* it runs the route's dependencies, the auth guard among them;
so the guard alone would let an anonymous caller make the server read a 100 MB upload before
answering 401. The gate therefore, for every HTTP request, before the app sees it:

1. Host: the ``Host`` header must name this server (``hosts``; case and port ignored), else 400.
   A page of another site whose name resolves here (DNS rebinding) cannot talk to the server,
   and the pages' Origin check compares against a Host that is ours.
2. Route: finds the route the app will run (the router's first full match) and its guard.
3. Cap: a body declared (Content-Length) larger than the route's cap is refused with 413 at
   once; a streamed body is counted as the app reads it, and the read that passes the cap
   raises 413. Caps: ``upload_routes`` ``max_upload_bytes``, other guarded routes
   ``max_request_bytes``, public ones (sign-in: no caller known yet) ``max_anonymous_bytes``;
   0 for routes that read no body (GETs, DELETEs, unknown paths), so a body sent to one is
   refused before anything runs, streamed (no Content-Length) or not: nothing, not even a
   streaming response listening for a disconnect, pulls its bytes.
4. Caller: for a guarded route that reads a body, the token (bearer header or session cookie)
   is looked up now, in a worker thread (a database read). A caller who is unknown, or whose
   role the route does not admit, reaches the app *without its body* (body headers dropped,
   an empty body): the route's guard then answers 401 or 403 as it always does, and not one
   byte was read. A known caller is left in the request state, so the guard does not look the
   token up again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from anyio import to_thread
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.auth import Principal, RouteInfo, authenticate, route_matcher
from evidence.errors import LiuhenError

_BODY_HEADERS = frozenset({b"content-length", b"content-type", b"transfer-encoding",
                           b"expect"})


def _too_large(max_bytes: int) -> str:
    if max_bytes == 0:
        return "此路由不接受请求正文 this route takes no request body"
    return f"请求正文过大 the request body is larger than {max_bytes} bytes"


def host_name(host: str) -> str:
    """The name in a ``Host`` header, lower case, without the port (``[::1]:8000`` → ``[::1]``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.partition(":")[0]


@dataclass(frozen=True, slots=True)
class GateConfig:
    hosts: frozenset[str]
    """Host names the server answers to (lower case, no port)."""
    max_request_bytes: int
    max_upload_bytes: int
    max_anonymous_bytes: int
    upload_routes: frozenset[tuple[str, str]]
    """(method, path template) of the streaming uploads that get ``max_upload_bytes``."""


class RequestGate:
    def __init__(self, app: ASGIApp, *, config: GateConfig) -> None:
        self.app = app
        self.config = config
        self._match: Callable[[Scope], RouteInfo | None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        # (1) Host
        if host_name(conn.headers.get("host", "")) not in self.config.hosts:
            await _refuse(send, 400, "主机名不属于本服务器 the Host header does not name this "
                          "server (LIUHEN_HOSTS)")
            return
        # (2) route, (3) cap of what is declared
        route = self._route(scope)
        cap = self._cap(scope["method"], route)
        declared = conn.headers.get("content-length")
        if declared is not None and not declared.isdigit():
            await _refuse(send, 400, "Content-Length 格式错误 malformed Content-Length")
            return
        streamed = "transfer-encoding" in conn.headers
        if (declared is not None and int(declared) > cap) or (cap == 0 and streamed):
            await _refuse(send, 413, _too_large(cap))
            return
        # (4) caller, before a body is read
        if route is not None and route.body and not route.public:
            principal = await self._caller(conn)
            if principal is None or (route.roles is not None
                                     and not principal.roles & route.roles):
                await self.app(_without_body(scope), _empty_body(), send)
                return
        # (3) cap of what is streamed
        await self.app(scope, _capped(receive, cap), send)

    def _route(self, scope: Scope) -> RouteInfo | None:
        if self._match is None:  # the app's routes are all in place by its first request
            app = scope["app"]
            if not isinstance(app, FastAPI):
                raise TypeError("RequestGate serves a FastAPI app")
            self._match = route_matcher(app)
        return self._match(scope)

    def _cap(self, method: str, route: RouteInfo | None) -> int:
        if route is None or not route.body:
            return 0
        if (method, route.path) in self.config.upload_routes:
            return self.config.max_upload_bytes
        if route.public:
            return self.config.max_anonymous_bytes
        return self.config.max_request_bytes

    @staticmethod
    async def _caller(conn: HTTPConnection) -> Principal | None:
        login = getattr(conn.app.state, "login", None)
        if login is None:
            return None  # starting: the route's guard answers 503
        try:
            principal = await to_thread.run_sync(authenticate, conn, login)
        except (HTTPException, LiuhenError):
            return None  # the route's guard answers with the reason, as without a gate
        conn.state.principal = principal
        return principal


def _without_body(scope: Scope) -> Scope:
    headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _BODY_HEADERS]
    return {**scope, "headers": headers}


def _empty_body() -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:  # such a request only gets a short refusal: no one waits for more
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": b"", "more_body": False}

    return receive


def _capped(receive: Receive, cap: int) -> Receive:
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > cap:
                raise HTTPException(status_code=413, detail=_too_large(cap))
        return message

    return limited


async def _refuse(send: Send, status: int, detail: str) -> None:
    code = "payload_too_large" if status == 413 else "bad_request"
    body = json.dumps({"error": code, "detail": detail}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
