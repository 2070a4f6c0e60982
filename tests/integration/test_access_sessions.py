"""Sign-in, sessions and case ownership through the HTTP API (docs/access.md), with a fake
clock the tests move: idle and absolute expiry, server-side sign-out (the old bearer and the
old cookie are refused), revocation, disabling, lockout after repeated failures (each failure
logged), and an officer refused when changing another officer's case."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from api.http.auth import TOKEN_COOKIE
from devices.sim.cards import Media
from evidence.records import EntryKind
from storage.account_tables import FAILURES, SESSIONS
from tests.integration.test_api_support import BACKENDS, World, world_fixture

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

PASSWORD = "correct horse 1"
START = datetime(2026, 11, 24, 8, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


CLOCK = FakeClock()


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          media: Media) -> Iterator[World]:
    CLOCK.now = START
    for w in world_fixture(request, tmp_path_factory, media, docked=False, clock=CLOCK):
        acc = w.casework.accounts
        acc.add_unit("110000000000", "市局", parent=None, actor="test")
        acc.add_unit("110100000000", "分局A", parent="110000000000", actor="test")
        acc.add_unit("110200000000", "分局B", parent="110000000000", actor="test")
        for number, unit, role in (("100001", "110100000000", "officer"),
                                   ("100002", "110100000000", "officer"),
                                   ("100003", "110000000000", "leader"),
                                   ("100004", "110200000000", "leader")):
            acc.add_user(number, name=f"民警{number}", unit=unit, roles=[role],
                         password=PASSWORD, actor="test")
        yield w


@pytest.fixture
def clock(world: World) -> Iterator[FakeClock]:
    yield CLOCK
    CLOCK.advance(hours=24)  # every test starts past the others' sessions and lockouts


def sign_in(world: World, number: str, password: str = PASSWORD) -> dict[str, str]:
    r = world.client.post("/api/login", json={"officer_no": number, "password": password})
    assert r.status_code == 200, r.text
    world.client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def me(world: World, auth: dict[str, str]) -> int:
    status: int = world.client.get("/api/me", headers=auth).status_code
    return status


def test_login_answers_a_session_with_a_bearer_and_an_httponly_cookie(
        world: World, clock: FakeClock) -> None:
    r = world.client.post("/api/login", json={"officer_no": "100001", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["officer_no"] == "100001" and body["roles"] == ["officer"]
    assert body["token"].startswith("lhs_")
    cookie = r.headers["set-cookie"]
    assert f"{TOKEN_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert me(world, {"Authorization": f"Bearer {body['token']}"}) == 200
    world.client.cookies.clear()
    # the server keeps only a hash of the secret
    with world.station.ledger.store.engine.connect() as conn:
        dump = str(conn.exec_driver_sql("SELECT * FROM sessions").all())
    assert body["token"].removeprefix("lhs_") not in dump


def test_idle_expiry(world: World, clock: FakeClock) -> None:
    auth = sign_in(world, "100001")
    clock.advance(minutes=29)
    assert me(world, auth) == 200  # and the request renews the idle time
    clock.advance(minutes=29)
    assert me(world, auth) == 200
    clock.advance(minutes=30)
    assert me(world, auth) == 401


def last_seen(world: World) -> datetime:
    with world.station.ledger.store.engine.connect() as conn:
        seen = conn.execute(select(func.max(SESSIONS.c.last_seen_at))).scalar_one()
    assert isinstance(seen, datetime)
    return seen if seen.tzinfo else seen.replace(tzinfo=UTC)


def test_a_busy_page_writes_last_seen_once_a_minute(world: World, clock: FakeClock) -> None:
    auth = sign_in(world, "100001")
    signed_in = clock.now
    for _ in range(5):  # a page with thumbnails: many requests within one minute
        clock.advance(seconds=10)
        assert me(world, auth) == 200
    assert last_seen(world) == signed_in  # no write per request
    clock.advance(seconds=15)  # 65 s after sign-in
    assert me(world, auth) == 200
    assert last_seen(world) == clock.now


def test_absolute_expiry_however_busy(world: World, clock: FakeClock) -> None:
    auth = sign_in(world, "100001")
    for _ in range(47):  # 11 h 45 min of requests every 15 minutes
        clock.advance(minutes=15)
        assert me(world, auth) == 200
    clock.advance(minutes=15)
    assert me(world, auth) == 401


def test_sign_out_ends_the_session_on_the_server(world: World, clock: FakeClock) -> None:
    auth = sign_in(world, "100001")
    other = sign_in(world, "100001")
    assert world.client.post("/api/logout", headers=auth).status_code == 204
    assert me(world, auth) == 401  # the old bearer is refused
    assert me(world, other) == 200  # only the caller's session ended


def test_sign_out_of_the_pages_refuses_the_old_cookie(world: World, clock: FakeClock) -> None:
    client = world.client
    client.cookies.clear()
    r = client.post("/ui/signin", data={"officer_no": "100001", "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303
    secret = client.cookies.get(TOKEN_COOKIE)
    assert secret and client.get("/ui/").status_code == 200
    page = client.get("/ui/").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    assert client.post("/ui/signout", data={"csrf": csrf},
                       follow_redirects=False).status_code == 303
    client.cookies.clear()
    client.cookies.set(TOKEN_COOKIE, secret, path="/ui")
    assert client.get("/ui/", follow_redirects=False).status_code == 303  # to sign-in
    client.cookies.clear()
    assert me(world, {"Authorization": f"Bearer {secret}"}) == 401


def test_sessions_are_listed_and_revoked_and_disabling_ends_them(world: World,
                                                                 clock: FakeClock) -> None:
    auth = sign_in(world, "100002")
    listed = world.client.get("/api/users/100002/sessions", headers=auth).json()
    assert any(s["ended_at"] is None for s in listed)
    assert world.client.get("/api/users/100001/sessions", headers=auth).status_code == 404
    assert world.client.delete("/api/users/100002/sessions", headers=auth).json()["ended"] >= 1
    assert me(world, auth) == 401
    auth = sign_in(world, "100002")
    world.casework.accounts.disable("100002", actor="test")
    assert me(world, auth) == 401
    r = world.client.post("/api/login", json={"officer_no": "100002", "password": PASSWORD})
    assert r.status_code == 401
    world.casework.accounts.enable("100002", actor="test")
    changes = [e.body["change"] for _, e in world.entries(EntryKind.ACCOUNT_CHANGED, "100002")]
    assert changes == ["user_added", "sessions_revoked", "user_disabled", "user_enabled"]


def test_lockout_after_repeated_failures_every_failure_logged(world: World,
                                                              clock: FakeClock) -> None:
    def attempt(password: str) -> int:
        status: int = world.client.post("/api/login", json={
            "officer_no": "100003", "password": password}).status_code
        return status

    assert [attempt("wrong password") for _ in range(5)] == [401] * 5
    assert attempt(PASSWORD) == 401  # locked: even the right password is refused
    clock.advance(minutes=14)
    assert attempt(PASSWORD) == 401
    clock.advance(minutes=2)
    assert attempt(PASSWORD) == 200  # the lockout is over
    world.client.cookies.clear()
    unknown = world.client.post("/api/login", json={"officer_no": "999999", "password": "x"})
    assert unknown.status_code == 401
    assert unknown.json()["detail"] == world.client.post("/api/login", json={
        "officer_no": "100003", "password": "wrong password"}).json()["detail"]
    with world.station.ledger.store.engine.connect() as conn:
        rows = conn.execute(select(FAILURES.c.officer_no, FAILURES.c.reason)
                            .order_by(FAILURES.c.id)).all()
    reasons = [r.reason for r in rows if r.officer_no == "100003"]
    assert reasons[:7] == ["password"] * 5 + ["locked"] * 2
    assert ("999999", "unknown") in [tuple(r) for r in rows]


def test_an_officer_cannot_change_another_officers_case(world: World, clock: FakeClock) -> None:
    owner, other = sign_in(world, "100001"), sign_in(world, "100002")
    leader, far_leader = sign_in(world, "100003"), sign_in(world, "100004")
    client = world.client
    assert client.post("/api/cases", json={"case_id": "OWN-1", "title": "t"},
                       headers=owner).status_code == 201
    case = client.get("/api/cases/OWN-1", headers=owner).json()
    assert case["officers"] == [{"officer": "100001", "duty": "主办"}]
    step = {"code": "chafeng", "started_at": "2026-11-24T09:00:00+08:00",
            "ended_at": "2026-11-24T10:00:00+08:00"}
    assert client.post("/api/cases/OWN-1/steps", json=step, headers=owner).status_code == 201
    r = client.put("/api/cases/OWN-1/steps/s1", json={"ended_at": "2026-11-24T09:01:00+08:00"},
                   headers=other)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert client.post("/api/cases/OWN-1/steps", json=step, headers=other).status_code == 403
    assert client.post("/api/cases/OWN-1/officers", json={"officer": "100002"},
                       headers=other).status_code == 403
    assert client.put("/api/cases/OWN-1/steps/s1", json={"ended_at": "2026-11-24T09:30:00+08:00"},
                      headers=far_leader).status_code == 403  # leads another 分局
    # the leader of the owner's unit (a parent unit) may correct, and the correction shows
    assert client.put("/api/cases/OWN-1/steps/s1", json={"ended_at": "2026-11-24T09:30:00+08:00"},
                      headers=leader).status_code == 200
    report = client.get("/api/cases/OWN-1/completeness", headers=owner).json()
    assert report["corrections"][0]["step_id"] == "s1"
    assert report["corrections"][0]["corrected_by"] == "100003"
    at = report["corrections"][0]["corrected_at"].replace("Z", "+00:00")
    assert report["corrections_note"].endswith(f"s1 corrected by 100003 at {at}")
    # once on the case, the second officer may change it
    assert client.post("/api/cases/OWN-1/officers", json={"officer": "100002", "duty": "协办"},
                       headers=owner).status_code == 200
    assert client.post("/api/cases/OWN-1/steps", json=step, headers=other).status_code == 201


def test_tokens_expire_and_tokens_made_without_an_expiry_do_not(
        world: World, clock: FakeClock) -> None:
    repo = world.casework.tokens
    token, _ = repo.issue(name="sync-job", role="auditor", now=clock(),
                          expires_at=clock() + timedelta(days=1), scope="110200000000")
    auth = {"Authorization": f"Bearer {token}"}
    assert me(world, auth) == 200
    clock.advance(hours=23)
    assert me(world, auth) == 200
    clock.advance(hours=1)
    assert me(world, auth) == 401
    legacy, _ = repo.issue(name="old-script", role="auditor", now=clock())  # no expiry, all
    clock.advance(days=3650)
    assert me(world, {"Authorization": f"Bearer {legacy}"}) == 200


def test_the_case_page_names_the_corrections(world: World, clock: FakeClock) -> None:
    client = world.client
    client.cookies.clear()
    owner = sign_in(world, "100001")
    assert client.post("/api/cases", json={"case_id": "OWN-2", "title": "t"},
                       headers=owner).status_code == 201
    step = {"code": "chafeng", "started_at": "2026-11-24T09:00:00+08:00",
            "ended_at": "2026-11-24T10:00:00+08:00"}
    assert client.post("/api/cases/OWN-2/steps", json=step, headers=owner).status_code == 201
    assert client.put("/api/cases/OWN-2/steps/s1", json={"ended_at": "2026-11-24T09:05:00+08:00"},
                      headers=owner).status_code == 200
    r = client.post("/ui/signin", data={"officer_no": "100001", "password": PASSWORD})
    assert r.status_code == 200  # followed to the home page
    text = client.get("/ui/cases/OWN-2").text
    assert "computed on corrected windows: s1 corrected by 100001 at" in text
    client.cookies.clear()
