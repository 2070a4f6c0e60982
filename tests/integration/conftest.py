"""Fixtures for integration tests against real databases (DESIGN.md §8).

PostgreSQL runs at 127.0.0.1:5432 with trust auth for user ``postgres`` on the dev/CI machine;
each test that asks for ``pg_url`` gets a fresh database ``liuhen_test_<random>``, dropped
afterwards. There is no silent skip: if PostgreSQL is not there, the tests error.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg import sql

from api.compose import Station, open_station
from api.settings import Settings
from devices.sim.cards import Media, media_library
from evidence.ids import Origin, StationId
from evidence.records import Entry, EntryKind
from ingest.media import find_ffmpeg
from integrity.entry import encode_entry
from integrity.notes import Ed25519Signer, Signer
from storage.ledger_store import SqlLedgerStore

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_ADMIN_DSN = f"host={PG_HOST} port={PG_PORT} user=postgres dbname=postgres"
ORIGIN = Origin("liuhen.test-bureau/ledger/v1")
STATION = StationId("station-test-01")
AT = datetime(2026, 11, 24, 8, 57, 3, 123456, tzinfo=UTC)


def pinned_clock() -> datetime:
    """The ledger store's clock in these tests (commit and checkpoint stamps): no outcome may
    depend on the day."""
    return AT


def make_signer(name: str, *, role: str) -> Signer:
    """A fresh Ed25519 signer; ``role`` is ``station`` (commit statements) or ``log``."""
    return Ed25519Signer(name, Ed25519PrivateKey.generate(), role=role)


def make_entry(subject: str, *, kind: EntryKind = EntryKind.NOTE,
               body: dict[str, object] | None = None) -> bytes:
    """Canonical entry bytes, as the ingest pipeline would hand them to the store."""
    return encode_entry(Entry(kind=kind, subject=subject, body=body or {"subject": subject},
                              station=STATION, actor="officer-007", at=AT))


def make_items(n: int, *, prefix: str = "s", start: int = 0) -> list[tuple[bytes, str, str]]:
    return [(make_entry(f"{prefix}{i}"), EntryKind.NOTE.value, f"{prefix}{i}")
            for i in range(start, start + n)]


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test, dropped (WITH FORCE) afterwards."""
    name = f"liuhen_test_{secrets.token_hex(6)}"
    with _admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with _admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                          .format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test against a SQLite file and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "ledger.db")
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def station_signer() -> Signer:
    return make_signer("station-test-01", role="station")


@pytest.fixture
def log_signer() -> Signer:
    return make_signer("liuhen.test-bureau/log", role="log")


@pytest.fixture
def store(ledger_url: str) -> Iterator[SqlLedgerStore]:
    with SqlLedgerStore.open(ledger_url, origin=ORIGIN, clock=pinned_clock) as opened:
        yield opened


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    """The simulator's tiny real clips, made once per test session."""
    return media_library(tmp_path_factory.mktemp("media"), ffmpeg=find_ffmpeg().ffmpeg)


@pytest.fixture
def station(tmp_path: Path, ledger_url: str) -> Iterator[Station]:
    """A station on the embedded defaults (local WORM store) over ``ledger_url``'s database."""
    s = open_station(Settings(data_dir=tmp_path / "data", database_url=ledger_url))
    yield s
    s.close()
