"""The scope matrix (docs/access.md §Scope), generated: every role × the relation of the
caller's unit to the unit of the clip's officer (same, child, parent, sibling, unrelated) × case
membership × action (search, get, count, play, verify details, access log), on SQLite and
PostgreSQL, through the HTTP API with password sign-in.

The unit tree (codes are 12 digits)::

    110000000000 市局 (parent)
    ├── 110100000000 分局A   ← every caller's unit (same)
    │   └── 110101000000 派出所A1 (child)
    └── 110200000000 分局B (sibling)
        └── 110201000000 派出所B1 (unrelated)

One clip per (relation, membership): recorded by an officer of that unit; the member clips are
attached to case SCOPE-IN, on which every caller is 协办. Out of scope must look exactly like
not there: the same status and the same body as for a clip that does not exist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from api.http.auth import Role
from devices.sim.cards import Media
from evidence.bodies import AccessedBody, AcquiredBody, LinkedBody
from tests.integration.test_api_support import BACKENDS, World, world_fixture

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

UNITS = [("110000000000", "市局", None), ("110100000000", "分局A", "110000000000"),
         ("110101000000", "派出所A1", "110100000000"), ("110200000000", "分局B", "110000000000"),
         ("110201000000", "派出所B1", "110200000000")]
RELATIONS = {"same": "110100000000", "child": "110101000000", "parent": "110000000000",
             "sibling": "110200000000", "unrelated": "110201000000"}
RECORDERS = {"same": "300001", "child": "300002", "parent": "300003", "sibling": "300004",
             "unrelated": "300005"}
CALLERS = {"officer": "200001", "leader": "200002", "auditor": "200003", "admin": "200004"}
PASSWORD = "correct horse 1"
ACTIONS = ("search", "get", "count", "play", "verify", "access_log")
ROLES = tuple(CALLERS)
MEMBERSHIP = (True, False)


def sha_of(relation: str, member: bool) -> str:
    return hashlib.sha256(f"scope/{relation}/{member}".encode()).hexdigest()


def visible(role: str, relation: str, member: bool) -> bool:
    """The rule of docs/access.md §Scope, written out independently of access/scope.py."""
    if role == "admin" or member:
        return True
    if role == "officer":
        return relation == "same"
    return relation in ("same", "child")  # leader: subtree; auditor: assigned subtree (own)


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          media: Media) -> Iterator[World]:
    yield from world_fixture(request, tmp_path_factory, media, docked=False)


@pytest.fixture(scope="module")
def bearer(world: World) -> dict[str, dict[str, str]]:
    """Units, accounts and clips as above; one signed-in session per role."""
    acc, writer = world.casework.accounts, world.station.ledger.writer
    for code, name, parent in UNITS:
        acc.add_unit(code, name, parent=parent, actor="test")
    for relation, officer in RECORDERS.items():
        acc.add_user(officer, name=f"录制{relation}", unit=RELATIONS[relation], roles=["officer"],
                     password=None, actor="test")
    for role, officer in CALLERS.items():
        acc.add_user(officer, name=f"调阅{role}", unit="110100000000", roles=[role],
                     password=PASSWORD, actor="test")
    cases = world.casework.cases
    cases.open_case("SCOPE-IN", title="范围", unit_no="", major=False, actor="test")
    cases.record_step("SCOPE-IN", code="chafeng", actor="test")
    for officer in CALLERS.values():
        cases.assign_officer("SCOPE-IN", officer, duty="协办", on=True, actor="test")
    when = datetime(2026, 11, 24, 8, tzinfo=UTC)
    for relation, officer in RECORDERS.items():
        for member in MEMBERSHIP:
            sha = sha_of(relation, member)
            writer.append(AcquiredBody(device="ZFY00042", name_on_device=f"{sha[:8]}.MP4",
                                       size=1, officer=officer, unit_no=RELATIONS[relation],
                                       clock_offset_ms=0, device_mtime=when,
                                       capture_time=when), subject=sha, actor=officer)
            if member:
                writer.append(LinkedBody(case="SCOPE-IN", step="s1"), subject=sha,
                              actor="test")
            writer.append(AccessedBody(action="play", variant="playback", purpose="复核执法过程",
                                       role="admin"), subject=sha, actor="admin-9")
    world.station.ledger.catalogue.catch_up()
    world.station.ledger.publish()
    tokens = {}
    for role, officer in CALLERS.items():
        r = world.client.post("/api/login", json={"officer_no": officer, "password": PASSWORD})
        assert r.status_code == 200, r.text
        tokens[role] = {"Authorization": f"Bearer {r.json()['token']}"}
    world.client.cookies.clear()  # the matrix runs on bearers alone
    return tokens


def _ask(world: World, auth: dict[str, str], action: str, sha: str,
         officer: str) -> tuple[int, object]:
    """(status, what the caller learns about clip ``sha`` by ``action``)."""
    get = world.client.get
    if action == "search":
        r = get("/api/clips?limit=500", headers=auth)
        return r.status_code, sha in {c["sha256"] for c in r.json()}
    if action == "count":  # a filter that matches only this clip: counts leak nothing either
        r = get(f"/api/clips?officer={officer}&limit=500", headers=auth)
        return r.status_code, len([c for c in r.json() if c["sha256"] == sha])
    path = {"get": f"/api/clips/{sha}", "play": f"/api/clips/{sha}/play?purpose=复核执法过程",
            "verify": f"/api/verify/{sha}", "access_log": f"/api/clips/{sha}/accesses"}[action]
    r = get(path, headers=auth)
    return r.status_code, r.json() if r.headers.get("content-type", "").startswith(
        "application/json") else r.content


def _absent(world: World, auth: dict[str, str], action: str) -> tuple[int, object]:
    """The answer about a clip that does not exist, with its SHA-256 where the real one was."""
    ghost = hashlib.sha256(b"never recorded").hexdigest()
    status, body = _ask(world, auth, action, ghost, "399999")
    return status, (body if not isinstance(body, dict) else
                    {k: (v.replace(ghost, "{sha}") if isinstance(v, str) else v)
                     for k, v in body.items()})


@pytest.mark.parametrize("member", MEMBERSHIP, ids=["member", "not-member"])
@pytest.mark.parametrize("relation", list(RELATIONS))
@pytest.mark.parametrize("role", ROLES)
def test_scope_matrix(world: World, bearer: dict[str, dict[str, str]], role: str,
                      relation: str, member: bool) -> None:
    sha, officer = sha_of(relation, member), RECORDERS[relation]
    auth = bearer[role]
    expect = visible(role, relation, member)
    for action in ACTIONS:
        status, seen = _ask(world, auth, action, sha, officer)
        where = f"{role} × {relation} × {'member' if member else 'not member'} × {action}"
        if action == "access_log" and role == "officer":
            assert status == 403, where  # officers never read access logs: the role says so
            continue
        if action == "search":
            assert (status, seen) == (200, expect), where
        elif action == "count":
            assert (status, seen) == (200, 1 if expect else 0), where
        elif expect:
            # play: in scope, the clip is found; it has no stored copy in this world
            assert status == (404 if action == "play" else 200), (where, seen)
            if action == "play":
                assert "no stored playback copy" in str(seen), where
        else:
            absent_status, absent_body = _absent(world, auth, action)
            masked = (seen if not isinstance(seen, dict) else
                      {k: (v.replace(sha, "{sha}") if isinstance(v, str) else v)
                       for k, v in seen.items()})
            assert (status, masked) == (absent_status, absent_body), where
            assert status == 404, where


def test_officer_access_log_lists_only_clips_in_scope(world: World,
                                                    bearer: dict[str, dict[str, str]]) -> None:
    for relation, officer in RECORDERS.items():
        r = world.client.get(f"/api/officers/{officer}/accesses", headers=bearer["leader"])
        assert r.status_code == 200
        shas = {a["sha256"] for a in r.json()}
        want = {sha_of(relation, m) for m in MEMBERSHIP if visible("leader", relation, m)}
        assert shas == want, relation


def test_a_clip_of_an_officer_with_no_account_is_seen_by_admin_and_the_units_leader(
        world: World, bearer: dict[str, dict[str, str]]) -> None:
    sha = hashlib.sha256(b"scope/orphan").hexdigest()
    when = datetime(2026, 11, 24, 9, tzinfo=UTC)
    world.station.ledger.writer.append(AcquiredBody(
        device="ZFY00043", name_on_device="o.MP4", size=1, officer="399998",
        unit_no="110101000000", clock_offset_ms=0, device_mtime=when), subject=sha,
        actor="399998")
    seen = {role: world.client.get(f"/api/clips/{sha}", headers=bearer[role]).status_code
            for role in ROLES}
    assert seen == {"officer": 404, "leader": 200, "auditor": 404, "admin": 200}


def test_automation_tokens_keep_their_role_wide_view(world: World,
                                                    bearer: dict[str, dict[str, str]]) -> None:
    r = world.client.get("/api/clips?limit=500", headers=world.auth(Role.AUDITOR))
    assert {sha_of(rel, m) for rel in RELATIONS for m in MEMBERSHIP} <= {
        c["sha256"] for c in r.json()}


def test_a_unit_scoped_token_sees_that_subtree_only(world: World,
                                                   bearer: dict[str, dict[str, str]]) -> None:
    token, _ = world.casework.tokens.issue(name="b-sync", role="auditor",
                                           now=datetime.now(UTC), scope="110200000000")
    r = world.client.get("/api/clips?limit=500", headers={"Authorization": f"Bearer {token}"})
    seen = {c["sha256"] for c in r.json()}
    want = {sha_of(rel, m) for rel in ("sibling", "unrelated") for m in MEMBERSHIP}
    assert seen & {sha_of(rel, m) for rel in RELATIONS for m in MEMBERSHIP} == want


def test_a_case_names_only_the_clips_in_the_callers_scope(
        world: World, bearer: dict[str, dict[str, str]]) -> None:
    cases, writer = world.casework.cases, world.station.ledger.writer
    cases.open_case("SCOPE-OUT", title="别处", unit_no="", major=False, actor="test")
    cases.record_step("SCOPE-OUT", code="chafeng", actor="test")
    far, near = sha_of("unrelated", False), sha_of("same", False)
    for sha in (far, near):
        writer.append(LinkedBody(case="SCOPE-OUT", step="s1"), subject=sha, actor="test")
    for role, want in (("officer", {near}), ("admin", {far, near})):
        case = world.client.get("/api/cases/SCOPE-OUT", headers=bearer[role]).json()
        assert {lk["sha256"] for lk in case["links"]} == want, role
        report = world.client.get("/api/cases/SCOPE-OUT/completeness",
                                  headers=bearer[role]).json()
        named = {n["sha256"] for n in report["not_counted"]} | set(report["unknown_duration"])
        assert (far in named) is (role == "admin"), (role, report)  # not stored: not counted
