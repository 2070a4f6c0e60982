"""The `liuhen` ledger commands end to end on the embedded defaults (SQLite file, key files),
with a real local TSA (`openssl ts`) where timestamps are involved."""

from __future__ import annotations

import base64
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from integrity.notes import split_note
from integrity.trust import TrustRoot
from tests.support.tsa import LocalTsa, local_tsa

runner = CliRunner()


def liuhen(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output


pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def demo(data: Path, env: dict[str, str] | None = None) -> tuple[str, int]:
    """One-recorder demo; returns its output and the ledger size it reports."""
    code, output = liuhen("demo", "--data-dir", str(data), "--recorders", "1", env=env)
    assert code == 0, output
    assert "audit OK" in output
    size = re.search(r"ledger: (\d+) entries", output)
    assert size is not None, output
    return output, int(size.group(1))


def demo_clip(data: Path, output: str) -> Path:
    """The card file the demo's bundle is for (the simulated recorder's directory card)."""
    found = re.search(r"bundle for (\S+) \((\w+)\)", output)
    assert found is not None, output
    return data / "simulator" / f"{found.group(2)}-directory" / found.group(1)


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, str]:
    output, _ = demo(tmp_path / "d")
    return tmp_path / "d", output


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTsa]:
    with local_tsa(tmp_path_factory.mktemp("tsa")) as server:
        yield server


def _drop_triggers(db: Path) -> sqlite3.Connection:
    """What an attacker with file access does first: the triggers only stop honest mistakes."""
    conn = sqlite3.connect(db)
    for (name,) in conn.execute("select name from sqlite_master where type='trigger'").fetchall():
        conn.execute(f"drop trigger {name}")
    return conn


def test_demo_bundle_verifies_offline_and_names_its_clip(data: tuple[Path, str]) -> None:
    root, output = data
    bundle, keyring = root / "demo.bundle.json", root / "keyring.json"
    clip = demo_clip(root, output)
    code, out = liuhen("verify-bundle", str(bundle), "--clip", str(clip), "--trust-root",
                       str(keyring))
    assert code == 0, out
    assert "bundle OK: entry" in out and "matches the entry's SHA-256" in out
    other = next(p for p in clip.parent.iterdir() if p != clip and p.stat().st_size)
    code, out = liuhen("verify-bundle", str(bundle), "--clip", str(other))
    assert code == 1 and "[B7]" in out


def test_verify_names_the_clip_and_checks_the_stored_copy(data: tuple[Path, str]) -> None:
    root, output = data
    clip = demo_clip(root, output)
    code, out = liuhen("verify", str(clip), "--data-dir", str(root))
    assert code == 0, out
    assert "采集 DCIM/100MEDIA/" in out and "字节重新计算哈希一致" in out
    stray = root / "stray.MP4"
    stray.write_bytes(b"never docked")
    code, out = liuhen("verify", str(stray), "--data-dir", str(root))
    assert code == 4 and "no `acquired` entry" in out


def test_verify_bundle_needs_no_database_code(data: tuple[Path, str]) -> None:
    root, _ = data
    script = ("import sys\nfrom api.cli import main\n"
              "try:\n    main(['verify-bundle', sys.argv[1]])\nexcept SystemExit as e:\n"
              "    assert not e.code, e.code\n"
              "bad = [m for m in ('sqlalchemy', 'psycopg', 'boto3', 'alembic')\n"
              "       if m in sys.modules]\n"
              "print('loaded:', bad)\n")
    out = subprocess.run([sys.executable, "-c", script, str(root / "demo.bundle.json")],
                         capture_output=True, text=True, check=True).stdout
    assert "bundle OK" in out and "loaded: []" in out


def test_demo_shows_a_checkpoint_signed_with_ed25519_and_sm2(data: tuple[Path, str]) -> None:
    root, output = data
    trust = TrustRoot.from_json((root / "keyring.json").read_bytes())
    ids = {k.algorithm: k.key_id for k in trust.keys if k.role == "log"}
    assert (f"检查点签名 checkpoint signed with: ED25519 ({ids['ed25519']}), "
            f"SM2 ({ids['sm2']})") in output


