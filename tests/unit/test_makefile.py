"""The Makefile's install steps, read from ``make -n`` (what make would run on a fresh checkout):
the demo installs liuhen's runtime only; the dev tools belong to the targets that use them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def planned(target: str, venv: Path) -> list[str]:
    """The commands ``make TARGET`` would run with a venv that does not exist yet."""
    done = subprocess.run(["make", "-n", "-C", str(ROOT), target, f"VENV={venv}"],
                          capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def installs(lines: list[str]) -> list[str]:
    return [line.split("install", 1)[1].split()[-1] for line in lines if "pip install" in line]


def test_demo_installs_the_runtime_only(tmp_path: Path) -> None:
    lines = planned("demo", tmp_path / "venv")
    assert installs(lines) == ["."]
    assert any(line.endswith("/.runtime") and line.startswith("touch") for line in lines)
    assert any("liuhen demo" in line for line in lines)


@pytest.mark.parametrize("target", ["dev", "lint", "typecheck", "arch", "test-unit"])
def test_dev_targets_install_the_dev_tools(tmp_path: Path, target: str) -> None:
    lines = planned(target, tmp_path / "venv")
    assert installs(lines) == [".", "'.[dev]'"]
    assert any(line.endswith("/.dev") and line.startswith("touch") for line in lines)
