"""The `liuhen` ledger commands end to end on the embedded defaults (SQLite file, key files),
with a real local TSA (`openssl ts`) where timestamps are involved."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.support.tsa import LocalTsa, local_tsa

runner = CliRunner()


def liuhen(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output


@pytest.fixture
def data(tmp_path: Path) -> Path:
    code, output = liuhen("demo", "--data-dir", str(tmp_path / "d"))
    assert code == 0, output
    assert "audit OK: 3 entries" in output
    return tmp_path / "d"


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


def test_demo_bundle_verifies_offline_and_names_its_clip(data: Path) -> None:
    bundle, keyring = data / "demo.bundle.json", data / "keyring.json"
    clips = data / "demo-clips"
    code, output = liuhen("verify-bundle", str(bundle), "--clip", str(clips / "clip0.bin"),
                          "--trust-root", str(keyring))
    assert code == 0, output
    assert "bundle OK: entry 0" in output and "matches the entry's SHA-256" in output
    code, output = liuhen("verify-bundle", str(bundle), "--clip", str(clips / "clip1.bin"))
    assert code == 1 and "[B7]" in output


def test_verify_bundle_needs_no_database_code(data: Path) -> None:
    script = ("import sys\nfrom api.cli import main\n"
              "try:\n    main(['verify-bundle', sys.argv[1]])\nexcept SystemExit as e:\n"
              "    assert not e.code, e.code\n"
              "bad = [m for m in ('sqlalchemy', 'psycopg', 'boto3', 'alembic')\n"
              "       if m in sys.modules]\n"
              "print('loaded:', bad)\n")
    out = subprocess.run([sys.executable, "-c", script, str(data / "demo.bundle.json")],
                         capture_output=True, text=True, check=True).stdout
    assert "bundle OK" in out and "loaded: []" in out


def test_audit_names_the_tampered_row(data: Path) -> None:
    conn = _drop_triggers(data / "ledger.db")
    (row,) = conn.execute("select data from ledger_entries where idx = 1").fetchall()
    conn.execute("update ledger_entries set data = ? where idx = 1",
                 (row[0].replace(b"ZFY00042", b"ZFY00043"),))
    conn.commit()
    code, output = liuhen("audit", "--data-dir", str(data))
    assert code == 1
    assert "[leaf] entry bytes do not hash to the stored leaf hash at index 1" in output


def test_rollback_of_the_database_is_caught_by_the_checkpoint_kept_outside(data: Path) -> None:
    saved = data.parent / "ledger-backup.db"
    shutil.copy(data / "ledger.db", saved)
    code, output = liuhen("demo", "--data-dir", str(data))  # 3 more entries, checkpoint at 6
    assert code == 0, output
    shutil.copy(saved, data / "ledger.db")  # restore the old database: a silent rollback
    for suffix in ("-wal", "-shm"):
        (data / f"ledger.db{suffix}").unlink(missing_ok=True)
    code, output = liuhen("audit", "--data-dir", str(data))
    assert code == 1
    assert "[rollback] external checkpoint of size 6 but the ledger has only 3 entries" in output


def test_log_key_rotation_keeps_the_ledger_auditable(data: Path) -> None:
    before = json.loads((data / "keyring.json").read_text())
    code, output = liuhen("keys", "rotate-log", "--data-dir", str(data))
    assert code == 0, output
    keyring = json.loads((data / "keyring.json").read_text())
    logs = [k for k in keyring["keys"] if k["role"] == "log"]
    assert len(logs) == 2 and len(before["keys"]) == 2
    assert logs[0]["valid_until"] == 5 and logs[1]["valid_from"] == 4  # rotation at size 4
    code, output = liuhen("demo", "--data-dir", str(data))  # signs with the new key only
    assert code == 0, output
    code, output = liuhen("audit", "--data-dir", str(data), "--deep")
    assert code == 0, output
    # An auditor still pinning only the old key refuses the new checkpoints.
    (data / "old-keyring.json").write_text(json.dumps(before))
    code, output = liuhen("verify-bundle", str(data / "demo.bundle.json"), "--trust-root",
                          str(data / "old-keyring.json"))
    assert code == 1 and "[B3]" in output


def test_checkpoints_are_timestamped_and_bundles_carry_the_token(
        tmp_path: Path, tsa: LocalTsa) -> None:
    root = tmp_path / "tsa-root.pem"
    root.write_bytes(tsa.root_pem)
    env = {"LIUHEN_TSA_URLS": json.dumps([tsa.url]), "LIUHEN_TSA_ROOTS": json.dumps([str(root)])}
    data = tmp_path / "d"
    code, output = liuhen("demo", "--data-dir", str(data), env=env)
    assert code == 0, output
    bundle = data / "demo.bundle.json"
    code, output = liuhen("verify-bundle", str(bundle), "--trust-root",
                          str(data / "keyring.json"))
    assert code == 0, output
    assert f"timestamped by {tsa.url}" in output
    # The token's hash is itself in the ledger as an `anchored` entry.
    code, output = liuhen("audit", "--data-dir", str(data), "--deep", env=env)
    assert code == 0, output
    conn = sqlite3.connect(data / "ledger.db")
    assert conn.execute("select count(*) from ledger_entries where kind='anchored'").fetchone() \
        == (1,)
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
    code, output = liuhen("demo", "--data-dir", data, env=down)
    assert code == 0, output
    assert "TSA http://127.0.0.1:9/tsa failed" in output
    code, output = liuhen("checkpoint", "--data-dir", data, env=down)
    assert code == 75 and "no new entries" in output and "retried on the next run" in output
    up = {**down, "LIUHEN_TSA_URLS": json.dumps([tsa.url])}
    code, output = liuhen("checkpoint", "--data-dir", data, env=up)
    assert code == 0, output
    assert f"checkpoint 3 timestamped by {tsa.url}" in output
