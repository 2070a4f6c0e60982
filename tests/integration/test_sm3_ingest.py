"""SM3 beside SHA-256 through the station (DESIGN.md §4 国密 layer): acquired, stored and
derived entries carry the SM3 of the same bytes (checked against the real ``openssl dgst -sm3``),
the catalogue keeps it, and ``liuhen verify`` finds a clip by either digest."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

from fastapi.testclient import TestClient

from api.compose import open_station, services
from api.http.app import HttpConfig, create_app
from api.http.auth import Role
from api.settings import Settings
from devices.sim.cards import Media
from evidence.bodies import DerivedBody, read_body
from integrity.bundle import verify_bundle
from integrity.entry import decode_entry
from integrity.merkle import SM3, leaf_hash, verify_inclusion
from integrity.notes import open_checkpoint
from tests.integration.test_api_support import issue_tokens
from tests.integration.test_first_run import liuhen, new_ledger


def _openssl(*argv: str, path: Path) -> str:
    out = subprocess.run(["openssl", "dgst", *argv, "-r", str(path)], check=True,
                         capture_output=True, text=True).stdout
    return out.split()[0]


def test_ingest_records_sm3_and_verify_finds_a_clip_by_either_digest(
        tmp_path: Path, media: Media) -> None:
    data, card = tmp_path / "d", tmp_path / "card" / "DCIM"
    new_ledger(data)
    card.mkdir(parents=True)
    shutil.copy(media.clip_mp4, card / "A.MP4")
    sha, sm3 = _openssl("-sha256", path=card / "A.MP4"), _openssl("-sm3", path=card / "A.MP4")
    code, output = liuhen("ingest", str(card.parent), "--serial", "ZFY00042", "--officer",
                          "000123", "--data-dir", str(data))
    assert code == 0, output
    station = open_station(Settings(data_dir=data))
    try:
        entries = {e.kind.value: e for e in
                   (decode_entry(r.data) for r in station.ledger.store.find(sha))}
        assert entries["acquired"].body["sm3"] == sm3
        assert entries["stored"].body["sm3"] == sm3
        derived = read_body(entries["derived"].kind, entries["derived"].body)
        assert isinstance(derived, DerivedBody) and derived.derivatives
        for d in derived.derivatives:  # each derivative's SM3 is that of its stored bytes
            obj = next(o for o in (station.ledger.catalogue.clip(sha).playback,
                                   station.ledger.catalogue.clip(sha).proxy)
                       if o is not None and o.key == d.key)
            copy = tmp_path / "copy.bin"
            with station.blobs.open(obj) as src, copy.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            assert d.sm3 == _openssl("-sm3", path=copy)
        station.ledger.catalogue.catch_up()
        assert station.ledger.catalogue.clip(sha).sm3 == sm3
        assert station.ledger.catalogue.sha256_of_sm3(sm3) == sha
        assert station.ledger.catalogue.sha256_of_sm3(sha) is None
    finally:
        station.close()
    code, output = liuhen("verify", sm3, "--data-dir", str(data))
    assert code == 0, output
    assert f"匹配 SM3 (matched the SM3 of clip {sha})" in output
    code, output = liuhen("verify", sha, "--data-dir", str(data))
    assert code == 0 and "匹配 SM3" not in output, output
    code, output = liuhen("verify", str(card / "A.MP4"), "--data-dir", str(data))
    assert code == 0 and f"SM3 {sm3}" in output, output
    code, output = liuhen("verify", "0" * 64, "--data-dir", str(data))
    assert code != 0, output


def test_bundle_carries_the_sm3_path_and_verifies_offline(tmp_path: Path, media: Media) -> None:
    data, card = tmp_path / "d", tmp_path / "card" / "DCIM"
    new_ledger(data)
    card.mkdir(parents=True)
    shutil.copy(media.clip_mp4, card / "A.MP4")
    sha = _openssl("-sha256", path=card / "A.MP4")
    code, output = liuhen("ingest", str(card.parent), "--serial", "ZFY00042", "--officer",
                          "000123", "--data-dir", str(data))
    assert code == 0, output
    bundle = tmp_path / "a.bundle.json"
    code, output = liuhen("export-bundle", sha, "-o", str(bundle), "--data-dir", str(data))
    assert code == 0, output
    assert json.loads(bundle.read_bytes())["sm3_proof"]
    code, output = liuhen("verify-bundle", str(bundle), "--clip", str(card / "A.MP4"))
    assert code == 0 and "SM3 树包含证明通过" in output, output
    code, output = liuhen("audit", "--data-dir", str(data))
    assert code == 0 and "SM3 树根" in output, output
    value = json.loads(bundle.read_bytes())
    value["sm3_proof"] = value["sm3_proof"][::-1]  # the path's hashes out of order
    bundle.write_text(json.dumps(value))
    code, output = liuhen("verify-bundle", str(bundle))
    assert code != 0 and "B4-SM3" in output, output


def test_rest_verify_by_sm3_gives_both_paths(tmp_path: Path, media: Media) -> None:
    """``/api/verify/{hash}`` by the clip's SM3: ``matched`` says so, and every entry's SM3
    path leads to the root in the checkpoint's signed sm3 line (checked here with integrity/
    alone, from the entry bytes)."""
    data, card = tmp_path / "d", tmp_path / "card" / "DCIM"
    new_ledger(data)
    card.mkdir(parents=True)
    shutil.copy(media.clip_mp4, card / "A.MP4")
    sha, sm3 = _openssl("-sha256", path=card / "A.MP4"), _openssl("-sm3", path=card / "A.MP4")
    code, output = liuhen("ingest", str(card.parent), "--serial", "ZFY00042", "--officer",
                          "000123", "--data-dir", str(data))
    assert code == 0, output
    settings = Settings(data_dir=data, hosts=["testserver"])
    station = open_station(settings)
    try:
        station.ledger.publish(actor="test")
        casework = services(station.ledger, station.blobs, refresh_s=0)
        app = create_app(settings, casework=casework, config=HttpConfig(publish_interval_s=None))
        with TestClient(app) as client:
            auth = {"Authorization": f"Bearer {issue_tokens(casework)[Role.AUDITOR]}"}
            answer = client.get(f"/api/verify/{sm3}", headers=auth).json()
            assert (answer["sha256"], answer["sm3"], answer["matched"]) == (sha, sm3, "sm3")
            trust = station.ledger.trust
            cp = open_checkpoint(answer["checkpoint"]["note"].encode(), origin=trust.origin,
                                 keys=trust.keys)
            assert cp.sm3 is not None and answer["checkpoint"]["sm3_root"] == cp.sm3.root.hex()
            for e in answer["entries"]:
                entry = base64.b64decode(e["entry"])
                path = [bytes.fromhex(h) for h in e["sm3_inclusion"]]
                verify_inclusion(e["index"], cp.sm3.size, leaf_hash(entry, tree_hash=SM3), path,
                                 cp.sm3.root, tree_hash=SM3)
            assert client.get(f"/api/verify/{sha}", headers=auth).json()["matched"] == "sha256"
            proof = client.get("/api/ledger/proofs/inclusion", params={"index": 0},
                               headers=auth).json()
            assert len(proof["sm3_hashes"]) == len(proof["hashes"])
            bundle = client.get(f"/api/clips/{sm3}/bundle", headers=auth)
            assert bundle.status_code == 200, bundle.text
            report = verify_bundle(bundle.content, trust=trust, clip_sha256=sha)
            assert report.sm3_checked and report.entry.body["sm3"] == sm3
        with TestClient(app) as browser:  # the verify page, signed in as the auditor
            signin = browser.post("/ui/signin", data={"token": auth["Authorization"][7:]})
            assert signin.status_code in (200, 303), signin.text
            page = browser.get("/ui/verify", params={"sha256": sm3.upper()})
            assert page.status_code == 200, page.text
            assert 'id="verdict">已核验 verified' in page.text  # both paths checked by the page
            assert sm3 in page.text and "按 SM3 摘要找到" in page.text
    finally:
        station.close()
