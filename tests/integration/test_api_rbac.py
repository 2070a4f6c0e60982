"""RBAC: every REST route × every role (and no token), generated from ``app.routes``.

The matrix below is the specification of ``/api``; a REST route that is not in it, or whose
declared guard differs from it, fails the test. Deny by default: ``create_app`` refuses any route
(REST or page) without a guard; the pages' own behaviour per role (sign-in redirects, HTML
errors) is tested with the pages (tests/e2e/).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

import pytest
from fastapi import APIRouter, FastAPI

from api.http.auth import Role, RouteInfo, route_table, unguarded_routes
from devices.sim.cards import Media
from tests.integration.test_api_support import BACKENDS, NAMES, World, world_fixture

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

OFF, LEAD, AUD, ADM = Role.OFFICER, Role.LEADER, Role.AUDITOR, Role.ADMIN
ALL = frozenset(Role) - {Role.DEVICE}  # a device only uploads
PEOPLE = ALL - {Role.STATION}
READ = frozenset({OFF, LEAD, AUD, ADM})
EDIT = frozenset({OFF, LEAD, ADM})
SUPERVISE = frozenset({LEAD, AUD, ADM})
PUBLIC: Literal["public"] = "public"

MATRIX: dict[tuple[str, str], frozenset[Role] | Literal["public"]] = {
    ("GET", "/api/health"): PUBLIC,
    ("GET", "/api/stations/bureau"): PUBLIC,
    ("POST", "/api/stations/register"): PUBLIC,
    ("GET", "/api/stations/{station_id}"): frozenset({Role.STATION}),
    ("POST", "/api/stations/{station_id}/push"): frozenset({Role.STATION}),
    ("PUT", "/api/stations/{station_id}/objects/{index}"): frozenset({Role.STATION}),
    ("OPTIONS", "/api/uploads"): PUBLIC,
    ("POST", "/api/uploads"): frozenset({Role.DEVICE}),
    ("HEAD", "/api/uploads/{upload_id}"): frozenset({Role.DEVICE}),
    ("PATCH", "/api/uploads/{upload_id}"): frozenset({Role.DEVICE}),
    ("POST", "/api/login"): PUBLIC,
    ("POST", "/api/login/challenge"): PUBLIC,
    ("POST", "/api/login/certificate"): PUBLIC,
    ("POST", "/api/logout"): ALL,
    ("GET", "/api/users/{officer_no}/sessions"): PEOPLE,
    ("DELETE", "/api/users/{officer_no}/sessions"): PEOPLE,
    ("POST", "/api/cases/{case_id}/officers"): EDIT,
    ("GET", "/api/me"): ALL,
    ("GET", "/api/verify/{sha256}"): ALL,
    ("POST", "/api/verify"): ALL,
    ("GET", "/api/ledger/proofs/inclusion"): ALL,
    ("GET", "/api/ledger/proofs/consistency"): ALL,
    ("GET", "/api/ledger/checkpoints/latest"): ALL,
    ("GET", "/api/ledger/checkpoints"): ALL,
    ("GET", "/api/clips/{sha256}/bundle"): READ,
    ("POST", "/api/cases"): EDIT,
    ("GET", "/api/cases"): READ,
    ("GET", "/api/cases/{case_id}"): READ,
    ("POST", "/api/cases/{case_id}/steps"): EDIT,
    ("PUT", "/api/cases/{case_id}/steps/{step_id}"): EDIT,
    ("GET", "/api/step-kinds"): READ,
    ("POST", "/api/step-kinds"): frozenset({ADM}),
    ("POST", "/api/cases/{case_id}/steps/{step_id}/links"): EDIT,
    ("DELETE", "/api/cases/{case_id}/steps/{step_id}/links/{sha256}"): EDIT,
    ("GET", "/api/cases/{case_id}/completeness"): READ,
    ("GET", "/api/cases/{case_id}/accesses"): SUPERVISE,
    ("GET", "/api/clips"): READ,
    ("GET", "/api/clips/{sha256}"): READ,
    ("GET", "/api/clips/{sha256}/play"): READ,
    ("GET", "/api/clips/{sha256}/download"): READ,
    ("GET", "/api/clips/{sha256}/accesses"): SUPERVISE,
    ("GET", "/api/officers/{officer_no}/accesses"): SUPERVISE,
    ("POST", "/api/approvals"): READ,
    ("GET", "/api/approvals"): READ,
    ("GET", "/api/approvals/{request_id}"): READ,
    ("POST", "/api/approvals/{request_id}/decision"): READ,
}

REQUIRED_QUERY = {"/api/ledger/proofs/inclusion": "index=0",
                  "/api/ledger/proofs/consistency": "old=1"}


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          media: Media) -> Iterator[World]:
    yield from world_fixture(request, tmp_path_factory, media)


def routes(app: FastAPI) -> Iterator[tuple[str, RouteInfo]]:
    for route in route_table(app):
        if route.kind == "api" and route.path.startswith("/api/"):
            for method in sorted(route.methods):
                yield method, route


def test_no_route_is_unguarded(world: World) -> None:
    assert unguarded_routes(world.app) == []


def test_a_route_without_a_guard_is_found() -> None:
    app = FastAPI()
    router = APIRouter()

    @router.get("/api/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    app.include_router(router, prefix="/v")
    assert unguarded_routes(app) == ["['GET'] /v/api/forgotten"]


def test_every_route_is_in_the_matrix_with_the_roles_it_declares(world: World) -> None:
    seen = set()
    for method, route in routes(world.app):
        key = (method, route.path)
        seen.add(key)
        assert key in MATRIX, f"{method} {route.path} has no RBAC matrix entry"
        want = MATRIX[key]
        if want == PUBLIC:
            assert route.public and route.roles is None, key
        else:
            assert route.roles == want, key
    assert seen == set(MATRIX), f"matrix entries without a route: {set(MATRIX) - seen}"


def _url(world: World, route: RouteInfo) -> str:
    values = {"sha256": world.playable.sha256, "case_id": "RBAC-1", "step_id": "s1",
              "officer_no": "000123", "station_id": NAMES[Role.STATION], "index": "0",
              "request_id": "0", "upload_id": "0" * 32}
    path = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], route.path)
    query = REQUIRED_QUERY.get(route.path)
    return f"{path}?{query}" if query else path


@pytest.fixture(scope="module")
def rbac_case(world: World) -> str:
    client, auth = world.client, world.auth(Role.OFFICER)
    assert client.post("/api/cases", json={"case_id": "RBAC-1", "title": "t"},
                       headers=auth).status_code == 201
    assert client.post("/api/cases/RBAC-1/steps", json={"code": "chafeng"},
                       headers=auth).status_code == 201
    world.station.ledger.publish()
    return "RBAC-1"


@pytest.mark.parametrize("who", [*Role, None], ids=lambda r: r or "anonymous")
def test_every_route_admits_exactly_its_roles(world: World, rbac_case: str,
                                              who: Role | None) -> None:
    for method, route in routes(world.app):
        allowed = MATRIX[(method, route.path)]
        headers = {} if who is None else world.auth(who)
        # a route that reads no body refuses one (the gate's 413): sign-out takes none
        body: dict[str, object] | None = {} if method in ("POST", "PUT") and route.body else None
        response = world.client.request(method, _url(world, route), headers=headers,
                                        json=body)
        where = f"{method} {route.path} as {who}"
        if allowed == PUBLIC:
            assert response.status_code in (200, 204, 422), where  # 422: sign-in, no body
        elif who is None:
            assert response.status_code == 401, where
            assert response.headers["www-authenticate"] == "Bearer"
        elif who in allowed:
            assert response.status_code not in (401, 403), (where, response.text)
        else:
            assert response.status_code == 403, (where, response.text)
            if method != "HEAD":  # a HEAD answer has no body
                assert response.json()["error"] == "forbidden"
