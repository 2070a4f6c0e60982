"""一人一档's 超时未上传 through the app (api/http/pages_officers.py, issue 16 item 2), at a pinned
clock: the page lists exactly the ``upload_late`` and ``dock_late`` alerts the supervision rules
(access/alerts.py) compute for the officer over the page's DAYS days — not another officer's,
not an older one, not an upload in time — and their acknowledgement. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.http.pages_officers import DAYS
from devices.sim.cards import Media
from evidence.bodies import AcquiredBody
from evidence.ids import StationId
from ledger.appending import LedgerWriter
from tests.integration.supervision_world import MovedClock, sha
from tests.integration.test_api_support import BACKENDS, World, world_fixture

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

NOW = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)  # 12:00 in Beijing
ROOT = "110000000000"
PASSWORD = "page password 1"
DAY, H = timedelta(days=1), timedelta(hours=1)


def pinned() -> datetime:
    return NOW


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          media: Media) -> Iterator[World]:
    for w in world_fixture(request, tmp_path_factory, media, docked=False, clock=pinned):
        people = w.casework.accounts
        people.add_unit(ROOT, "市局", parent=None, actor="test")
        for number, role in (("000100", "officer"), ("000200", "officer"),
                             ("000400", "leader")):
            people.add_user(number, name=role, unit=ROOT, roles=[role], password=PASSWORD,
                            actor="test")
        yield w


def acquire(world: World, name: str, *, officer: str, device: str, captured: datetime,
            acquired: datetime) -> str:
    writer = LedgerWriter(appender=world.station.ledger.committer,
                          checkpoints=world.station.ledger.store,
                          station=StationId("station-test"), clock=MovedClock(acquired))
    digest = sha(name)
    writer.append(AcquiredBody(device=device, name_on_device=f"{name}.MP4", size=1,
                               officer=officer, unit_no=ROOT, clock_offset_ms=0,
                               device_mtime=captured, capture_time=captured),
                  subject=digest, actor=officer)
    return digest


def signed_in(world: World, number: str) -> TestClient:
    client = TestClient(world.app)
    r = client.post("/ui/signin", data={"officer_no": number, "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def overdue_rows(html: str) -> list[str]:
    table = re.search(r'<table id="overdue">(.*?)</table>', html, re.S)
    return [] if table is None else re.findall(r'<tr class="(\w+)">', table.group(1))


def test_overdue_uploads_are_the_supervision_rules_alerts_of_the_officer(world: World) -> None:
    client = signed_in(world, "000100")
    assert overdue_rows(client.get("/ui/officers/000100").text) == []
    # in time: captured two days ago, docked an hour later
    acquire(world, "ok", officer="000100", device="D1", captured=NOW - 2 * DAY,
            acquired=NOW - 2 * DAY + H)
    # late: captured five days ago, docked two days later (the file and the docking)
    late = acquire(world, "late", officer="000100", device="D1", captured=NOW - 5 * DAY,
                   acquired=NOW - 3 * DAY)
    # late but before the page's DAYS days; another officer's late upload
    acquire(world, "old", officer="000100", device="D1", captured=NOW - (DAYS + 9) * DAY,
            acquired=NOW - (DAYS + 5) * DAY)
    acquire(world, "other", officer="000200", device="D2", captured=NOW - 5 * DAY,
            acquired=NOW - 3 * DAY)

    html = client.get("/ui/officers/000100").text
    assert sorted(overdue_rows(html)) == ["dock_late", "upload_late"]
    assert '<span id="overdue-total">2</span>' in html
    assert "late.MP4 拍摄后 48.0 小时才入库" in html and "未处理" in html
    # the same alerts the supervision page computes for the whole bureau, no more, no less
    alerts = world.casework.alerts
    everyone = alerts.compute(NOW - 30 * DAY, NOW + H)
    mine = {a.id: a.rule for a in everyone
            if a.person == "000100" and a.at >= NOW - DAYS * DAY}
    assert sorted(mine.values()) == ["dock_late", "upload_late"]
    assert f"upload_late:{late}" in mine
    shown = alerts.overdue("000100", ["D1"], NOW - DAYS * DAY, NOW)
    assert {a.id for a in shown} == set(mine)
    # an acknowledgement by the leader shows on the officer's file
    alerts.acknowledge(next(a for a in shown if a.rule == "upload_late"), "已核实",
                       actor="000400")
    html = client.get("/ui/officers/000100").text
    assert "已处理（000400）" in html and html.count("未处理") == 1
    # the other officer's file has their own
    other = signed_in(world, "000200").get("/ui/officers/000200").text
    assert sorted(overdue_rows(other)) == ["dock_late", "upload_late"]
