"""Access supervision (调阅监督) over REST: playback and download need a purpose; each is an
``accessed`` entry written before the bytes; originals stream by their stored version; ranges;
auditors read the access log per clip, per officer and per case."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from urllib.parse import quote

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


def accessed(world: World, sha: str) -> list[tuple[int, Entry]]:
    return world.entries(EntryKind.ACCESSED, sha)


def stored_bytes(world: World, variant: str) -> bytes:
    obj = getattr(world.playable, variant)
    with world.station.blobs.open(obj) as fh:
        data: bytes = fh.read()
    return data


@pytest.mark.parametrize("action", ["play", "download"])
@pytest.mark.parametrize("purpose", [None, "", "   "])
def test_no_purpose_no_bytes_and_nothing_recorded(world: World, action: str,
                                                  purpose: str | None) -> None:
    sha = world.playable.sha256
    before = len(accessed(world, sha))
    params = {} if purpose is None else {"purpose": purpose}
    r = world.client.get(f"/api/clips/{sha}/{action}", params=params,
                         headers=world.auth(Role.OFFICER))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "purpose_required"
    assert "purpose" in r.json()["detail"]
    assert len(accessed(world, sha)) == before


def test_play_records_an_access_before_the_bytes(world: World) -> None:
    sha = world.playable.sha256
    r = world.client.get(f"/api/clips/{sha}/play", params={"purpose": "案件审查 C-7"},
                         headers=world.auth(Role.OFFICER))
    assert r.status_code == 200, r.text
    assert r.content == stored_bytes(world, "playback")
    assert r.headers["content-type"] == "video/mp4"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["cache-control"] == "no-store"
    index, entry = accessed(world, sha)[-1]
    assert int(r.headers["x-liuhen-access-index"]) == index
    assert entry.actor == NAMES[Role.OFFICER]
    assert entry.body == {"action": "play", "variant": "playback", "purpose": "案件审查 C-7",
                          "role": "officer"}


def test_download_streams_the_original_by_version(world: World) -> None:
    clip = world.playable
    assert clip.original is not None
    # the purpose in the header, percent-encoded UTF-8, with the case it is for
    world.client.post("/api/cases", headers=world.auth(Role.OFFICER),
                      json={"case_id": "ACC-1", "title": "t"})
    r = world.client.get(f"/api/clips/{clip.sha256}/download", params={"case": "ACC-1"},
                         headers={**world.auth(Role.AUDITOR),
                                  "X-Liuhen-Purpose": quote("法制审核：重大执法决定")})
    assert r.status_code == 200, r.text
    assert hashlib.sha256(r.content).hexdigest() == clip.sha256
    assert r.headers["etag"] == f'"{clip.sha256}"'
    assert r.headers["content-disposition"].startswith("attachment;")
    _, entry = accessed(world, clip.sha256)[-1]
    assert entry.body == {"action": "download", "variant": "original", "role": "auditor",
                          "purpose": "法制审核:重大执法决定", "case": "ACC-1"}  # NFKC
    # naming a case that does not exist is refused before anything is recorded
    before = len(accessed(world, clip.sha256))
    r = world.client.get(f"/api/clips/{clip.sha256}/download",
                         params={"case": "NO-SUCH", "purpose": "核查"},
                         headers=world.auth(Role.AUDITOR))
    assert r.status_code == 404 and len(accessed(world, clip.sha256)) == before


def test_ranges_on_playback(world: World) -> None:
    sha = world.playable.sha256
    data = stored_bytes(world, "playback")
    size = len(data)
    auth = world.auth(Role.OFFICER)
    url = f"/api/clips/{sha}/play"
    first = world.client.get(url, params={"purpose": "seek test"},
                             headers={**auth, "Range": "bytes=0-99"})
    assert first.status_code == 206
    assert first.content == data[:100]
    assert first.headers["content-range"] == f"bytes 0-99/{size}"
    assert first.headers["content-length"] == "100"
    recorded = len(accessed(world, sha))
    # a player seeking within the same access is not recorded again
    for header, want, content_range in [
        (f"bytes={size - 10}-", data[-10:], f"bytes {size - 10}-{size - 1}/{size}"),
        ("bytes=-5", data[-5:], f"bytes {size - 5}-{size - 1}/{size}"),
        (f"bytes=100-{size + 1000}", data[100:], f"bytes 100-{size - 1}/{size}"),
    ]:
        r = world.client.get(url, params={"purpose": "seek test"},
                             headers={**auth, "Range": header})
        assert r.status_code == 206, header
        assert r.content == want and r.headers["content-range"] == content_range
        assert "x-liuhen-access-index" not in r.headers
    assert len(accessed(world, sha)) == recorded
    # past the end: 416, and nothing recorded
    r = world.client.get(url, params={"purpose": "seek test"},
                         headers={**auth, "Range": f"bytes={size}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}"
    # a range header this server does not understand is ignored: the whole copy
    r = world.client.get(url, params={"purpose": "seek test"},
                         headers={**auth, "Range": "bytes=0-1,5-6"})
    assert r.status_code == 200 and r.content == data
    # another purpose is another access
    r = world.client.get(url, params={"purpose": "another reason"},
                         headers={**auth, "Range": "bytes=10-19"})
    assert r.status_code == 206 and "x-liuhen-access-index" in r.headers
    assert len(accessed(world, sha)) == recorded + 2


def test_copies_that_do_not_exist(world: World) -> None:
    auth = world.auth(Role.OFFICER)
    r = world.client.get(f"/api/clips/{world.playable.sha256}/play",
                         params={"purpose": "核查", "variant": "proxy"}, headers=auth)
    if world.playable.proxy is None:
        assert r.status_code == 404 and "no stored proxy copy" in r.json()["detail"]
    r = world.client.get(f"/api/clips/{'0' * 64}/play", params={"purpose": "核查"}, headers=auth)
    assert r.status_code == 404
    r = world.client.get(f"/api/clips/{world.playable.sha256}/play",
                         params={"purpose": "核查", "variant": "thumbnail"}, headers=auth)
    assert r.status_code == 422


def test_auditors_read_the_access_log_per_clip_officer_and_case(world: World) -> None:
    clip = world.playable
    c = world.client
    c.post("/api/cases", headers=world.auth(Role.OFFICER), json={"case_id": "LOG-1",
                                                                 "title": "t"})
    c.post("/api/cases/LOG-1/steps", headers=world.auth(Role.OFFICER), json={"code": "chafeng"})
    c.post("/api/cases/LOG-1/steps/s1/links", headers=world.auth(Role.OFFICER),
           json={"sha256": clip.sha256})
    r = c.get(f"/api/clips/{clip.sha256}/play", headers=world.auth(Role.ADMIN),
              params={"purpose": "log test", "case": "LOG-1"})
    assert r.status_code == 200
    index = int(r.headers["x-liuhen-access-index"])
    auditor = world.auth(Role.AUDITOR)
    per_clip = c.get(f"/api/clips/{clip.sha256}/accesses", headers=auditor).json()
    assert per_clip[0]["index"] == index
    assert per_clip[0] | {"at": None} == {
        "index": index, "sha256": clip.sha256, "actor": NAMES[Role.ADMIN], "role": "admin",
        "action": "play", "variant": "playback", "purpose": "log test", "at": None,
        "case_id": "LOG-1"}
    per_case = c.get("/api/cases/LOG-1/accesses", headers=auditor).json()
    assert index in [a["index"] for a in per_case]
    of_officer = c.get(f"/api/officers/{clip.officer}/accesses", headers=auditor).json()
    assert index in [a["index"] for a in of_officer]
    by_actor = c.get(f"/api/officers/{NAMES[Role.ADMIN]}/accesses", headers=auditor,
                     params={"by": "actor"}).json()
    assert index in [a["index"] for a in by_actor]
    assert all(a["actor"] == NAMES[Role.ADMIN] for a in by_actor)
    # officers may not read the access log
    assert c.get(f"/api/clips/{clip.sha256}/accesses",
                 headers=world.auth(Role.OFFICER)).status_code == 403
    assert c.get(f"/api/clips/{'0' * 64}/accesses", headers=auditor).status_code == 404


def test_a_range_for_another_case_or_purpose_is_another_access(world: World) -> None:
    """A ranged read continues an access only for the same purpose and the same case."""
    sha = world.playable.sha256
    auth = world.auth(Role.OFFICER)
    for case in ("RNG-1", "RNG-2"):
        world.client.post("/api/cases", headers=auth, json={"case_id": case, "title": "案件"})
    url = f"/api/clips/{sha}/play"
    first = world.client.get(url, params={"purpose": "案件复核", "case": "RNG-1"},
                             headers={**auth, "Range": "bytes=0-9"})
    assert first.status_code == 206 and "x-liuhen-access-index" in first.headers
    recorded = len(accessed(world, sha))
    same = world.client.get(url, params={"purpose": "案件复核", "case": "RNG-1"},
                            headers={**auth, "Range": "bytes=10-19"})
    assert same.status_code == 206 and "x-liuhen-access-index" not in same.headers
    assert len(accessed(world, sha)) == recorded
    for params in ({"purpose": "案件复核", "case": "RNG-2"}, {"purpose": "案件复核"},
                   {"purpose": "另一事由", "case": "RNG-1"}):
        r = world.client.get(url, params=params, headers={**auth, "Range": "bytes=10-19"})
        assert r.status_code == 206 and "x-liuhen-access-index" in r.headers, params
        _, entry = accessed(world, sha)[-1]
        assert (entry.body["purpose"], entry.body.get("case")) == (params["purpose"],
                                                                   params.get("case"))
    assert len(accessed(world, sha)) == recorded + 3


@pytest.mark.parametrize("whole", ["bytes=0-", "bytes=0-{last}", "bytes=-{size}",
                                   "bytes=0-{beyond}"])
def test_a_range_over_the_whole_copy_is_a_download(world: World, whole: str) -> None:
    sha = world.playable.sha256
    data = stored_bytes(world, "playback")
    auth = world.auth(Role.OFFICER)
    purpose = f"整段核查 {whole}"
    url = f"/api/clips/{sha}/play"
    seek = world.client.get(url, params={"purpose": purpose},
                            headers={**auth, "Range": "bytes=0-9"})
    assert seek.status_code == 206 and "x-liuhen-access-index" in seek.headers
    header = whole.format(last=len(data) - 1, size=len(data), beyond=len(data) + 100)
    r = world.client.get(url, params={"purpose": purpose}, headers={**auth, "Range": header})
    assert r.status_code == 206 and r.content == data
    assert "x-liuhen-access-index" in r.headers  # not folded into the play access
    index, entry = accessed(world, sha)[-1]
    assert int(r.headers["x-liuhen-access-index"]) == index
    assert (entry.body["action"], entry.body["variant"]) == ("download", "playback")
