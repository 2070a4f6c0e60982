"""REST clip search a keyset page at a time (issue 16 item 3): ``GET /api/clips`` answers a page,
the total in ``X-Total-Count`` and the next and previous pages in ``Link`` (RFC 8288); following
``next`` visits every clip once, in order, for each sort order, and ``prev`` walks back the same
pages; a cursor that is no SHA-256 or both cursors at once are refused. SQLite and PostgreSQL."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from api.http.auth import Role
from devices.sim.cards import Media
from evidence.bodies import AcquiredBody
from evidence.ids import StationId
from evidence.records import Entry, EntryKind
from integrity.entry import encode_entry
from tests.integration.test_api_support import BACKENDS, World, world_fixture

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

MANY = 37
PAGE = 10
AT = datetime(2026, 11, 20, 1, tzinfo=UTC)


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          media: Media) -> Iterator[World]:
    for w in world_fixture(request, tmp_path_factory, media, docked=False):
        ledger = w.station.ledger
        datas = []
        for i in range(MANY):  # three recorders, three officers, some captured at one time
            body = AcquiredBody(device=f"LH{i % 3}", name_on_device=f"{i}.MP4", size=1,
                                officer=f"00010{i % 3}", unit_no="110000000000",
                                clock_offset_ms=0, device_mtime=AT,
                                capture_time=AT + timedelta(minutes=i // 2))
            sha = secrets.token_hex(32)
            datas.append((encode_entry(Entry(kind=EntryKind.ACQUIRED, subject=sha,
                                             body=body.to_body(), station=StationId("t"),
                                             actor="t", at=AT)), "acquired", sha))
        ledger.store.append_batch(datas, signers=ledger.stations)
        ledger.catalogue.catch_up()
        yield w


def links(r: httpx.Response) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"',
                                                r.headers.get("link", ""))}


@pytest.mark.parametrize("order", ["captured", "officer", "device"])
def test_next_visits_every_clip_once_in_order_and_prev_walks_back(world: World,
                                                                  order: str) -> None:
    c, admin = world.client, world.auth(Role.ADMIN)
    r = c.get("/api/clips", headers=admin, params={"order": order, "limit": PAGE})
    pages: list[list[str]] = []
    seen: list[dict[str, str]] = []
    while True:
        assert r.status_code == 200, r.text
        assert r.headers["x-total-count"] == str(MANY)
        pages.append([clip["sha256"] for clip in r.json()])
        seen += r.json()
        if "next" not in links(r):
            break
        r = c.get(links(r)["next"], headers=admin)
    assert [len(p) for p in pages] == [10, 10, 10, 7]
    assert len({clip["sha256"] for clip in seen}) == MANY
    key = {"captured": lambda k: (-datetime.fromisoformat(k["captured_at"]).timestamp(),
                                  k["sha256"]),
           "officer": lambda k: (k["officer"], -datetime.fromisoformat(
               k["captured_at"]).timestamp(), k["sha256"]),
           "device": lambda k: (k["device"], -datetime.fromisoformat(
               k["captured_at"]).timestamp(), k["sha256"])}[order]
    assert seen == sorted(seen, key=key)
    back = []
    while "prev" in links(r):
        r = c.get(links(r)["prev"], headers=admin)
        back.append([clip["sha256"] for clip in r.json()])
    assert back == pages[-2::-1]
    assert "next" in links(r) and "prev" not in links(r)


def test_a_filter_counts_what_it_finds_and_bad_cursors_are_refused(world: World) -> None:
    c, admin = world.client, world.auth(Role.ADMIN)
    r = c.get("/api/clips", headers=admin, params={"device": "LH1", "limit": 5})
    assert r.headers["x-total-count"] == str(len(range(1, MANY, 3)))
    assert len(r.json()) == 5 and {clip["device"] for clip in r.json()} == {"LH1"}
    sha = r.json()[0]["sha256"]
    for params, words in (({"after": "x" * 64}, "query parameter 'after'"),
                          ({"after": sha, "before": sha}, "not both"),
                          ({"order": "size"}, "query parameter 'order'"),
                          ({"after": "0" * 64}, "翻页位置")):
        r = c.get("/api/clips", headers=admin, params=params)
        assert r.status_code in (400, 404, 422) and words in r.text, (params, r.text)


def test_the_total_is_counted_again_once_the_catalogue_moves_on(world: World) -> None:
    c, admin = world.client, world.auth(Role.ADMIN)
    params = {"device": "LH-NEW", "limit": 2}
    assert c.get("/api/clips", headers=admin, params=params).headers["x-total-count"] == "0"
    for i in range(3):
        world.station.ledger.writer.append(AcquiredBody(
            device="LH-NEW", name_on_device=f"new{i}.MP4", size=1, officer="000100",
            unit_no="110000000000", clock_offset_ms=0, device_mtime=AT, capture_time=AT),
            subject=secrets.token_hex(32), actor="t")
        r = c.get("/api/clips", headers=admin, params=params)
        assert r.headers["x-total-count"] == str(i + 1)
        assert len(r.json()) == min(i + 1, 2)