def test_verify_bundle_checks_the_sm2_line_offline(data: tuple[Path, str]) -> None:
    root, _ = data
    trust = TrustRoot.from_json((root / "keyring.json").read_bytes())
    sm2_log = next(k for k in trust.keys if k.role == "log" and k.algorithm == "sm2")
    bundle = json.loads((root / "demo.bundle.json").read_text())
    lines = bundle["proof"].split("\n")
    sm2_lines = [n for n, line in enumerate(lines) if line.startswith("\u2014 ")
                 and base64.b64decode(line.split(" ")[2])[:4].hex() == sm2_log.key_id]
    assert len(sm2_lines) == 1  # the demo's checkpoint carries an SM2 line by the log key
    for name, edit in (("stripped", lambda ls, n: ls[:n] + ls[n + 1:]),
                       ("forged", lambda ls, n: [*ls[:n], _flip_last_sig_byte(ls[n]),
                                                 *ls[n + 1:]])):
        bundle["proof"] = "\n".join(edit(lines, sm2_lines[0]))
        (root / f"{name}.bundle.json").write_text(json.dumps(bundle))
        code, output = liuhen("verify-bundle", str(root / f"{name}.bundle.json"), "--trust-root",
                              str(root / "keyring.json"))
        assert code == 1 and "[B3]" in output, (name, output)


def _flip_last_sig_byte(line: str) -> str:
    head, b64 = line.rsplit(" ", 1)
    blob = bytearray(base64.b64decode(b64))
    blob[-1] ^= 1
    return f"{head} {base64.b64encode(bytes(blob)).decode()}"


def test_audit_names_the_tampered_row(data: tuple[Path, str]) -> None:
    root, _ = data
    conn = _drop_triggers(root / "ledger.db")
    (row,) = conn.execute("select data from ledger_entries where idx = 1").fetchall()
    conn.execute("update ledger_entries set data = ? where idx = 1",
                 (row[0].replace(b"LH00001", b"LH00009"),))
    conn.commit()
    code, output = liuhen("audit", "--data-dir", str(root))
    assert code == 1
    assert "[leaf] entry bytes do not hash to the stored leaf hash at index 1" in output


def test_rollback_of_the_database_is_caught_by_the_checkpoint_kept_outside(
        tmp_path: Path) -> None:
    root = tmp_path / "d"
    _, before = demo(root)
    saved = tmp_path / "ledger-backup.db"
    shutil.copy(root / "ledger.db", saved)
    _, after = demo(root)  # a re-dock: a clock observation more, and a new checkpoint
    assert after > before
    shutil.copy(saved, root / "ledger.db")  # restore the old database: a silent rollback
    for suffix in ("-wal", "-shm"):
        (root / f"ledger.db{suffix}").unlink(missing_ok=True)
    code, output = liuhen("audit", "--data-dir", str(root))
    assert code == 1
    assert (f"[rollback] external checkpoint of size {after} but the ledger has only {before} "
            "entries") in output


def test_log_key_rotation_keeps_the_ledger_auditable(data: tuple[Path, str]) -> None:
    root, _ = data
    before = json.loads((root / "keyring.json").read_text())
    code, output = liuhen("keys", "rotate-log", "--data-dir", str(root))
    assert code == 0, output
    rotated = re.search(r"rotated at tree size (\d+)", output)
    assert rotated is not None, output
    size = int(rotated.group(1))
    trust = TrustRoot.from_json((root / "keyring.json").read_bytes())
    logs = [k for k in trust.keys if k.role == "log"]
    assert len(logs) == 4 and len(before["keys"]) == 4  # Ed25519 and SM2, station and log
    old, new = logs[:2], logs[2:]
    assert {k.algorithm for k in old} == {k.algorithm for k in new} == {"ed25519", "sm2"}
    assert {k.valid_until for k in old} == {size + 1} and {k.valid_from for k in new} == {size}
    demo(root)  # signs with the new keys only
    code, output = liuhen("audit", "--data-dir", str(root), "--deep")
    assert code == 0, output
    # An auditor still pinning only the old key refuses the new checkpoints.
    (root / "old-keyring.json").write_text(json.dumps(before))
    code, output = liuhen("verify-bundle", str(root / "demo.bundle.json"), "--trust-root",
                          str(root / "old-keyring.json"))
    assert code == 1 and "[B3]" in output


