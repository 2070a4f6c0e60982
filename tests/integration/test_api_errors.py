"""Bad input on every REST endpoint → 4xx with a clear JSON message, never 5xx: unknown ids,
malformed hashes, malformed JSON, out-of-range parameters, bodies over the cap. The routes come
from ``app.routes``, so a new endpoint without an entry in UNKNOWN fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from api.http.auth import Role, route_table
from devices.sim.cards import Media
from tests.integration.test_api_support import BACKENDS, World, world_fixture

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

UNKNOWN_SHA = "f" * 64
UNKNOWN = {"sha256": UNKNOWN_SHA, "case_id": "NO-SUCH-CASE", "step_id": "s999",
           "officer_no": "999999", "request_id": "999999", "station_id": "no-such-station",
           "index": "999999", "upload_id": "f" * 32}

# (method, path) → (query, JSON body, expected status) of a request naming things that do not
# exist; None for routes that name nothing (searches, lists, health).
REQUESTS: dict[tuple[str, str], tuple[dict[str, object], object, int] | None] = {
    ("GET", "/api/health"): None,
    ("GET", "/api/me"): None,
    ("GET", "/api/verify/{sha256}"): ({}, None, 404),
    ("POST", "/api/verify"): None,
    ("GET", "/api/ledger/proofs/inclusion"): ({"index": 10**9}, None, 404),
    ("GET", "/api/ledger/proofs/consistency"): ({"old": 10**9}, None, 422),
    ("GET", "/api/ledger/checkpoints/latest"): None,
    ("GET", "/api/ledger/checkpoints"): None,
    ("GET", "/api/clips/{sha256}/bundle"): ({}, None, 404),
    ("POST", "/api/cases"): None,
    ("GET", "/api/cases"): None,
    ("GET", "/api/cases/{case_id}"): ({}, None, 404),
    ("POST", "/api/cases/{case_id}/steps"): ({}, {"code": "chafeng"}, 404),
    ("PUT", "/api/cases/{case_id}/steps/{step_id}"): ({}, {}, 404),
    ("GET", "/api/step-kinds"): None,
    ("POST", "/api/step-kinds"): None,
    ("POST", "/api/cases/{case_id}/steps/{step_id}/links"): ({}, {"sha256": UNKNOWN_SHA}, 404),
    ("DELETE", "/api/cases/{case_id}/steps/{step_id}/links/{sha256}"): ({}, None, 404),
    ("GET", "/api/cases/{case_id}/completeness"): ({}, None, 404),
    ("GET", "/api/cases/{case_id}/accesses"): ({}, None, 404),
    ("GET", "/api/clips"): None,
    ("GET", "/api/clips/{sha256}"): ({}, None, 404),
    ("GET", "/api/clips/{sha256}/play"): ({"purpose": "核查"}, None, 404),
    ("GET", "/api/clips/{sha256}/download"): ({"purpose": "核查"}, None, 404),
    ("GET", "/api/clips/{sha256}/accesses"): ({}, None, 404),
    ("GET", "/api/officers/{officer_no}/accesses"): None,  # 警号 is free text: an empty log
    ("POST", "/api/login"): None,  # no id: a wrong 警号 is a 401 like a wrong password
    ("POST", "/api/logout"): None,
    ("POST", "/api/login/challenge"): None,  # no id: anyone may ask for a challenge
    ("POST", "/api/login/certificate"): None,  # no id: a refused certificate is a 401
    ("GET", "/api/users/{officer_no}/sessions"): ({}, None, 404),
    ("DELETE", "/api/users/{officer_no}/sessions"): ({}, None, 404),
    ("POST", "/api/cases/{case_id}/officers"): ({}, {"officer": "000123"}, 404),
    ("POST", "/api/approvals"): None,
    ("GET", "/api/approvals"): None,
    ("GET", "/api/approvals/{request_id}"): None,  # API tokens have no account: 422
    ("POST", "/api/approvals/{request_id}/decision"): None,
    # stations' routes answer stations only (tests/integration/test_stations_sync.py)
    ("GET", "/api/stations/bureau"): None,
    ("POST", "/api/stations/register"): None,
    ("GET", "/api/stations/{station_id}"): None,
    ("POST", "/api/stations/{station_id}/push"): None,
    ("PUT", "/api/stations/{station_id}/objects/{index}"): None,
    # network uploads answer devices only (tests/integration/test_tus_uploads.py)
    ("OPTIONS", "/api/uploads"): None,
    ("POST", "/api/uploads"): None,
    ("HEAD", "/api/uploads/{upload_id}"): None,
    ("PATCH", "/api/uploads/{upload_id}"): None,
}
# Routes that take large bodies by design (the gate's upload caps): no 413 at 1.2 MB.
UPLOADS = {("POST", "/api/verify"), ("POST", "/api/stations/{station_id}/push"),
           ("PUT", "/api/stations/{station_id}/objects/{index}"),
           ("PATCH", "/api/uploads/{upload_id}")}


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          media: Media) -> Iterator[World]:
    yield from world_fixture(request, tmp_path_factory, media)


def api_routes(world: World) -> list[tuple[str, str]]:
    return sorted((method, r.path) for r in route_table(world.app)
                  if r.kind == "api" and r.path.startswith("/api/") for method in r.methods)


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def assert_clear_error(response: httpx.Response,
                       status: int | tuple[int, ...]) -> dict[str, str]:
    statuses = (status,) if isinstance(status, int) else status
    code = response.status_code
    assert code in statuses, response.text
    body: dict[str, str] = response.json()
    assert set(body) >= {"error", "detail"} and body["detail"].strip(), body
    return body


def test_every_route_has_an_unknown_id_case(world: World) -> None:
    assert set(api_routes(world)) == set(REQUESTS)


def test_unknown_ids_are_404_with_what_was_missing(world: World) -> None:
    world.station.ledger.publish()
    for (method, path), spec in REQUESTS.items():
        if spec is None:
            continue
        query, body, status = spec
        r = world.client.request(method, fill(path, UNKNOWN), params=query, json=body,
                                 headers=world.auth(Role.ADMIN))
        detail = assert_clear_error(r, status)["detail"]
        assert any(w in detail for w in ("no ", "not ", "larger")), (method, path, detail)


def test_malformed_hashes_are_422_naming_the_parameter(world: World) -> None:
    for method, path in api_routes(world):
        if "{sha256}" not in path:
            continue
        for bad in ("xyz", "0" * 63, "g" * 64, "0" * 65):
            values = {**UNKNOWN, "sha256": bad}
            r = world.client.request(method, fill(path, values), params={"purpose": "核查"},
                                     headers=world.auth(Role.ADMIN))
            body = assert_clear_error(r, 422)
            assert "'sha256' must be a SHA-256" in body["detail"], (method, path, body)
    r = world.client.post("/api/cases/X/steps/s1/links", json={"sha256": "nope"},
                          headers=world.auth(Role.ADMIN))
    assert "body 'sha256' must be a SHA-256" in assert_clear_error(r, 422)["detail"]


def test_huge_bodies_are_413_everywhere_but_the_upload(world: World) -> None:
    huge = b"[" + b"0," * (600 * 1024) + b"0]"  # 1.2 MB of valid JSON
    for method, path in api_routes(world):
        if (method, path) in UPLOADS or method == "HEAD":  # a HEAD answer has no body to read
            continue
        r = world.client.request(method, fill(path, UNKNOWN), content=huge,
                                 headers={**world.auth(Role.ADMIN),
                                          "Content-Type": "application/json"})
        body = assert_clear_error(r, 413)
        assert body["error"] == "payload_too_large", (method, path)

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it is read
        yield huge[:700_000]
        yield huge[700_000:]

    r = world.client.post("/api/cases", content=chunked(),
                          headers={**world.auth(Role.ADMIN), "Content-Type": "application/json"})
    assert assert_clear_error(r, 413)["error"] == "payload_too_large"


def test_malformed_json_bodies(world: World) -> None:
    reads_body = {r.path for r in route_table(world.app) if r.body}
    for method, path in api_routes(world):
        if method not in ("POST", "PUT") or (method, path) in UPLOADS or path not in reads_body:
            continue  # uploads are station-only and refuse an admin before reading the body
        r = world.client.request(method, fill(path, UNKNOWN), content=b'{"case_id": ',
                                 headers={**world.auth(Role.ADMIN),
                                          "Content-Type": "application/json"})
        body = assert_clear_error(r, 422)
        assert body["detail"] == "请求体不是有效的 JSON (the body is not valid JSON)", \
            (method, path, body)
        r = world.client.request(method, fill(path, UNKNOWN), json=["not", "an", "object"],
                                 headers=world.auth(Role.ADMIN))
        assert_clear_error(r, 422)


@pytest.mark.parametrize(("url", "params", "words"), [
    ("/api/cases", {"limit": 0}, "query parameter 'limit'"),
    ("/api/cases", {"offset": -1}, "query parameter 'offset'"),
    ("/api/clips", {"limit": 10**6}, "query parameter 'limit'"),
    ("/api/clips", {"start": "yesterday"}, "query parameter 'start'"),
    ("/api/clips", {"end": "2026-11-24T09:00:00"}, "has no timezone"),
    ("/api/clips", {"step": "s1"}, "give case too"),
    ("/api/ledger/proofs/inclusion", {}, "query parameter 'index'"),
    ("/api/ledger/proofs/inclusion", {"index": -1}, "query parameter 'index'"),
    ("/api/ledger/proofs/consistency", {"old": 0}, "query parameter 'old'"),
    ("/api/cases/X/completeness", {"gap_s": 0}, "query parameter 'gap_s'"),
    ("/api/officers/1/accesses", {"by": "everyone"}, "query parameter 'by'"),
])
def test_bad_parameters_say_which_and_why(world: World, url: str, params: dict[str, object],
                                          words: str) -> None:
    r = world.client.get(url, params=params, headers=world.auth(Role.ADMIN))
    assert words in assert_clear_error(r, 422)["detail"]


@pytest.mark.parametrize(("body", "words"), [
    ({"title": "t"}, "body 'case_id'"),
    ({"case_id": "a/b", "title": "t"}, "must not contain '/'"),
    ({"case_id": " a", "title": "t"}, "spaces"),
    ({"case_id": "x" * 101, "title": "t"}, "body 'case_id'"),
    ({"case_id": "ok-1", "title": "a\x00b"}, "案件名称含不可见字符、控制字符"),
    ({"case_id": "ok-2", "title": "   "}, "案件名称不能为空"),
])
def test_bad_cases_are_refused_with_a_reason(world: World, body: dict[str, object],
                                             words: str) -> None:
    r = world.client.post("/api/cases", json=body, headers=world.auth(Role.ADMIN))
    assert words in assert_clear_error(r, 422)["detail"]


def test_bad_step_kinds_are_refused(world: World) -> None:
    for body in ({"code": "Bad", "name": "n", "rule": "required"},
                 {"code": "ok", "name": "n", "rule": "sometimes"}):
        r = world.client.post("/api/step-kinds", json=body, headers=world.auth(Role.ADMIN))
        assert_clear_error(r, 422)


def test_unknown_paths_and_methods(world: World) -> None:
    auth = world.auth(Role.ADMIN)
    assert_clear_error(world.client.get("/api/nothing-here", headers=auth), 404)
    assert_clear_error(world.client.delete("/api/cases", headers=auth), 405)


def test_the_front_door_leads_to_the_pages_and_unknown_pages_are_html(world: World) -> None:
    """A person typing the server's address lands on the pages (not a JSON 404), and a page
    address that does not exist answers a page in Chinese, not JSON."""
    front = world.client.get("/", follow_redirects=False)
    assert front.status_code == 307 and front.headers["location"].endswith("/ui/")
    assert world.client.get("/").url.path == "/ui/signin"  # then sign-in, as any page
    for path in ("/ui/nothing-here", "/ui/clips/abc/nothing", "/ui/%1b%5d0;x"):
        page = world.client.get(path)
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html"), path
        assert "未找到" in page.text and "没有这个页面" in page.text and "\x1b" not in page.text
    assert_clear_error(world.client.get("/api/nothing-here"), 404)  # the API stays JSON
