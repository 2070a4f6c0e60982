"""Hostile values on every page (``/ui``) that takes a time, an id or free text (issue 11 §2, §5):
each gets a 4xx page whose message says what is wrong in Chinese, never a 500, and nothing is
appended to the ledger. Also: a player's ranged read of the whole copy under a play grant is
recorded as a download. Signed in as a browser would be (cookie and per-session form token)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from devices.sim.cards import Media
from evidence.records import EntryKind
from tests.integration.test_api_hostile import IDS, OFFICERS, PURPOSES
from tests.integration.test_api_support import BACKENDS, World, world_fixture

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CASE = "PH-1"
LOCAL_TIMES = ["0001-01-01T00:00", "9999-12-31T23:59", "0999-06-01T00:00", "1999-12-31T23:59",
               "2101-01-01T00:00", "2026-02-30T00:00", "yesterday", "1e20", "\x00",
               "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          media: Media) -> Iterator[World]:
    for w in world_fixture(request, tmp_path_factory, media):
        w.casework.cases.open_case(CASE, title="页面", unit_no="", major=False, actor="admin-1")
        w.casework.cases.record_step(CASE, code="chafeng", actor="admin-1")
        yield w


@pytest.fixture(scope="module")
def browser(world: World) -> Iterator[tuple[TestClient, str]]:
    """A signed-in page client (an admin's account) and its form token."""
    accounts = world.casework.accounts
    accounts.add_unit("110000000000", "市局", parent=None, actor="test")
    accounts.add_user("000900", name="管理员", unit="110000000000", roles=["admin"],
                      password="admin password 1", actor="test")
    with TestClient(world.app) as client:
        r = client.post("/ui/signin", data={"officer_no": "000900",
                                            "password": "admin password 1"})
        assert r.status_code in (200, 303), r.text
        page = client.get("/ui/")
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        assert csrf is not None, page.text
        yield client, csrf.group(1)


def message(page: str) -> str:
    found = re.search(r'<p class="notice bad" role="alert">(.*?)</p>', page, re.S)
    return html.unescape(found.group(1)) if found else ""


def refused(world: World, client: TestClient, method: str, url: str, *,
            params: dict[str, str] | None = None, data: dict[str, str] | None = None) -> None:
    before = world.station.ledger.store.size()
    r = client.request(method, url, params=params, data=data, follow_redirects=False)
    assert 400 <= r.status_code < 500, (method, url, params, data, r.status_code)
    said = message(r.text)
    assert re.search(r"[\u3400-\u9fff]", said), (method, url, params, data, said or r.text)
    assert world.station.ledger.store.size() == before, (method, url, params, data)


def test_clip_search(world: World, browser: tuple[TestClient, str]) -> None:
    client, _ = browser
    for name, values in (("start", LOCAL_TIMES), ("end", LOCAL_TIMES),
                         ("officer", OFFICERS + IDS), ("device", IDS), ("case", IDS)):
        for value in values:
            if value.strip():
                refused(world, client, "GET", "/ui/clips", params={name: value})
    for value in IDS:
        refused(world, client, "GET", "/ui/clips", params={"case": CASE, "step": value})


def test_case_pages(world: World, browser: tuple[TestClient, str]) -> None:
    client, _ = browser
    for value in IDS:
        refused(world, client, "GET", f"/ui/cases/{quote(value, safe='')}")


def test_access_log(world: World, browser: tuple[TestClient, str]) -> None:
    client, _ = browser
    for name, values in (("officer", OFFICERS + IDS), ("actor", IDS), ("case", IDS),
                         ("clip", IDS)):
        for value in values:
            if value.strip():
                refused(world, client, "GET", "/ui/access-log", params={name: value})


def test_verify_and_clip_pages(world: World, browser: tuple[TestClient, str]) -> None:
    client, _ = browser
    for value in IDS:
        if value.strip():
            refused(world, client, "GET", "/ui/verify", params={"sha256": value})
        refused(world, client, "GET", f"/ui/clips/{quote(value, safe='')}")
    sha = world.playable.sha256
    for access in ("-1", "x", "1e3", str(10**30)):
        refused(world, client, "GET", f"/ui/clips/{sha}/media/playback",
                params={"access": access})


def test_forms(world: World, browser: tuple[TestClient, str]) -> None:
    client, csrf = browser
    sha = world.playable.sha256
    for purpose in [*PURPOSES, "复" * 501]:
        refused(world, client, "POST", f"/ui/clips/{sha}/access",
                data={"csrf": csrf, "purpose": purpose, "variant": "playback",
                      "action": "play"})
    for variant in IDS:
        refused(world, client, "POST", f"/ui/clips/{sha}/access",
                data={"csrf": csrf, "purpose": "案件复核", "variant": variant, "action": "play"})
    for value in IDS:
        refused(world, client, "POST", f"/ui/clips/{sha}/attach",
                data={"csrf": csrf, "target": f"{value}|s1"})
        refused(world, client, "POST", f"/ui/clips/{sha}/attach",
                data={"csrf": csrf, "target": f"{CASE}|{value}"})
        refused(world, client, "POST", f"/ui/clips/{sha}/detach",
                data={"csrf": csrf, "case": value, "step": "s1"})
        refused(world, client, "POST", f"/ui/clips/{sha}/detach",
                data={"csrf": csrf, "case": CASE, "step": value})
    refused(world, client, "POST", f"/ui/clips/{sha}/attach", data={"csrf": csrf,
                                                                     "target": "no step"})


def test_a_players_whole_copy_read_under_a_play_grant_is_a_download(
        world: World, browser: tuple[TestClient, str]) -> None:
    client, csrf = browser
    sha = world.playable.sha256
    r = client.post(f"/ui/clips/{sha}/access", data={
        "csrf": csrf, "purpose": "播放核查", "variant": "playback", "action": "play"},
        follow_redirects=False)
    assert r.status_code == 303
    grant = int(r.headers["location"].rsplit("access=", 1)[1])
    playback = world.playable.playback
    assert playback is not None
    size = playback.size
    seek = client.get(f"/ui/clips/{sha}/media/playback", params={"access": grant},
                      headers={"Range": "bytes=10-19"})
    assert seek.status_code == 206
    before = world.entries(EntryKind.ACCESSED, sha)
    assert before[-1][0] == grant  # the seek was part of the play
    whole = client.get(f"/ui/clips/{sha}/media/playback", params={"access": grant},
                       headers={"Range": "bytes=0-"})
    assert whole.status_code == 206 and len(whole.content) == size
    index, entry = world.entries(EntryKind.ACCESSED, sha)[-1]
    assert index > grant
    assert entry.body["action"] == "download" and entry.body["purpose"] == "播放核查"
