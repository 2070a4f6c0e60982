"""Encryption at rest through the CLI (docs/adr/0010-sm4-envelope.md): the setting is recorded
in the data dir and does not flip; ``keys rotate-kek`` re-wraps every data key and ledgers it
without rewriting an object; ``fixity --decrypt`` and ``verify`` decrypt and re-hash plaintext;
a tampered ciphertext is caught by fixity without keys."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.compose import object_keys, open_ledger, open_station
from api.settings import Settings
from devices.sim.cards import Media
from integrity.entry import decode_entry


def liuhen(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


@pytest.fixture
def ingested(tmp_path: Path, media: Media) -> tuple[Path, str]:
    data, card = tmp_path / "d", tmp_path / "card" / "DCIM"
    open_station(Settings(data_dir=data)).close()
    card.mkdir(parents=True)
    shutil.copy(media.clip_mp4, card / "A.MP4")
    code, output = liuhen("ingest", str(card.parent), "--serial", "ZFY00042", "--officer",
                          "000123", "--data-dir", str(data))
    assert code == 0, output
    return data, hashlib.sha256(media.clip_mp4.read_bytes()).hexdigest()


def test_the_recorded_setting_does_not_flip(ingested: tuple[Path, str]) -> None:
    data, _ = ingested
    assert (data / "encryption").read_text() == "sm4\n"
    with pytest.raises(Exception, match="不会静默切换"):
        open_station(Settings(data_dir=data, encryption="none"))
    open_station(Settings(data_dir=data, encryption="sm4")).close()


def test_rotate_kek_rewraps_and_ledgers_without_touching_objects(
        ingested: tuple[Path, str]) -> None:
    data, sha = ingested
    objects = sorted((p, p.stat().st_mtime_ns) for p in (data / "objects").rglob("*")
                     if p.is_file())
    code, output = liuhen("keys", "rotate-kek", "--data-dir", str(data))
    assert code == 0, output
    assert "KEK 已轮换" in output
    ledger = open_ledger(Settings(data_dir=data))
    try:
        keks = {r.kek_id for r in object_keys(ledger).all()}
        rotated = [decode_entry(r.data) for r in ledger.store.find(keks.pop())]
    finally:
        ledger.close()
    assert not keks  # every data key is under the one new KEK
    assert [e.kind.value for e in rotated] == ["key_rotated"]
    assert rotated[0].body["role"] == "kek" and int(str(rotated[0].body["objects"])) >= 2
    assert sorted((p, p.stat().st_mtime_ns) for p in (data / "objects").rglob("*")
                  if p.is_file()) == objects
    code, output = liuhen("fixity", "--decrypt", "-1", "--data-dir", str(data))
    assert code == 0, output
    assert "decrypted and re-hashed as plaintext" in output
    code, output = liuhen("verify", sha, "--data-dir", str(data))
    assert code == 0, output
    assert "已解密，明文 SHA-256 一致" in output


def test_fixity_finds_a_changed_ciphertext_without_keys(ingested: tuple[Path, str]) -> None:
    data, sha = ingested
    target = next(p for p in (data / "objects" / "objects" / "originals").rglob("*")
                  if p.is_file() and p.name == sha)
    raw = bytearray(target.read_bytes())
    raw[100] ^= 1
    st = target.stat()
    target.chmod(0o600)
    target.write_bytes(bytes(raw))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    target.chmod(0o400)
    shutil.rmtree(data / "keys" / "kek")  # no keys: the stored bytes' own digest decides
    code, output = liuhen("fixity", "--data-dir", str(data))
    assert code == 1, output
    assert "FIXITY FAILED" in output and sha in output
