"""Hostile values on every REST route that takes a time, an id or free text (issue 11 §2, §5):
each gets a 4xx with a message in Chinese, never a 5xx, and nothing is appended to the ledger.

The values come in kinds (times outside the bureau's years or not representable, invisible and
control characters, characters that break a URL, look-alike 警号, purposes without words);
every route is tried with every value of the kinds it takes. Both backends: a NUL byte that
SQLite stores is an error in PostgreSQL's driver, so each route must refuse it first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from api.http.auth import Role
from devices.sim.cards import Media
from tests.integration.test_api_support import BACKENDS, World, world_fixture

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CASE = "H-1"
TIMES = [
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0999-06-01T00:00:00Z",
    "9999-12-31T23:59:59Z", "1999-12-31T23:59:59Z", "2101-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-24T25:00:00Z",
    "2026-11-24T09:00:00+24:00", "2026-11-24T09:00:00", "yesterday", "1e20", "-1", "0",
    "99999999999999999999", "NaN", "2026-11-24T09:00:00Z\x00", "\x00",
]
INVISIBLE = ["\x00", "a\x00b", "\u202eC-1", "C\u200b-1", "\ufeffC-1", "C-1\u2060", "\x1b[31m",
             "a\u2028b", "a\x7fb", "\u2066C-1\u2069", "C\U000e0041-1", "a\ufffdb"]
TOO_LONG = ["x" * 5000]
OFFICERS = ["０００１２３", "000１23", "000\u200b123", "\u202e000123", "٠٠٠١٢٣", "𝟎𝟎𝟎𝟏𝟐𝟑",
            "00012", "123456789", "abcdef", "000 123"]
NEW_CASE_IDS = ["a/b", "a\\b", "a#b", "a?b", "a%b", ".", "..", "．．", "a／b", " C-2", "C-2 ",
                "a\nb", "a\u3000b"]
PURPOSES = ["\u200b", "\ufeff", "\u202e", "\u2800", ".", "x", "\u3164\u3164", "\u200b\u2800.",
            "-", "\u0301\u0301", "\x00", "复核\x00", "\x1b[31m复核", "复核\x7f", "复核\ufffd",
            "\u202e\u200bx\u2060"]
IDS = INVISIBLE + TOO_LONG


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          media: Media) -> Iterator[World]:
    for w in world_fixture(request, tmp_path_factory, media):
        auth = w.auth(Role.OFFICER)
        assert w.client.post("/api/cases", headers=auth,
                             json={"case_id": CASE, "title": "案件"}).status_code == 201
        assert w.client.post(f"/api/cases/{CASE}/steps", headers=auth,
                             json={"code": "chafeng"}).status_code == 201
        yield w


def seg(value: str) -> str:
    return quote(value, safe="")


def refused(world: World, method: str, url: str, *, params: dict[str, str] | None = None,
            body: object = None, headers: dict[str, str] | None = None) -> None:
    """The request gets a 4xx with a Chinese message, and the ledger does not grow."""
    before = world.station.ledger.store.size()
    content = None if body is None else json.dumps(body, ensure_ascii=True).encode()
    r = world.client.request(method, url, params=params, content=content,
                             headers={**world.auth(Role.ADMIN), **(headers or {}),
                                      **({"Content-Type": "application/json"} if content else {})})
    assert 400 <= r.status_code < 500, (method, url, params, body, r.status_code, r.text)
    detail = r.json()["detail"]
    assert re.search(r"[\u3400-\u9fff]", detail), (method, url, params, body, detail)
    assert world.station.ledger.store.size() == before, (method, url, params, body)


def test_search_filters(world: World) -> None:
    for name, values in (("start", TIMES), ("end", TIMES), ("officer", OFFICERS + IDS),
                         ("device", IDS), ("case", IDS)):
        for value in values:
            refused(world, "GET", "/api/clips", params={name: value})
    for value in IDS:
        refused(world, "GET", "/api/clips", params={"case": CASE, "step": value})


def test_case_ids_in_paths(world: World) -> None:
    sha = world.playable.sha256
    for value in [*IDS, "%", "#", "?", "a%2Fb"]:
        c = seg(value)
        for method, url, body in [
            ("GET", f"/api/cases/{c}", None),
            ("POST", f"/api/cases/{c}/steps", {"code": "chafeng"}),
            ("PUT", f"/api/cases/{c}/steps/s1", {}),
            ("POST", f"/api/cases/{c}/steps/s1/links", {"sha256": sha}),
            ("DELETE", f"/api/cases/{c}/steps/s1/links/{sha}", None),
            ("GET", f"/api/cases/{c}/completeness", None),
            ("GET", f"/api/cases/{c}/accesses", None),
        ]:
            refused(world, method, url, body=body)


def test_step_ids_in_paths_and_bodies(world: World) -> None:
    sha = world.playable.sha256
    for value in [*IDS, "s1/..", "..", "s 1"]:
        s = seg(value)
        refused(world, "PUT", f"/api/cases/{CASE}/steps/{s}", body={})
        refused(world, "POST", f"/api/cases/{CASE}/steps/{s}/links", body={"sha256": sha})
        refused(world, "DELETE", f"/api/cases/{CASE}/steps/{s}/links/{sha}")
        refused(world, "POST", f"/api/cases/{CASE}/steps", body={"code": "chafeng",
                                                                  "step_id": value})


def test_new_cases(world: World) -> None:
    for value in NEW_CASE_IDS + IDS:
        refused(world, "POST", "/api/cases", body={"case_id": value, "title": "案件"})
    for field in ("title", "unit_no"):
        for value in [*IDS, "\ud800"]:  # a lone surrogate, as JSON allows
            refused(world, "POST", "/api/cases", body={"case_id": "H-ok", "title": "案件",
                                                       field: value})


def test_steps_times_and_officers(world: World) -> None:
    for field in ("started_at", "ended_at"):
        for value in TIMES:
            refused(world, "POST", f"/api/cases/{CASE}/steps",
                    body={"code": "chafeng", field: value})
            refused(world, "PUT", f"/api/cases/{CASE}/steps/s1", body={field: value})
    for value in OFFICERS + IDS:
        refused(world, "POST", f"/api/cases/{CASE}/steps",
                body={"code": "chafeng", "officer": value})
        refused(world, "PUT", f"/api/cases/{CASE}/steps/s1", body={"officer": value})
    for value in IDS:
        refused(world, "POST", f"/api/cases/{CASE}/steps", body={"code": value})


def test_step_kinds(world: World) -> None:
    for value in IDS:
        refused(world, "POST", "/api/step-kinds", body={"code": "own_kind", "name": value,
                                                        "rule": "required"})
        refused(world, "POST", "/api/step-kinds", body={"code": value, "name": "自定义",
                                                        "rule": "required"})


def test_purposes_and_cases_of_views(world: World) -> None:
    sha = world.playable.sha256
    for action in ("play", "download"):
        url = f"/api/clips/{sha}/{action}"
        for value in [*PURPOSES, "复" * 501]:
            refused(world, "GET", url, params={"purpose": value})
            refused(world, "GET", url, headers={"X-Liuhen-Purpose": quote(value)})
        for raw in ("%FF%FE", "%ED%A0%80%ED%A0%80", "%E2%80%8B"):  # undecodable, or invisible
            refused(world, "GET", url, headers={"X-Liuhen-Purpose": raw})
            refused(world, "GET", f"{url}?purpose={raw}")
        for value in IDS:
            refused(world, "GET", url, params={"purpose": "案件复核", "case": value})


def test_officers_and_actors_of_access_logs(world: World) -> None:
    for value in OFFICERS + IDS:
        refused(world, "GET", f"/api/officers/{seg(value)}/accesses")
    for value in IDS:
        refused(world, "GET", f"/api/officers/{seg(value)}/accesses", params={"by": "actor"})
