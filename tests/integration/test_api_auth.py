"""API tokens: stored hashed, revocable, accepted as a bearer header or the pages' cookie, and
never written to a log (ours, or uvicorn's access log in a real ``liuhen serve``)."""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from api.cli import app as cli
from api.http.auth import TOKEN_COOKIE, Role
from devices.sim.cards import Media
from storage.tokens import SqlTokenRepo
from tests.integration.test_api_support import BACKENDS, NAMES, World, world_fixture

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
runner = CliRunner()


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          media: Media) -> Iterator[World]:
    yield from world_fixture(request, tmp_path_factory, media, docked=False)


def test_tokens_are_stored_as_sha256_only(world: World) -> None:
    with world.casework.ledger.store.engine.connect() as conn:
        rows = conn.execute(text("SELECT token_sha256, name, role FROM api_tokens")).all()
    stored = {r.token_sha256: (r.name, r.role) for r in rows}
    for role, token in world.tokens.items():
        assert token.startswith("lh_") and len(token) > 40
        assert stored[hashlib.sha256(token.encode()).hexdigest()] == (NAMES[role], role.value)
        assert all(token not in str(tuple(r)) for r in rows)


def test_revoked_and_unknown_tokens_get_401(world: World) -> None:
    repo = SqlTokenRepo(world.casework.ledger.store.engine)
    token, record = repo.issue(name="000999", role="officer", now=datetime.now(UTC))
    auth = {"Authorization": f"Bearer {token}"}
    assert world.client.get("/api/me", headers=auth).json() == {"name": "000999",
                                                                "role": "officer"}
    repo.revoke(record.id, now=datetime.now(UTC))
    r = world.client.get("/api/me", headers=auth)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert token not in r.text
    for header in ("Bearer", "Bearer ", "Basic dXNlcjpwYXNz", f"Token {token}", "lh_abc"):
        r = world.client.get("/api/me", headers={"Authorization": header})
        assert r.status_code == 401, header
        assert token not in r.text


def test_a_token_with_an_unknown_role_is_refused(world: World) -> None:
    repo = SqlTokenRepo(world.casework.ledger.store.engine)
    token, _ = repo.issue(name="x", role="superuser", now=datetime.now(UTC))
    r = world.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and "unknown role" in r.json()["detail"]


def test_the_pages_cookie_is_accepted(world: World) -> None:
    world.client.cookies.set(TOKEN_COOKIE, world.tokens[Role.AUDITOR])
    try:
        assert world.client.get("/api/me").json()["role"] == "auditor"
    finally:
        world.client.cookies.clear()


def test_tokens_never_reach_our_logs(world: World, caplog: pytest.LogCaptureFixture) -> None:
    wrong = "lh_" + "Z" * 43
    caplog.set_level(logging.DEBUG)
    for token in [*world.tokens.values(), wrong]:
        auth = {"Authorization": f"Bearer {token}"}
        for url in ("/api/me", "/api/cases", f"/api/verify/{'0' * 64}", "/api/clips/x"):
            world.client.get(url, headers=auth)
        world.client.post("/api/cases", headers=auth, json={"case_id": "LOG", "title": "t"})
    assert caplog.records, "debug logging was captured"
    for token in [*world.tokens.values(), wrong]:
        assert token not in caplog.text
        assert hashlib.sha256(token.encode()).hexdigest() not in caplog.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_with_cli_tokens_and_an_access_log_without_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "LIUHEN_DATA_DIR": str(data)}
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0
    result = runner.invoke(cli, ["tokens", "create", "--role", "auditor", "--name", "fz-9"],
                           env=env)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("lh_") and "\n" not in token
    bad = runner.invoke(cli, ["tokens", "create", "--role", "root", "--name", "x"], env=env)
    assert bad.exit_code == 3 and "role" in bad.output
    listed = runner.invoke(cli, ["tokens", "list"], env=env)
    assert "fz-9" in listed.output and "auditor" in listed.output and token not in listed.output
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", "from api.cli import main; main()", "serve", "--host",
         "127.0.0.1", "--port", str(port), "--data-dir", str(data)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "liuhen serve did not come up"
            assert server.poll() is None, "liuhen serve exited"
            time.sleep(0.1)
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/api/me", headers=auth).json() == {"name": "fz-9",
                                                                    "role": "auditor"}
        assert httpx.get(f"{base}/api/me",
                         headers={"Authorization": "Bearer lh_wrongwrong"}).status_code == 401
        assert httpx.get(f"{base}/openapi.json").json()["info"]["title"].startswith("liuhen")
        revoked = runner.invoke(cli, ["tokens", "revoke", "1"], env=env)
        assert revoked.exit_code == 0 and "revoked" in revoked.output
        assert httpx.get(f"{base}/api/me", headers=auth).status_code == 401
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=20)
    log = output.decode(errors="replace")
    assert "GET /api/me" in log, log  # the access log was on
    assert token not in log and "lh_wrongwrong" not in log
    assert runner.invoke(cli, ["tokens", "revoke", "99"], env=env).exit_code == 4
