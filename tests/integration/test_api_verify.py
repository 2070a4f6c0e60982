"""Verification over REST: by hash and by upload, inclusion and consistency proofs, checkpoints
and bundles; every proof is checked offline with integrity/ alone, against the station's trust
root (not against anything the server says about itself)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from api.http.auth import ALL_ROLES, Role
from devices.sim.cards import Media
from evidence.errors import VerificationError
from integrity.bundle import parse_tlog_proof, verify_bundle
from integrity.entry import decode_entry
from integrity.merkle import leaf_hash, verify_consistency, verify_inclusion
from integrity.notes import open_checkpoint
from tests.integration.test_api_support import BACKENDS, World, world_fixture

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          media: Media) -> Iterator[World]:
    yield from world_fixture(request, tmp_path_factory, media)


def check_offline(world: World, answer: dict[str, object], sha: str) -> None:
    """The auditor's side: open the checkpoint with the trust root, recompute every leaf from
    the entry bytes, check every inclusion path, and that each entry names the clip. (A station
    gets no entry bytes: its paths are checked from the leaf hashes.)"""
    trust = world.station.ledger.trust
    checkpoint_json = answer["checkpoint"]
    assert isinstance(checkpoint_json, dict)
    note = checkpoint_json["note"].encode()
    checkpoint = open_checkpoint(note, origin=trust.origin, keys=trust.keys)
    entries = answer["entries"]
    assert isinstance(entries, list) and entries
    for e in entries:
        if e["entry"] is None:
            path = [bytes.fromhex(h) for h in e["inclusion"]]
            verify_inclusion(e["index"], checkpoint.head.size, bytes.fromhex(e["leaf_hash"]),
                             path, checkpoint.head.root)
            continue
        data = base64.b64decode(e["entry"])
        assert decode_entry(data).subject == sha
        assert leaf_hash(data).hex() == e["leaf_hash"]
        path = [bytes.fromhex(h) for h in e["inclusion"]]
        verify_inclusion(e["index"], checkpoint.head.size, leaf_hash(data), path,
                         checkpoint.head.root)
        tlog = parse_tlog_proof(e["tlog_proof"].encode())
        assert (tlog.index, list(tlog.hashes), tlog.checkpoint) == (e["index"], path, note)
        with pytest.raises(VerificationError):  # a flipped byte does not verify
            flipped = bytes([data[0] ^ 1]) + data[1:]
            verify_inclusion(e["index"], checkpoint.head.size, leaf_hash(flipped), path,
                             checkpoint.head.root)


@pytest.mark.parametrize("role", sorted(ALL_ROLES))
def test_verify_by_hash_gives_offline_proofs(world: World, role: Role) -> None:
    clip = world.playable
    world.station.ledger.publish()
    r = world.client.get(f"/api/verify/{clip.sha256.upper()}", headers=world.auth(role))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["sha256"] == clip.sha256 and answer["acquired"] is True
    kinds = [e["kind"] for e in answer["entries"]]
    assert kinds[0] == "acquired" and "stored" in kinds and "accessed" not in kinds
    assert clip.original is not None
    assert (answer["stored"]["key"], answer["stored"]["version_id"]) == (
        clip.original.key, clip.original.version_id)
    if role is Role.STATION:  # what a station needs, not who recorded what for which case
        assert answer["clip"] is None
        assert all(e["entry"] is None and e["actor"] is None for e in answer["entries"])
    else:
        assert answer["clip"]["sha256"] == clip.sha256
    check_offline(world, answer, clip.sha256)


def test_a_device_uploads_and_verifies_nothing(world: World) -> None:
    r = world.client.get(f"/api/verify/{world.playable.sha256}", headers=world.auth(Role.DEVICE))
    assert r.status_code == 403 and r.json()["error"] == "forbidden"


def test_entries_after_the_checkpoint_have_no_proof_yet(world: World) -> None:
    clip = world.playable
    world.station.ledger.publish()
    world.client.post("/api/cases", headers=world.auth(Role.OFFICER),
                      json={"case_id": "V-1", "title": "t"})
    world.client.post("/api/cases/V-1/steps", headers=world.auth(Role.OFFICER),
                      json={"code": "chafeng"})
    world.client.post("/api/cases/V-1/steps/s1/links", headers=world.auth(Role.OFFICER),
                      json={"sha256": clip.sha256})
    answer = world.client.get(f"/api/verify/{clip.sha256}",
                              headers=world.auth(Role.AUDITOR)).json()
    pending = [e for e in answer["entries"] if e["inclusion"] is None]
    assert [e["kind"] for e in pending] == ["retention_set", "linked"]
    assert all(e["tlog_proof"] is None for e in pending)


def test_verify_by_upload_streams_and_hashes(world: World) -> None:
    clip = world.playable
    assert clip.original is not None
    world.station.ledger.publish()
    with world.station.blobs.open(clip.original) as fh:
        data = fh.read()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(data), 1000):
            yield data[i:i + 1000]

    r = world.client.post("/api/verify", content=chunks(), headers=world.auth(Role.STATION))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["sha256"], answer["size"]) == (clip.sha256, len(data))
    check_offline(world, answer, clip.sha256)
    # one changed byte: another content, which the ledger never saw
    r = world.client.post("/api/verify", content=b"\x00" + data[1:],
                          headers=world.auth(Role.STATION))
    assert r.status_code == 404 and "never recorded" in r.json()["detail"]


def test_uploads_are_not_capped_like_other_bodies(world: World) -> None:
    big = b"\x01" * (3 << 20)  # over the 1 MiB cap of every other request
    r = world.client.post("/api/verify", content=big, headers=world.auth(Role.OFFICER))
    assert r.status_code == 404  # hashed all the way: unknown content


def test_inclusion_and_consistency_proofs_verify_offline(world: World) -> None:
    trust = world.station.ledger.trust
    store = world.station.ledger.store
    world.station.ledger.publish()
    auth = world.auth(Role.STATION)
    old = world.client.get("/api/ledger/checkpoints/latest", headers=auth).json()
    world.client.post("/api/cases", headers=world.auth(Role.OFFICER),
                      json={"case_id": "V-2", "title": "t"})
    world.station.ledger.publish()
    new = world.client.get("/api/ledger/checkpoints/latest", headers=auth).json()
    assert new["size"] > old["size"]
    old_cp = open_checkpoint(old["note"].encode(), origin=trust.origin, keys=trust.keys)
    new_cp = open_checkpoint(new["note"].encode(), origin=trust.origin, keys=trust.keys)
    assert new_cp.head.root.hex() == new["root"]
    r = world.client.get("/api/ledger/proofs/consistency", headers=auth,
                         params={"old": old["size"]})
    assert r.status_code == 200, r.text
    proof = r.json()
    assert (proof["old"], proof["new"]) == (old["size"], new["size"])
    assert proof["old_checkpoint"]["note"] == old["note"]
    verify_consistency(old_cp.head.size, new_cp.head.size,
                       [bytes.fromhex(h) for h in proof["hashes"]], old_cp.head.root,
                       new_cp.head.root)
    for index in (0, old["size"] - 1, new["size"] - 1):
        r = world.client.get("/api/ledger/proofs/inclusion", headers=auth,
                             params={"index": index})
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["leaf_hash"] == store.entry(index).leaf_hash.hex()
        verify_inclusion(index, new_cp.head.size, bytes.fromhex(got["leaf_hash"]),
                         [bytes.fromhex(h) for h in got["hashes"]], new_cp.head.root)
    # explicit sizes, and sizes the tree does not have
    r = world.client.get("/api/ledger/proofs/inclusion", headers=auth,
                         params={"index": 0, "size": old["size"]})
    assert r.json()["checkpoint"]["size"] == old["size"]
    for params in ({"index": new["size"] + 5}, {"index": 0, "size": 10**9}):
        r = world.client.get("/api/ledger/proofs/inclusion", headers=auth, params=params)
        assert r.status_code == 404, (params, r.text)
    r = world.client.get("/api/ledger/proofs/consistency", headers=auth,
                         params={"old": new["size"] + 1})
    assert r.status_code == 422 and "larger" in r.json()["detail"]
    listed = world.client.get("/api/ledger/checkpoints", headers=auth).json()
    assert listed[0] == new and old in listed
    assert [c["size"] for c in listed] == sorted((c["size"] for c in listed), reverse=True)


def test_bundle_export_verifies_offline(world: World) -> None:
    clip = world.playable
    r = world.client.get(f"/api/clips/{clip.sha256}/bundle", headers=world.auth(Role.AUDITOR))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    report = verify_bundle(r.content, trust=world.station.ledger.trust,
                           clip_sha256=clip.sha256)
    assert report.entry.kind.value == "acquired" and not report.embedded_trust
    r = world.client.get(f"/api/clips/{'0' * 64}/bundle", headers=world.auth(Role.AUDITOR))
    assert r.status_code == 404


def test_a_station_learns_where_and_proofs_not_who_what_or_which_case(world: World) -> None:
    clip = world.playable
    auth = world.auth(Role.OFFICER)
    world.client.post("/api/cases", headers=auth, json={"case_id": "秘密案件-9", "title": "机密"})
    world.client.post("/api/cases/秘密案件-9/steps", headers=auth, json={"code": "chafeng"})
    linked = world.client.post("/api/cases/秘密案件-9/steps/s1/links", headers=auth,
                               json={"sha256": clip.sha256})
    assert linked.status_code == 201, linked.text
    world.station.ledger.publish()
    r = world.client.get(f"/api/verify/{clip.sha256}", headers=world.auth(Role.STATION))
    assert r.status_code == 200
    answer = r.json()
    assert answer["acquired"] is True and answer["stored"] is not None
    assert {e["kind"] for e in answer["entries"]} <= {"acquired", "derived", "stored",
                                                      "quarantined"}
    text = r.text
    name = clip.name_on_device.rsplit("/", 1)[-1]
    for secret in ("秘密案件-9", clip.officer, name, "linked", "retention_set"):
        assert secret not in text, secret
    check_offline(world, answer, clip.sha256)
    # an auditor still sees it all
    full = world.client.get(f"/api/verify/{clip.sha256}", headers=world.auth(Role.AUDITOR))
    assert any("秘密案件-9" in base64.b64decode(e["entry"]).decode()
               for e in full.json()["entries"] if e["kind"] == "linked")


def test_verify_by_sm3_says_which_digest_matched(world: World) -> None:
    clip = world.playable
    assert clip.sm3 is not None and str(clip.sm3) != str(clip.sha256)
    acquired = decode_entry(world.station.ledger.store.find(clip.sha256)[0].data)
    assert acquired.kind.value == "acquired" and acquired.body["sm3"] == clip.sm3
    world.station.ledger.publish()
    by_sm3 = world.client.get(f"/api/verify/{clip.sm3}", headers=world.auth(Role.AUDITOR))
    assert by_sm3.status_code == 200, by_sm3.text
    answer = by_sm3.json()
    assert (answer["sha256"], answer["sm3"], answer["matched"]) == (clip.sha256, clip.sm3, "sm3")
    check_offline(world, answer, clip.sha256)
    by_sha = world.client.get(f"/api/verify/{clip.sha256}", headers=world.auth(Role.AUDITOR))
    assert by_sha.json()["matched"] == "sha256"
    unknown = "0" * 63 + "1"
    assert world.client.get(f"/api/verify/{unknown}",
                            headers=world.auth(Role.AUDITOR)).status_code == 404
