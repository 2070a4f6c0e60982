"""The 调阅审批 pages (docs/access.md §8) with a fake clock: an officer outside a clip's scope
asks from the approvals page, an approver of the clip's unit sees it pending and approves (a
refusal without a reason is refused), the requester sees the answer and opens the clip page
within the grant, and not after it expires; a refusal shows its reason to the requester."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from evidence.records import EntryKind
from tests.integration import test_approvals
from tests.integration.test_api_support import World
from tests.integration.test_approvals import CLOCK, PASSWORD, START

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
world = test_approvals.world  # the REST tests' world: units, accounts, the fake clock


def signed_in(world: World, number: str) -> tuple[TestClient, str]:
    client = TestClient(world.app)
    r = client.post("/ui/signin", data={"officer_no": number, "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/ui/approvals").text)
    assert found is not None
    return client, found.group(1)


def _request_ids(html: str, table: str) -> list[int]:
    return [int(x) for x in re.findall(rf'<tr id="{table}-(\d+)"', html)]


def test_request_approve_play_expire_and_refuse_through_the_pages(world: World) -> None:
    CLOCK.now = START
    sha = world.playable.sha256
    outsider, o_csrf = signed_in(world, "200001")
    assert outsider.get(f"/ui/clips/{sha}").status_code == 404  # out of scope
    form = outsider.get("/ui/approvals", params={"clip": sha})
    assert form.status_code == 200 and f'value="{sha}"' in form.text
    r = outsider.post("/ui/approvals", follow_redirects=False, data={
        "csrf": o_csrf, "clip": sha, "purpose": "串案比对", "minutes": "60",
        "actions": "view"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=requested")
    mine = outsider.get("/ui/approvals").text
    (rid,) = _request_ids(mine, "m")
    assert 'data-status="pending"' in mine and "待审批" in mine

    other, _ = signed_in(world, "200003")  # leader of another unit: not theirs to decide
    assert _request_ids(other.get("/ui/approvals").text, "p") == []
    leader, l_csrf = signed_in(world, "200002")
    assert _request_ids(leader.get("/ui/approvals").text, "p") == [rid]
    refused = leader.post(f"/ui/approvals/{rid}/decision",
                          data={"csrf": l_csrf, "approve": "no", "reason": ""})
    assert refused.status_code == 422 and "理由" in refused.text  # a refusal needs a reason
    r = leader.post(f"/ui/approvals/{rid}/decision", follow_redirects=False,
                    data={"csrf": l_csrf, "approve": "yes", "reason": "同意比对"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=approved")
    assert _request_ids(leader.get("/ui/approvals").text, "p") == []

    mine = outsider.get("/ui/approvals").text
    assert 'data-status="approved"' in mine and "同意比对" in mine and "200002" in mine
    assert outsider.get(f"/ui/clips/{sha}").status_code == 200  # within the grant

    # a second request, refused with a reason the requester reads
    outsider.post("/ui/approvals", data={"csrf": o_csrf, "clip": sha, "purpose": "再次比对",
                                         "actions": ["view", "download_original"]})
    second = max(_request_ids(outsider.get("/ui/approvals").text, "m"))
    leader.post(f"/ui/approvals/{second}/decision",
                data={"csrf": l_csrf, "approve": "no", "reason": "与本案无关"})
    mine = outsider.get("/ui/approvals").text
    assert re.search(rf'<tr id="m-{second}" data-status="rejected">', mine)
    assert "与本案无关" in mine

    CLOCK.now = START + timedelta(minutes=61)
    outsider, _ = signed_in(world, "200001")  # (the old session went idle)
    assert outsider.get(f"/ui/clips/{sha}").status_code == 404  # expired: out of scope
    assert re.search(rf'<tr id="m-{rid}" data-status="expired">',
                     outsider.get("/ui/approvals").text)
    kinds = {e.kind for _, e in world.entries()}
    assert {EntryKind.ACCESS_REQUESTED, EntryKind.ACCESS_DECIDED,
            EntryKind.GRANT_EXPIRED} <= kinds
