"""Nothing of a request body is read before the caller is known, no body is read past its
route's cap, and the server answers only to its own host names (api/http/gate.py).

Bytes are counted where the app pulls them: an ASGI wrapper counts the body bytes the app
takes from ``receive``, and the client streams a 100 MB body lazily (httpx's ASGI transport
hands the app one chunk per ``receive``), so a refusal costs what the app read, not 100 MB.
The routes come from the app's route table (REST and pages), so a new route is covered.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.app import HttpConfig, create_app
from api.http.auth import Role, route_table
from api.settings import Settings
from devices.sim.cards import Media
from tests.integration.test_api_support import BACKENDS, World, world_fixture

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

MiB = 1 << 20
HUGE = 100 * 1000 * 1000  # 100 MB
CHUNK = 64 * 1024
PARAMS = {"sha256": "f" * 64, "case_id": "GATE-1", "step_id": "s1", "name": "liuhen.css",
          "officer_no": "000123", "variant": "playback", "station_id": "pcs-a", "index": "0",
          "request_id": "0", "picture": "thumb", "token_id": "1", "session_id": "1",
          "upload_id": "0" * 32}
BOUNDARY = "liuhen-gate-test"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          media: Media) -> Iterator[World]:
    yield from world_fixture(request, tmp_path_factory, media, docked=False)


class Counted:
    """The app, counting the body bytes it pulls from ``receive``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.read = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counting() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.read += len(message.get("body", b""))
            return message

        await self.app(scope, counting, send)


@dataclass
class Sent:
    status: int
    read: int
    body: bytes


def fill(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], path)


def _content_type(method: str, path: str) -> str:
    if path.startswith("/ui"):
        return f"multipart/form-data; boundary={BOUNDARY}"
    if (method, path) == ("POST", "/api/verify"):
        return "application/octet-stream"
    return "application/json"


async def _body(size: int) -> AsyncIterator[bytes]:
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"clip.mp4\"\r\nContent-Type: video/mp4\r\n\r\n").encode()
    yield head
    left = size - len(head)
    while left > 0:
        yield b"\0" * min(CHUNK, left)
        left -= CHUNK


def send(world: World, method: str, path: str, *, headers: dict[str, str] | None = None,
         size: int = HUGE, declare: bool = False, host: str = "testserver") -> Sent:
    """``size`` bytes streamed to ``path`` (chunked, or with Content-Length when ``declare``)."""
    counted = Counted(world.app)
    sent_headers = {"Content-Type": _content_type(method, path), **(headers or {})}
    if declare:
        sent_headers["Content-Length"] = str(size)

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=counted)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
            return await client.request(method, fill(path), content=_body(size),
                                        headers=sent_headers)

    response = asyncio.run(run())
    return Sent(status=response.status_code, read=counted.read, body=response.content)


def routes(world: World) -> list[tuple[str, str]]:
    """Every (method, path) of the app that is not a mounted sub-app, REST and pages."""
    return sorted((method, r.path) for r in route_table(world.app)
                  if r.kind != "Mount" for method in r.methods if method != "HEAD")


@pytest.mark.parametrize("declare", [False, True], ids=["chunked", "content-length"])
def test_an_anonymous_upload_is_refused_before_its_body_is_read(world: World,
                                                                declare: bool) -> None:
    every = routes(world)
    assert {("POST", "/ui/verify"), ("POST", "/api/verify"), ("POST", "/ui/signin"),
            ("PUT", "/api/cases/{case_id}/steps/{step_id}")} <= set(every)
    for method, path in every:
        sent = send(world, method, path, declare=declare)
        assert sent.read <= MiB, (method, path, sent.read)
        if method in WRITES:
            assert sent.status in (303, 401, 413), (method, path, sent.status)


def test_anonymous_guarded_routes_read_nothing_and_answer_as_without_a_body(
        world: World) -> None:
    sent = send(world, "POST", "/ui/verify")
    assert (sent.status, sent.read) == (303, 0)  # the sign-in page, as for any anonymous page
    sent = send(world, "POST", "/api/cases")
    assert (sent.status, sent.read) == (401, 0), sent.body
    assert b"authentication required" in sent.body
    sent = send(world, "POST", "/api/cases",
                headers={"Authorization": "Bearer lh_not-a-token"})
    assert (sent.status, sent.read) == (401, 0), sent.body


