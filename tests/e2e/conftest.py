"""End-to-end fixtures: a real ``liuhen serve`` over a data directory with real clips.

A site is built once per module and database: one simulated recorder docked through the
station (GA/T 947.4 session, hashing on first read, ledger, local write-once store), the media
stage run for playback copies, a case opened with a 查封扣押 step whose window is the clip's, and
API tokens issued with ``liuhen tokens create``. Then ``liuhen serve`` runs in a subprocess on
a free loopback port, its output captured so the tests can check that no token was logged.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from api.compose import open_services, open_station
from api.settings import Settings
from devices.sim.cards import Media, media_library
from evidence.records import Clip, ClipQuery
from ingest.derivation import derive_pending
from ingest.media import MediaPolicy, find_ffmpeg
from tests.e2e.browser import ARTIFACTS, Browser, chromium, require_chromium
from tests.integration.test_station import Quiet, dock, fleet

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

OFFICER_NO = "010203"  # 张伟, the simulator's first recorder (LH00001)
AUDITOR = "090001"  # 法制 account's 警号
UNIT = "110105000000"
E2E_PASSWORD = "e2e password 1"
CASE_ID = "京朝公(治)行罚决字〔2026〕118号"
STEP_ID = "s1"
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
SERVER_START_S = 30.0


@dataclass
class Site:
    """A running server and what the tests need to know about its data."""

    base_url: str
    data_dir: Path
    tokens: dict[str, str]
    """role → 警号 of the officer's and the auditor's accounts (password E2E_PASSWORD)."""
    clip: Clip
    """The H.264/AAC MP4 clip of officer 010203, with its playback copy."""
    clip_file: Path
    """The clip's file on the simulated recorder's card (for verify-by-upload)."""
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _liuhen() -> list[str]:
    script = Path(sys.executable).parent / "liuhen"
    return [str(script)] if script.exists() else [sys.executable, "-c",
                                                   "from api.cli import main; main()"]


def _env(database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIUHEN_")}
    if database_url is not None:
        env["LIUHEN_DATABASE_URL"] = database_url
    return env


def _build(root: Path, media: Media, database_url: str | None) -> tuple[Clip, Path]:
    """Dock one recorder, derive playback copies, open the case; returns the MP4 clip."""
    settings = Settings(data_dir=root / "data", database_url=database_url)
    station = open_station(settings)
    try:
        (recorder,) = fleet(root, media, ("directory",))
        assert dock(station, recorder).released
        derive_pending(station.context(Quiet()), tools=find_ffmpeg(), policy=MediaPolicy(),
                       workdir=root / "work")
    finally:
        station.close()
    casework = open_services(settings)
    try:
        clips = casework.cases.clips(ClipQuery(officer=OFFICER_NO))
        clip = next(c for c in clips if c.name_on_device.endswith("_010203.MP4"))
        assert clip.playback is not None, "the media stage made no playback copy"
        casework.cases.open_case(CASE_ID, title="无证经营查封现场", unit_no="110105000000",
                           major=True, actor=OFFICER_NO)
        duration = timedelta(milliseconds=clip.duration_ms or 1000)
        casework.cases.record_step(CASE_ID, code="chafeng", step_id=STEP_ID,
                             started_at=clip.captured_at,
                             ended_at=clip.captured_at + duration, officer=OFFICER_NO,
                             actor=OFFICER_NO)
        casework.ledger.publish(actor="e2e")
    finally:
        casework.close()
    return clip, recorder.storage / clip.name_on_device


def _account(data_dir: Path, env: dict[str, str], *, role: str, number: str) -> str:
    """An account with ``E2E_PASSWORD`` made by ``liuhen users add``; returns its 警号."""
    done = subprocess.run([*_liuhen(), "users", "add", number, "--name", f"{role}-e2e",
                           "--unit", UNIT, "--role", role, "--password-stdin",
                           "--data-dir", str(data_dir)], env=env, capture_output=True,
                          text=True, timeout=60, check=False, input=E2E_PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    return number


def _unit(data_dir: Path, env: dict[str, str]) -> None:
    done = subprocess.run([*_liuhen(), "units", "add", UNIT, "某区公安分局", "--data-dir",
                           str(data_dir)], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr


@dataclass
class _Server:
    process: subprocess.Popen[bytes]
    base_url: str


def _start(data_dir: Path, env: dict[str, str], log: Path) -> _Server:
    port = _free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*_liuhen(), "serve", "--data-dir", str(data_dir), "--host", "127.0.0.1",
             "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"liuhen serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/api/health", timeout=1.0).status_code == 200:
                return _Server(process=process, base_url=base_url)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    _stop(process)
    pytest.fail(f"liuhen serve did not answer within {SERVER_START_S} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _site(root: Path, media: Media, database_url: str | None, *,
          extra: Callable[[Settings], None] | None = None) -> Iterator[Site]:
    """``extra``: more data for a test module (run after the build, before the server)."""
    require_chromium()
    clip, clip_file = _build(root, media, database_url)
    if extra is not None:
        extra(Settings(data_dir=root / "data", database_url=database_url))
    data_dir = root / "data"
    # these page tests download an original without 调阅审批 (tests/e2e/test_pages.py)
    (data_dir / "approvals.toml").write_text("needs_approval = []\n", "utf-8")
    env = _env(database_url)
    _unit(data_dir, env)
    tokens = {role: _account(data_dir, env, role=role, number=number)
              for role, number in (("officer", OFFICER_NO), ("auditor", AUDITOR))}
    log = root / "serve.log"
    server = _start(data_dir, env, log)
    try:
        yield Site(base_url=server.base_url, data_dir=data_dir, tokens=tokens, clip=clip,
                   clip_file=clip_file, log=log)
    finally:
        _stop(server.process)
        shutil.copyfile(log, _artifacts_dir() / f"serve-{root.name}.log")
    logged = log.read_text(errors="replace")
    assert E2E_PASSWORD not in logged, "the server logged a password"


def _artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    """The simulator's tiny real clips (ffmpeg), made once per test session."""
    return media_library(tmp_path_factory.mktemp("e2e-media"), ffmpeg=find_ffmpeg().ffmpeg)


@pytest.fixture(scope="module")
def sqlite_site(tmp_path_factory: pytest.TempPathFactory, media: Media
                ) -> Iterator[Site]:
    yield from _site(tmp_path_factory.mktemp("site-sqlite"), media, None)


@pytest.fixture(scope="module")
def postgresql_site(tmp_path_factory: pytest.TempPathFactory, media: Media
                    ) -> Iterator[Site]:
    name = f"liuhen_e2e_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield from _site(tmp_path_factory.mktemp("site-pg"), media,
                         f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                          .format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def site(request: pytest.FixtureRequest) -> Site:
    """The same story on a SQLite file and on PostgreSQL."""
    found: Site = request.getfixturevalue(f"{request.param}_site")
    return found


@pytest.fixture
def open_browser(request: pytest.FixtureRequest) -> Iterator[Callable[[Site], Browser]]:
    """Opens a fresh Chromium (one per user: own profile, own cookies), quit when the test
    ends; screenshots go to ARTIFACTS/<test name>/."""
    shots = _artifacts_dir() / request.node.name
    shutil.rmtree(shots, ignore_errors=True)
    with ExitStack() as stack:
        yield lambda site: stack.enter_context(chromium(base_url=site.base_url, shots=shots))
