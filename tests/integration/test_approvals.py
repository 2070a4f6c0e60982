"""调阅审批 over REST (docs/access.md §7), on SQLite and PostgreSQL, with a fake clock: a grant
widens the grantee's scope until it expires; downloading an original needs a grant even in
scope; a refusal carries its reason; every request, decision, use and expiry is in the ledger
and the audit is clean afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from devices.sim.cards import Media
from evidence.records import EntryKind
from integrity.entry import decode_entry
from ledger.audit import run_audit
from tests.integration.test_api_support import BACKENDS, World, world_fixture

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

PASSWORD = "correct horse 1"
START = datetime(2026, 11, 24, 8, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


CLOCK = FakeClock()


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          media: Media) -> Iterator[World]:
    CLOCK.now = START
    for w in world_fixture(request, tmp_path_factory, media, clock=CLOCK):
        acc = w.casework.accounts
        acc.add_unit("110000000000", "市局", parent=None, actor="test")
        acc.add_unit("110100000000", "分局A", parent="110000000000", actor="test")
        acc.add_unit("110200000000", "分局B", parent="110000000000", actor="test")
        owner = w.playable.officer  # the clip's officer: unit A
        for number, unit, role in ((owner, "110100000000", "officer"),
                                   ("200001", "110200000000", "officer"),
                                   ("200002", "110100000000", "leader"),
                                   ("200003", "110200000000", "leader")):
            acc.add_user(number, name=f"民警{number}", unit=unit, roles=[role],
                         password=PASSWORD, actor="test")
        yield w


def sign_in(world: World, number: str) -> dict[str, str]:
    r = world.client.post("/api/login", json={"officer_no": number, "password": PASSWORD})
    assert r.status_code == 200, r.text
    world.client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def play(world: World, auth: dict[str, str], variant: str = "playback") -> int:
    sha = world.playable.sha256
    action = "download" if variant == "original" else "play"
    r = world.client.get(f"/api/clips/{sha}/{action}",
                         params={"purpose": "复核", "variant": variant}, headers=auth)
    status: int = r.status_code
    return status


def test_grant_widens_scope_until_it_expires_and_all_is_ledgered(world: World) -> None:
    CLOCK.now = START
    sha = world.playable.sha256
    outsider, leader, other_leader = (sign_in(world, n) for n in ("200001", "200002", "200003"))
    assert play(world, outsider) == 404  # out of scope: as if it did not exist
    r = world.client.post("/api/approvals", headers=outsider,
                          json={"clips": [sha], "purpose": "串案比对", "minutes": 60})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    # only an approver whose scope holds the clip sees it pending, and may decide
    assert [x["id"] for x in world.client.get("/api/approvals", params={"which": "pending"},
                                              headers=leader).json()] == [rid]
    assert world.client.get("/api/approvals", params={"which": "pending"},
                            headers=other_leader).json() == []
    assert world.client.post(f"/api/approvals/{rid}/decision", headers=outsider,
                             json={"approve": True}).status_code == 403
    assert world.client.post(f"/api/approvals/{rid}/decision", headers=other_leader,
                             json={"approve": True}).status_code == 404
    r = world.client.post(f"/api/approvals/{rid}/decision", headers=leader,
                          json={"approve": True, "reason": "同意比对"})
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    assert world.client.post(f"/api/approvals/{rid}/decision", headers=leader,
                             json={"approve": False, "reason": "x"}).status_code == 409
    auth = sign_in(world, "200001")  # a new request sees the grant
    assert play(world, auth) == 200
    assert play(world, auth, "original") == 403  # the grant is for viewing only
    CLOCK.now = START + timedelta(minutes=61)
    auth = sign_in(world, "200001")  # (the old session went idle)
    assert play(world, auth) == 404  # expired: out of scope again
    mine = world.client.get("/api/approvals", headers=auth).json()
    assert mine[0]["status"] == "expired" and mine[0]["uses"] == 1
    assert mine[0]["expired_index"] is not None
    kinds = [e.kind for _, e in world.entries() if e.kind.value.startswith(("access_", "grant_"))]
    assert kinds.count(EntryKind.ACCESS_REQUESTED) >= 1
    for kind in (EntryKind.ACCESS_DECIDED, EntryKind.GRANT_USED, EntryKind.GRANT_EXPIRED):
        assert kind in kinds
    used = [e for _, e in world.entries(EntryKind.GRANT_USED, sha)]
    assert used[-1].body == {"request": rid, "action": "view", "variant": "playback"}
    assert decode_entry(world.station.ledger.store.entry(rid).data).actor == "200001"


def test_download_of_an_original_needs_approval_even_in_scope(world: World) -> None:
    CLOCK.now = START + timedelta(days=2)
    owner = sign_in(world, world.playable.officer)
    leader = sign_in(world, "200002")
    assert play(world, owner) == 200  # in scope: playing needs nothing
    assert play(world, owner, "original") == 403
    r = world.client.post("/api/approvals", headers=owner, json={
        "clips": [world.playable.sha256], "purpose": "移送检察院",
        "actions": ["download_original"]})
    rid = r.json()["id"]
    r = world.client.post(f"/api/approvals/{rid}/decision", headers=leader,
                          json={"approve": False})
    assert r.status_code == 422  # a refusal needs a reason
    r = world.client.post(f"/api/approvals/{rid}/decision", headers=leader,
                          json={"approve": False, "reason": "请走案件移送流程"})
    assert r.json()["status"] == "rejected" and r.json()["reason"] == "请走案件移送流程"
    assert play(world, owner, "original") == 403
    r = world.client.post("/api/approvals", headers=owner, json={
        "clips": [world.playable.sha256], "purpose": "移送检察院",
        "actions": ["download_original"]})
    rid = r.json()["id"]
    assert world.client.post(f"/api/approvals/{rid}/decision", headers=leader,
                             json={"approve": True}).status_code == 200
    assert play(world, owner, "original") == 200


def test_the_audit_is_clean_and_every_entry_is_read_back_afterwards(world: World) -> None:
    ledger = world.station.ledger
    ledger.publish(actor="test")
    report = run_audit(ledger.store, ledger.trust)
    assert report.head.size == ledger.store.size() > 0
    assert ledger.catalogue.unfoldable() == []  # every approval entry reads as its typed body
