"""The supervision and admin pages through the app (api/http/pages_supervision.py,
pages_admin.py), signed in as browsers are (cookie and per-session form token): an officer is
refused every one of them; an admin's changes are ledgered with the admin as actor; forms
without the form token change nothing; an alert is acknowledged from the page and exported as
CSV; the statistics page draws its bars as SVG. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from devices.sim.cards import Media
from evidence.bodies import AccessedBody
from evidence.ids import StationId
from evidence.records import EntryKind
from ledger.appending import LedgerWriter
from tests.integration.test_api_support import BACKENDS, World, world_fixture

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

NOW = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)  # 12:00 in Beijing
ROOT = "110000000000"
CHILD = "110102000000"
PASSWORD = "page password 1"
SHA = "ab" * 32


def pinned() -> datetime:
    return NOW


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          media: Media) -> Iterator[World]:
    for w in world_fixture(request, tmp_path_factory, media, docked=False, clock=pinned):
        people = w.casework.accounts
        people.add_unit(ROOT, "市局", parent=None, actor="test")
        people.add_unit(CHILD, "乙分局", parent=ROOT, actor="test")
        for number, role, unit in (("000900", "admin", ROOT), ("000100", "officer", ROOT),
                                   ("000300", "auditor", ROOT), ("000400", "leader", CHILD)):
            people.add_user(number, name=role, unit=unit, roles=[role], password=PASSWORD,
                            actor="test")
        writer = LedgerWriter(appender=w.station.ledger.committer,
                              checkpoints=w.station.ledger.store,
                              station=StationId("station-test"), clock=pinned)
        writer.append(AccessedBody(action="download", variant="original", purpose="复核",
                                   role="auditor", case=None), subject=SHA, actor="000300")
        yield w


def signed_in(world: World, number: str) -> tuple[TestClient, str]:
    client = TestClient(world.app)
    r = client.post("/ui/signin", data={"officer_no": number, "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/ui/").text)
    assert found is not None
    return client, found.group(1)


ADMIN_GETS = ["/ui/admin", "/ui/admin/units", "/ui/admin/users", "/ui/admin/users/000100",
              "/ui/admin/tokens", "/ui/admin/devices", "/ui/admin/catalogue",
              "/ui/admin/holds"]


def test_an_officer_is_refused_every_supervision_and_admin_page(world: World) -> None:
    client, csrf = signed_in(world, "000100")
    for url in [*ADMIN_GETS, "/ui/alerts", "/ui/alerts.csv", "/ui/statistics",
                "/ui/statistics.csv"]:
        assert client.get(url).status_code == 403, url
    before = world.station.ledger.store.size()
    for url, data in (("/ui/admin/units", {"code": "110101000000", "name": "x"}),
                      ("/ui/admin/users/000300/disable", {}),
                      ("/ui/alerts/ack", {"alert": "x", "note": "x", "since": "2026-12-01",
                                          "until": "2026-12-03"})):
        assert client.post(url, data={"csrf": csrf, **data}).status_code == 403, url
    assert world.station.ledger.store.size() == before
    assert "系统管理" not in client.get("/ui/").text


def test_an_auditor_reads_alerts_but_not_the_admin_pages(world: World) -> None:
    client, _ = signed_in(world, "000300")
    assert client.get("/ui/admin/users").status_code == 403
    assert client.get("/ui/alerts").status_code == 200


def test_a_leader_sees_and_acknowledges_only_their_subtrees_alerts(world: World) -> None:
    auditor, _ = signed_in(world, "000300")
    period = {"since": "2026-12-01", "until": "2026-12-03"}
    found = re.search(r'data-alert="(original_download:\d+)"',
                      auditor.get("/ui/alerts", params=period).text)
    assert found is not None  # about 000300, of the root unit
    leader, csrf = signed_in(world, "000400")
    r = leader.get("/ui/alerts", params=period)
    assert r.status_code == 200 and "data-alert=" not in r.text
    assert "原始文件" not in leader.get("/ui/alerts.csv", params=period).content.decode()
    before = world.station.ledger.store.size()
    r = leader.post("/ui/alerts/ack", data={"csrf": csrf, "alert": found.group(1),
                                             "note": "越权处理", **period})
    assert r.status_code == 404
    assert world.station.ledger.store.size() == before
    r = leader.get("/ui/statistics", params=period)
    assert 'data-key="000300"' not in r.text and f'data-key="{CHILD}"' in r.text


def test_admin_forms_refuse_bad_input_in_chinese_and_append_nothing(world: World) -> None:
    client, csrf = signed_in(world, "000900")
    before = world.station.ledger.store.size()
    for url, data in (
            ("/ui/admin/units", {"code": "1101", "name": "x"}),
            ("/ui/admin/units", {"code": "110109000000", "name": "x", "parent": "119999999999"}),
            ("/ui/admin/units", {"code": ROOT, "name": "重复"}),
            ("/ui/admin/users", {"officer_no": "００１", "name": "x", "unit": ROOT,
                                 "role": "officer"}),
            ("/ui/admin/users", {"officer_no": "000777", "name": "x", "unit": ROOT,
                                 "role": "chief"}),
            ("/ui/admin/users", {"officer_no": "000100", "name": "x", "unit": ROOT,
                                 "role": "officer"}),
            ("/ui/admin/users", {"officer_no": "000778", "name": "x", "unit": ROOT,
                                 "role": "officer", "password": "short"}),
            ("/ui/admin/users/999999/disable", {}),
            ("/ui/admin/users/000100/sessions/999999/revoke", {}),
            ("/ui/admin/tokens", {"name": "s", "role": "root", "expires_days": "3"}),
            ("/ui/admin/tokens", {"name": "s", "role": "station", "expires_days": "0"}),
            ("/ui/admin/tokens", {"name": "s", "role": "station", "expires_days": "3",
                                  "scope": "119999999999"}),
            ("/ui/admin/holds", {"sha256": "zz", "on": "on", "reason": "x"}),
            ("/ui/admin/holds", {"sha256": SHA, "on": "on", "reason": "x"})):
        r = client.post(url, data={"csrf": csrf, **data})
        assert 400 <= r.status_code < 500, (url, data, r.status_code)
        assert re.search(r"[\u3400-\u9fff]", r.text), (url, data)
    assert world.station.ledger.store.size() == before


def test_admin_pages_change_accounts_through_the_ledgered_use_cases(world: World) -> None:
    client, csrf = signed_in(world, "000900")
    for url in ADMIN_GETS:
        assert client.get(url).status_code == 200, url
    before = world.station.ledger.store.size()
    r = client.post("/ui/admin/units", data={"csrf": "0" * 64, "code": "110101000000",
                                              "name": "甲分局", "parent": ROOT})  # forged
    assert r.status_code == 403
    assert world.station.ledger.store.size() == before
    r = client.post("/ui/admin/units", data={"csrf": csrf, "code": "110101000000",
                                              "name": "甲分局", "parent": ROOT})
    assert r.status_code == 200 and "甲分局" in r.text
    r = client.post("/ui/admin/users", data={"csrf": csrf, "officer_no": "000555",
                                              "name": "新民警", "unit": "110101000000",
                                              "role": ["officer", "leader"],
                                              "password": PASSWORD})
    assert r.status_code == 200 and "新民警" in r.text
    newcomer, _ = signed_in(world, "000555")
    (session,) = [s for s in world.casework.accounts.sessions.list("000555")
                  if s.ended_at is None]
    r = client.post(f"/ui/admin/users/000555/sessions/{session.id}/revoke",
                    data={"csrf": csrf})
    assert r.status_code == 200 and "已结束会话" in r.text
    assert newcomer.get("/ui/", follow_redirects=False).status_code == 303  # signed out
    for action in ("disable", "enable"):
        assert client.post(f"/ui/admin/users/000555/{action}",
                           data={"csrf": csrf}).status_code == 200
    assert client.post("/ui/admin/users/000555/roles",
                       data={"csrf": csrf, "role": ["auditor"]}).status_code == 200
    assert world.casework.accounts.account("000555").roles == ("auditor",)
    changes = [(e.subject, e.body["change"], e.actor) for _, e in
               world.entries(EntryKind.ACCOUNT_CHANGED)][-6:]
    assert changes == [("110101000000", "unit_added", "000900"),
                       ("000555", "user_added", "000900"),
                       ("000555", "sessions_revoked", "000900"),
                       ("000555", "user_disabled", "000900"),
                       ("000555", "user_enabled", "000900"),
                       ("000555", "roles_changed", "000900")]
    r = client.post("/ui/admin/tokens", data={"csrf": csrf, "name": "station-9",
                                               "role": "station", "expires_days": "30"})
    assert r.status_code == 200
    secret = re.search(r'id="token-secret">([^<]+)<', r.text)
    assert secret is not None
    token = world.casework.tokens.authenticate(secret.group(1), now=NOW)
    assert token is not None and token.expires_at is not None
    assert client.post(f"/ui/admin/tokens/{token.id}/revoke",
                       data={"csrf": csrf}).status_code == 200
    assert world.casework.tokens.authenticate(secret.group(1), now=NOW) is None


def test_an_alert_is_acknowledged_from_the_page_and_exported(world: World) -> None:
    client, csrf = signed_in(world, "000300")
    period = {"since": "2026-12-01", "until": "2026-12-03"}
    r = client.get("/ui/alerts", params=period)
    assert r.status_code == 200
    assert "下载原始文件" in r.text and 'data-alert="original_download:' in r.text
    alert = re.search(r'data-alert="(original_download:\d+)"', r.text)
    assert alert is not None
    r = client.post("/ui/alerts/ack", data={"csrf": csrf, "alert": alert.group(1),
                                             "note": "复核需要，已核实", **period})
    assert r.status_code == 200 and "复核需要，已核实" in r.text
    (_, entry), = world.entries(EntryKind.ALERT_ACKNOWLEDGED, subject=alert.group(1))
    assert entry.actor == "000300" and entry.body["note"] == "复核需要，已核实"
    r = client.get("/ui/alerts.csv", params=period)
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    assert "复核需要，已核实" in r.content.decode("utf-8-sig")
    r = client.get("/ui/alerts", params={"since": "2026-12-04", "until": "2026-12-05"})
    assert alert.group(1) not in r.text
    before = world.station.ledger.store.size()
    for url in ("/ui/alerts", "/ui/alerts.csv", "/ui/statistics", "/ui/statistics.csv"):
        for params in ({"since": "12/01"}, {"since": "0001-01-01"}, {"until": "9999-12-31"},
                       {"since": "2026-12-05", "until": "2026-12-01"},
                       {"since": "2024-01-01", "until": "2026-12-01"}, {"since": "\x00"}):
            r = client.get(url, params=params)
            assert r.status_code == 422, (url, params, r.status_code)
            assert re.search(r"[\u3400-\u9fff]", r.text), (url, params)
    r = client.post("/ui/alerts/ack", data={"csrf": csrf, "alert": "off_hours:999999",
                                             "note": "x", **period})
    assert r.status_code == 404
    r = client.post("/ui/alerts/ack", data={"csrf": csrf, "alert": alert.group(1),
                                             "note": " ", **period})
    assert r.status_code == 422
    assert world.station.ledger.store.size() == before


def test_the_statistics_page_draws_svg_bars_and_exports_csv(world: World) -> None:
    client, _ = signed_in(world, "000900")
    period = {"since": "2026-12-01", "until": "2026-12-03"}
    r = client.get("/ui/statistics", params=period)
    assert r.status_code == 200 and "<svg" in r.text and "<rect" in r.text
    assert '<script' not in r.text
    r = client.get("/ui/statistics.csv", params={**period, "per": "unit"})
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    assert r.content.decode("utf-8-sig").splitlines()[0].startswith("单位代码,单位名称")