def test_a_role_the_route_does_not_admit_sends_no_body_either(world: World) -> None:
    officer = world.auth(Role.OFFICER)
    sent = send(world, "POST", "/api/step-kinds", headers=officer)  # admins only
    assert (sent.status, sent.read) == (403, 0), sent.body
    cookie = {"Cookie": f"liuhen_token={world.tokens[Role.OFFICER]}; liuhen_session=x"}
    sent = send(world, "POST", "/ui/verify", headers=cookie)  # auditors and admins only
    assert (sent.status, sent.read) == (403, 0)


def test_caps_apply_to_signed_in_callers_too(world: World) -> None:
    admin = world.auth(Role.ADMIN)
    sent = send(world, "POST", "/api/cases", headers=admin)
    assert sent.status == 413 and MiB < sent.read <= MiB + CHUNK, sent
    sent = send(world, "POST", "/api/cases", headers=admin, declare=True)
    assert (sent.status, sent.read) == (413, 0)
    # The uploads are capped too: at MAX_VERIFY_UPLOAD_BYTES (16 GiB), declared or streamed.
    over = (16 << 30) + 1
    sent = send(world, "POST", "/api/verify", headers=admin, size=over, declare=True)
    assert (sent.status, sent.read) == (413, 0), sent.body
    assert b"payload_too_large" in sent.body
    # within its cap, an upload is read whole by its caller (hashed; an unknown file)
    sent = send(world, "POST", "/api/verify", headers=world.auth(Role.AUDITOR), size=3 * MiB)
    assert (sent.status, sent.read) == (404, 3 * MiB), sent.body


def test_the_server_answers_only_to_its_own_host_names(world: World) -> None:
    r = world.client.get("/api/health")
    assert r.status_code == 200
    for bad in ("evil.example", "evil.example:8000", "testserver.evil.example", ""):
        r = world.client.get("/api/health", headers={"Host": bad})
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["error"] == "bad_request" and "Host" in r.json()["detail"]
    sent = send(world, "POST", "/api/cases", headers=world.auth(Role.ADMIN), host="evil.example")
    assert (sent.status, sent.read) == (400, 0)
    r = world.client.get("/api/health", headers={"Host": "TestServer:8443"})
    assert r.status_code == 200  # case and port do not matter


@pytest.mark.parametrize(("settings", "bind_host", "host", "status"), [
    ({}, None, "liuhen.local", 200),  # default: the host part of LIUHEN_ORIGIN
    ({}, None, "localhost", 400),
    ({"origin": "liuhen.example-bureau/ledger/v1"}, "10.0.0.5", "liuhen.example-bureau", 200),
    ({"origin": "liuhen.example-bureau/ledger/v1"}, "10.0.0.5", "localhost", 400),
    ({}, "127.0.0.1", "localhost:8000", 200),  # loopback: the demo and tests
    ({}, "127.0.0.1", "127.0.0.1:8000", 200),
    ({}, "::1", "[::1]:8000", 200),
    ({}, "localhost", "127.0.0.1", 200),
    ({"hosts": ["evidence.bureau.example"]}, "10.0.0.5", "evidence.bureau.example", 200),
    ({"hosts": ["evidence.bureau.example"]}, "10.0.0.5", "liuhen.local", 400),
])
def test_host_names_come_from_settings_and_the_bound_address(
        tmp_path: Path, settings: dict[str, object], bind_host: str | None, host: str,
        status: int) -> None:
    given = Settings(data_dir=tmp_path, **settings)  # type: ignore[arg-type]  # per-field types
    app = create_app(given, config=HttpConfig(bind_host=bind_host, publish_interval_s=None))
    client = TestClient(app)  # not started: the health check needs no ledger
    assert client.get("/api/health", headers={"Host": host}).status_code == status