def test_a_data_dir_without_sm2_keys_works_and_gets_them_with_add_sm2(
        data: tuple[Path, str]) -> None:
    root, _ = data
    # A data dir made before 国密: its trust root holds Ed25519 keys only (SM2 lines already in
    # its notes are signatures by unknown keys, ignored).
    made = TrustRoot.from_json((root / "keyring.json").read_bytes())
    ed25519_only = made.with_keys([k for k in made.keys if k.algorithm == "ed25519"]).to_json()
    assert len(made.keys) == 4
    (root / "keyring.json").write_bytes(ed25519_only)
    (root / "old-keyring.json").write_bytes(ed25519_only)
    demo(root)
    code, output = liuhen("keys", "add-sm2", "--data-dir", str(root))
    assert code == 0, output
    added = re.search(r"valid from tree size (\d+), the station key from (\d+)", output)
    assert added is not None and "已添加 SM2 密钥" in output, output
    log_from, station_from = int(added.group(1)), int(added.group(2))
    trust = TrustRoot.from_json((root / "keyring.json").read_bytes())
    sm2_keys = {k.role: k for k in trust.keys if k.algorithm == "sm2"}
    assert sm2_keys["log"].valid_from == log_from and sm2_keys["station"].valid_from == station_from
    code, output = liuhen("keys", "add-sm2", "--data-dir", str(root))
    assert code != 0 and "already has active SM2 keys" in output
    demo(root)
    code, output = liuhen("audit", "--data-dir", str(root), "--deep")
    assert code == 0, output
    latest = (root / "checkpoints" / "latest.note").read_bytes()
    names = [s.key_id.hex() for s in split_note(latest)[1]]
    assert sm2_keys["log"].key_id in names  # new checkpoints carry the SM2 line
    # The Ed25519-only trust root still verifies the new bundle: SM2 lines by unknown keys.
    code, output = liuhen("verify-bundle", str(root / "demo.bundle.json"), "--trust-root",
                          str(root / "old-keyring.json"))
    assert code == 0, output


def test_checkpoints_are_timestamped_and_bundles_carry_the_token(
        tmp_path: Path, tsa: LocalTsa) -> None:
    root = tmp_path / "tsa-root.pem"
    root.write_bytes(tsa.root_pem)
    env = {"LIUHEN_TSA_URLS": json.dumps([tsa.url]), "LIUHEN_TSA_ROOTS": json.dumps([str(root)])}
    data = tmp_path / "d"
    demo(data, env)
    bundle = data / "demo.bundle.json"
    code, output = liuhen("verify-bundle", str(bundle), "--trust-root",
                          str(data / "keyring.json"))
    assert code == 0, output
    assert f"timestamped by {tsa.url}" in output
    # The token's hash is itself in the ledger as an `anchored` entry.
    code, output = liuhen("audit", "--data-dir", str(data), "--deep", env=env)
    assert code == 0, output
    conn = sqlite3.connect(data / "ledger.db")
    (anchored,) = conn.execute("select count(*) from ledger_entries where kind='anchored'")
    assert anchored[0] >= 1
    # The same bundle against a trust root with another TSA's root is refused at B6.
    (tmp_path / "other").mkdir()
    with local_tsa(tmp_path / "other") as other:
        keyring = json.loads((data / "keyring.json").read_text())
        keyring["tsa_roots"] = [other.root_pem.decode()]
        (tmp_path / "k.json").write_text(json.dumps(keyring))
    code, output = liuhen("verify-bundle", str(bundle), "--trust-root", str(tmp_path / "k.json"))
    assert code == 1 and "[B6]" in output


def test_tsa_down_is_reported_and_retried_later(tmp_path: Path, tsa: LocalTsa) -> None:
    root = tmp_path / "tsa-root.pem"
    root.write_bytes(tsa.root_pem)
    data = str(tmp_path / "d")
    down = {"LIUHEN_TSA_URLS": json.dumps(["http://127.0.0.1:9/tsa"]),
            "LIUHEN_TSA_ROOTS": json.dumps([str(root)])}
    code, output = liuhen("station", "--simulate", "1", "--once", "--data-dir", data, env=down)
    assert code == 0, output
    code, output = liuhen("checkpoint", "--data-dir", data, env=down)
    assert code == 75 and "no new entries" in output and "retried on the next run" in output
    up = {**down, "LIUHEN_TSA_URLS": json.dumps([tsa.url])}
    code, output = liuhen("checkpoint", "--data-dir", data, env=up)
    assert code == 0, output
    assert re.search(rf"checkpoint \d+ timestamped by {re.escape(tsa.url)}", output)
