"""Cases over REST, on SQLite and PostgreSQL with clips from a real docked recorder: opening a
case and its steps, the 执法环节 catalogue, attaching and detaching clips (ledger entries,
retention extended in the store), and the completeness report."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from api.http.auth import Role
from devices.sim.cards import Media
from evidence.records import Entry, EntryKind
from tests.integration.test_api_support import BACKENDS, NAMES, World, world_fixture

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          media: Media) -> Iterator[World]:
    yield from world_fixture(request, tmp_path_factory, media)


def _entries(world: World, kind: EntryKind, subject: str) -> list[Entry]:
    return [e for _, e in world.entries(kind, subject)]


def test_open_a_case_with_steps(world: World) -> None:
    c, officer = world.client, world.auth(Role.OFFICER)
    r = c.post("/api/cases", headers=officer, json={
        "case_id": "京公(治)行罚决字〔2026〕1号", "title": "查封某仓库", "unit_no": "110101",
        "major": True})
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["opened_by"] == NAMES[Role.OFFICER] and case["major"] is True
    case_id = case["case_id"]
    (opened,) = _entries(world, EntryKind.CASE_OPENED, case_id)
    assert opened.body == {"title": "查封某仓库", "unit_no": "110101", "major": True}
    assert opened.actor == NAMES[Role.OFFICER]
    # a duplicate case id is a conflict, and is not ledgered twice
    again = c.post("/api/cases", headers=officer, json={"case_id": case_id, "title": "x"})
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    assert len(_entries(world, EntryKind.CASE_OPENED, case_id)) == 1
    # steps: ids s1, s2 by default; times normalised to UTC
    r = c.post(f"/api/cases/{case_id}/steps", headers=officer, json={
        "code": "chafeng", "started_at": "2026-11-24T09:00:00+08:00",
        "ended_at": "2026-11-24T09:30:00+08:00", "officer": "000123"})
    assert r.status_code == 201, r.text
    assert r.json()["step_id"] == "s1"
    assert r.json()["started_at"] == "2026-11-24T01:00:00Z"
    r = c.post(f"/api/cases/{case_id}/steps", headers=officer, json={"code": "xianchang"})
    assert r.json()["step_id"] == "s2"
    # correcting a window is a second case_step entry for the same step
    r = c.put(f"/api/cases/{case_id}/steps/s1", headers=officer, json={
        "started_at": "2026-11-24T01:05:00Z", "ended_at": "2026-11-24T01:40:00Z"})
    assert r.status_code == 200 and r.json()["code"] == "chafeng"
    assert r.json()["ended_at"] == "2026-11-24T01:40:00Z"
    assert r.json()["officer"] == "000123"  # left out: kept
    steps = _entries(world, EntryKind.CASE_STEP, case_id)
    assert [(e.body["step"], e.body["code"]) for e in steps] == \
        [("s1", "chafeng"), ("s2", "xianchang"), ("s1", "chafeng")]
    got = c.get(f"/api/cases/{case_id}", headers=world.auth(Role.AUDITOR)).json()
    assert sorted((s["step_id"], s["code"]) for s in got["steps"]) == [("s1", "chafeng"),
                                                                       ("s2", "xianchang")]
    listed = c.get("/api/cases", headers=officer, params={"limit": 500}).json()
    assert case_id in [x["case_id"] for x in listed]


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"code": "nosuch"}, 422, "unknown 执法环节 code"),
    ({"code": "chafeng", "step_id": "bad id!"}, 422, "step id"),
    ({"code": "chafeng", "started_at": "2026-11-24T09:00:00"}, 422, "timezone"),
    ({"code": "chafeng", "started_at": "2026-11-24T09:00:00Z",
      "ended_at": "2026-11-24T08:00:00Z"}, 422, "before"),
    ({"code": "chafeng", "extra": 1}, 422, "extra"),
])
def test_bad_steps_are_refused_with_a_reason(world: World, body: dict[str, object],
                                             status: int, words: str) -> None:
    c, officer = world.client, world.auth(Role.OFFICER)
    c.post("/api/cases", headers=officer, json={"case_id": "STEP-BAD", "title": "t"})
    r = c.post("/api/cases/STEP-BAD/steps", headers=officer, json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]


def test_step_kinds_are_the_catalogue_and_admins_extend_it(world: World) -> None:
    c = world.client
    kinds = {k["code"]: k for k in c.get("/api/step-kinds",
                                         headers=world.auth(Role.OFFICER)).json()}
    assert kinds["chafeng"] == {"code": "chafeng", "name": "查封扣押", "rule": "required"}
    assert kinds["xianchang"]["rule"] == "should"
    body = {"code": "jiancha_huanbao", "name": "环保检查", "rule": "required"}
    assert c.post("/api/step-kinds", headers=world.auth(Role.OFFICER),
                  json=body).status_code == 403
    r = c.post("/api/step-kinds", headers=world.auth(Role.ADMIN), json=body)
    assert r.status_code == 201 and r.json() == body
    (defined,) = _entries(world, EntryKind.STEP_KIND_DEFINED, "jiancha_huanbao")
    assert defined.body == {"name": "环保检查", "rule": "required"}
    assert defined.actor == NAMES[Role.ADMIN]
    # the steps the law requires recorded cannot be weakened
    r = c.post("/api/step-kinds", headers=world.auth(Role.ADMIN),
               json={"code": "chafeng", "name": "查封扣押", "rule": "optional"})
    assert r.status_code == 422 and "cannot be weakened" in r.json()["detail"]
    # the new kind is usable at once
    c.post("/api/cases", headers=world.auth(Role.OFFICER), json={"case_id": "K-1", "title": "t"})
    assert c.post("/api/cases/K-1/steps", headers=world.auth(Role.OFFICER),
                  json={"code": "jiancha_huanbao"}).status_code == 201


def test_attach_and_detach_are_ledger_entries_and_attach_extends_retention(
        world: World) -> None:
    c, officer = world.client, world.auth(Role.OFFICER)
    clip = world.playable
    assert clip.original is not None and clip.playback is not None
    before = {v: world.station.blobs.verify(o).retain_until
              for v, o in (("original", clip.original), ("playback", clip.playback))}
    c.post("/api/cases", headers=officer, json={"case_id": "LINK-1", "title": "t"})
    c.post("/api/cases/LINK-1/steps", headers=officer, json={"code": "chafeng"})
    r = c.post("/api/cases/LINK-1/steps/s1/links", headers=officer, json={"sha256": clip.sha256})
    assert r.status_code == 201, r.text
    link = r.json()
    assert link["current"] is True and link["linked_by"] == NAMES[Role.OFFICER]
    (linked,) = _entries(world, EntryKind.LINKED, clip.sha256)[-1:]
    assert linked.body == {"case": "LINK-1", "step": "s1"}
    # retention: a retention_set entry (class case), and the store's locks moved later
    retention = _entries(world, EntryKind.RETENTION_SET, clip.sha256)
    assert retention and retention[-1].body["class"] == "case"
    for variant, obj in (("original", clip.original), ("playback", clip.playback)):
        now = world.station.blobs.verify(obj).retain_until
        assert now > before[variant] + timedelta(days=365), variant
    detail = c.get(f"/api/clips/{clip.sha256}", headers=officer).json()
    assert detail["retention_class"] == "case"
    assert any(lk["case_id"] == "LINK-1" and lk["current"] for lk in detail["links"])
    # attaching again answers with the link there is, and records nothing
    again = c.post("/api/cases/LINK-1/steps/s1/links", headers=officer,
                   json={"sha256": clip.sha256})
    assert again.status_code == 200 and again.json() == link
    assert [e.body for e in _entries(world, EntryKind.LINKED, clip.sha256)
            if e.body["case"] == "LINK-1"] == [{"case": "LINK-1", "step": "s1"}]
    # search by case and step finds it
    found = c.get("/api/clips", headers=officer, params={"case": "LINK-1", "step": "s1"}).json()
    assert [x["sha256"] for x in found] == [clip.sha256]
    # detach: an `unlinked` entry; the link stays in the history, not current
    r = c.delete(f"/api/cases/LINK-1/steps/s1/links/{clip.sha256}", headers=officer)
    assert r.status_code == 200, r.text
    assert r.json()["current"] is False and r.json()["unlinked_by"] == NAMES[Role.OFFICER]
    (unlinked,) = _entries(world, EntryKind.UNLINKED, clip.sha256)[-1:]
    assert unlinked.body == {"case": "LINK-1", "step": "s1"}
    case = c.get("/api/cases/LINK-1", headers=officer).json()
    assert [(lk["sha256"], lk["current"]) for lk in case["links"]] == [(clip.sha256, False)]
    assert c.get("/api/clips", headers=officer, params={"case": "LINK-1"}).json() == []
    # retention only grows: detaching leaves the lock where it was
    assert world.station.blobs.verify(clip.original).retain_until > \
        before["original"] + timedelta(days=365)
    # detaching what is not attached is a conflict
    r = c.delete(f"/api/cases/LINK-1/steps/s1/links/{clip.sha256}", headers=officer)
    assert r.status_code == 409 and "not attached" in r.json()["detail"]


def test_attach_refuses_unknown_clips_steps_and_cases(world: World) -> None:
    c, officer = world.client, world.auth(Role.OFFICER)
    c.post("/api/cases", headers=officer, json={"case_id": "LINK-2", "title": "t"})
    c.post("/api/cases/LINK-2/steps", headers=officer, json={"code": "chafeng"})
    sha = world.playable.sha256
    for url, body, words in [
        ("/api/cases/LINK-2/steps/s1/links", {"sha256": "0" * 64}, "no clip"),
        ("/api/cases/LINK-2/steps/s9/links", {"sha256": sha}, "no step"),
        ("/api/cases/NOPE/steps/s1/links", {"sha256": sha}, "no case"),
    ]:
        r = c.post(url, headers=officer, json=body)
        assert r.status_code == 404 and words in r.json()["detail"], (url, r.text)
    before = len(world.entries())
    r = c.post("/api/cases/LINK-2/steps/s1/links", headers=officer, json={"sha256": "XYZ"})
    assert r.status_code == 422 and "SHA-256" in r.json()["detail"]
    assert len(world.entries()) == before


def test_completeness_report(world: World) -> None:
    c, officer = world.client, world.auth(Role.OFFICER)
    clip = world.playable
    assert clip.duration_ms is not None
    start = clip.captured_at
    end_covered = start + timedelta(milliseconds=clip.duration_ms)
    c.post("/api/cases", headers=officer, json={"case_id": "FULL-1", "title": "t",
                                                "major": True})
    # s1 查封扣押 (required): exactly the clip's time, then a 5-minute window (gap)
    # s2 现场检查 (should): nothing attached; s3 强制拆除 (required): nothing attached
    for body in ({"code": "chafeng", "started_at": start.isoformat(),
                  "ended_at": end_covered.isoformat()},
                 {"code": "xianchang"}, {"code": "chaichu"}):
        assert c.post("/api/cases/FULL-1/steps", headers=officer,
                      json=body).status_code == 201
    c.post("/api/cases/FULL-1/steps/s1/links", headers=officer, json={"sha256": clip.sha256})
    report = c.get("/api/cases/FULL-1/completeness", headers=world.auth(Role.AUDITOR)).json()
    assert [m["step_id"] for m in report["missing_required"]] == ["s3"]
    assert [m["step_id"] for m in report["missing_should"]] == ["s2"]
    assert report["gaps"] == [] and report["complete"] is False and report["major"] is True
    # widen s1 to five minutes: the uncovered rest is a gap in a required step
    c.put("/api/cases/FULL-1/steps/s1", headers=officer, json={
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=5)).isoformat()})
    report = c.get("/api/cases/FULL-1/completeness", headers=officer,
                   params={"gap_s": 30}).json()
    (gap,) = report["gaps"]
    assert gap["step_id"] == "s1" and gap["rule"] == "required"
    assert gap["seconds"] == pytest.approx(300 - clip.duration_ms / 1000, abs=0.01)
    assert report["gap_threshold_s"] == 30
    # a threshold above the gap hides it
    report = c.get("/api/cases/FULL-1/completeness", headers=officer,
                   params={"gap_s": 600}).json()
    assert report["gaps"] == []
