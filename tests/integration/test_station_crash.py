"""Crash injection: `kill -9` the station at random points while it docks three recorders;
restart until done. Every file must end up ingested exactly once, the audit clean, and no
recorder released before all of its files were verified (checked after every kill)."""

from __future__ import annotations

import collections
import os
import random
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from api.cli.station import CARD_START
from api.compose import open_station, simulated_recorders
from api.settings import Settings
from ingest.media import find_ffmpeg
from integrity.entry import decode_entry
from ledger.audit import run_audit
from tests.integration.conftest import PG_ADMIN_DSN

KILLS = 50
LIUHEN = str(Path(sys.executable).with_name("liuhen"))
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning")]


def _rows(url: str) -> list[tuple[str, str]]:
    """(serial, state) of every ingest row, read with the bare driver after a kill."""
    query = "select serial, state from ingest_files"
    if url.startswith("sqlite"):
        path = make_url(url).database
        if not path or not Path(path).exists():
            return []
        with sqlite3.connect(path) as conn:
            try:
                return conn.execute(query).fetchall()
            except sqlite3.OperationalError:
                return []  # killed before the schema existed
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        try:
            return [(str(a), str(b)) for a, b in conn.execute(query).fetchall()]
        except psycopg.errors.UndefinedTable:
            return []


def _check_no_early_release(url: str) -> None:
    by_serial: dict[str, list[str]] = collections.defaultdict(list)
    for serial, state in _rows(url):
        by_serial[serial].append(state)
    for serial, states in by_serial.items():
        if "released" in states:
            assert set(states) <= {"verified", "released"}, (serial, states)


def _run(env: dict[str, str], *, kill_after: float | None) -> bool:
    """One station run; True when it finished by itself."""
    proc = subprocess.Popen([LIUHEN, "station", "--simulate", "3", "--once"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=kill_after if kill_after is not None else 120)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        return False
    assert proc.returncode == 0, err.decode()
    return True


@pytest.fixture
def fresh_url(tmp_path: Path, ledger_url: str) -> Iterator[Callable[[Path], str]]:
    """A new empty database per round: a SQLite file, or a new PostgreSQL database."""
    made: list[str] = []

    def make(data: Path) -> str:
        if ledger_url.startswith("sqlite"):
            return f"sqlite:///{data / 'ledger.db'}"
        name = f"liuhen_test_{secrets.token_hex(6)}"
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

    yield make
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        for name in made:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                          .format(sql.Identifier(name)))


def test_kill_9_at_random_points_then_restart(tmp_path: Path,
                                              fresh_url: Callable[[Path], str]) -> None:
    rng = random.Random(20261124)  # noqa: S311 - reproducible kill points, not a secret
    kills, rounds, duration = 0, 0, 0.0
    first: tuple[Path, str] | None = None
    while kills < KILLS:
        data = tmp_path / f"round{rounds}"
        url = fresh_url(data)
        env = {**os.environ, "LIUHEN_DATA_DIR": str(data), "LIUHEN_DATABASE_URL": url}
        # The cards exist before the first start.
        simulated_recorders(data / "simulator", 3, ffmpeg=find_ffmpeg().ffmpeg,
                            card_start=CARD_START)
        if first is None:
            start = time.monotonic()
            assert _run(env, kill_after=None)  # a clean run tells how long a dock takes
            duration = time.monotonic() - start
            _verify_round(data, url, expected=None)
            first = (data, url)
        else:
            while not _run(env, kill_after=rng.uniform(0.3, duration)):
                kills += 1
                _check_no_early_release(url)
            _verify_round(data, url, expected=_expected(*first))
        rounds += 1


def _expected(data: Path, url: str) -> collections.Counter[tuple[str, str]]:
    station = open_station(Settings(data_dir=data, database_url=url))
    try:
        return collections.Counter(
            (str(e.body["device"]), str(e.body["name_on_device"]))
            for e in (decode_entry(r.data) for r in station.ledger.store.entries())
            if e.kind.value == "acquired")
    finally:
        station.close()


def _verify_round(data: Path, url: str, *, expected: collections.Counter[tuple[str, str]] | None
                  ) -> None:
    station = open_station(Settings(data_dir=data, database_url=url))
    try:
        rows = station.repo.all_files()
        assert rows and all(r.state.value == "released" for r in rows)
        entries = [decode_entry(r.data) for r in station.ledger.store.entries()]
        acquired = collections.Counter((str(e.body["device"]), str(e.body["name_on_device"]))
                                       for e in entries if e.kind.value == "acquired")
        assert set(acquired.values()) == {1}, "a file was ledgered twice"
        assert len(acquired) == len(rows)
        if expected is not None:
            assert acquired == expected
        stored = collections.Counter((str(e.body["device"]), str(e.body["name_on_device"]))
                                     for e in entries if e.kind.value == "stored")
        assert stored == acquired, "a file was stored twice, or not at all"
        for row in rows:
            assert row.object is not None
            station.blobs.verify(row.object, rehash=True)
        external = [station.ledger.latest_note_path.read_bytes()]
        report = run_audit(station.ledger.store, station.ledger.trust, external=external, deep=True)
        assert report.head.size == len(entries)
    finally:
        station.close()
