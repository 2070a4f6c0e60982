"""What an import graph cannot see: the pure core opens no files, reads no clock or environment
(DESIGN.md §2, STYLE.md §1). import-linter checks the imports themselves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = sorted(p for pkg in ("evidence", "integrity") for p in (ROOT / pkg).rglob("*.py"))
FORBIDDEN_CALLS = {"open", "input", "print", "exec", "eval"}
FORBIDDEN_ATTRS = {
    ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
    ("time", "time"), ("time", "monotonic"), ("time", "perf_counter"), ("time", "sleep"),
    ("os", "environ"), ("os", "getenv"), ("os", "urandom"), ("Path", "open"),
    ("Path", "read_bytes"), ("Path", "read_text"), ("Path", "write_bytes"),
}


def _violations(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in FORBIDDEN_CALLS:
            found.append(f"{path.name}:{node.lineno} calls {node.func.id}()")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and (node.value.id, node.attr) in FORBIDDEN_ATTRS:
            found.append(f"{path.name}:{node.lineno} uses {node.value.id}.{node.attr}")
        if isinstance(node, ast.Attribute) and node.attr in {"read_bytes", "read_text", "open"} \
                and not isinstance(node.value, ast.Name):
            found.append(f"{path.name}:{node.lineno} uses .{node.attr}")
    return found


def test_core_files_found() -> None:
    assert len(CORE) >= 10


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_is_pure(path: Path) -> None:
    assert _violations(path) == []


def test_the_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom datetime import datetime\n"
                   "x = open('f')\ny = datetime.now()\nz = os.environ\n")
    assert len(_violations(bad)) == 3
