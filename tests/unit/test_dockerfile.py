"""The station image (no Docker engine runs here, so the Dockerfile is read, not built): it
copies every package pyproject.toml installs — a package left out installs an image whose
``liuhen`` dies on its first import — and it installs the tools the station runs (ffmpeg for
the media stage, openssl)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_lines() -> list[str]:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()


def test_the_image_copies_every_installed_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    found = pyproject["tool"]["setuptools"]["packages"]["find"]
    packages = {p.rstrip("*") for p in found["include"]}
    copied = {line.split()[1] for line in dockerfile_lines() if line.startswith("COPY ")
              and "--from" not in line}
    assert packages <= copied, f"Dockerfile does not copy: {sorted(packages - copied)}"


def test_the_image_installs_the_station_tools() -> None:
    installs = " ".join(line for line in dockerfile_lines() if "apt-get install" in line)
    for tool in ("ffmpeg", "openssl"):
        assert tool in installs.split(), f"Dockerfile does not install {tool}"
