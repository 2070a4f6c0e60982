"""Shared world for the REST API tests (imported by tests/integration/test_api_*.py).

A world is one station over SQLite or a fresh PostgreSQL database, with the real local WORM
store, one simulated FAT32 recorder docked through the real station (GA/T 947.4 driver), the
media stage run (playback copies), and the HTTP app over that ledger with one token per role.
It is module-scoped: built once per test module and backend (~3 s), shared by the tests in it,
which therefore use their own case ids and never assume an untouched ledger.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg import sql

from api.compose import Services, Station, open_station, services
from api.http.app import HttpConfig, create_app
from api.http.auth import Role
from api.settings import Settings
from devices.sim.cards import Media
from evidence.records import Clip, Entry, EntryKind
from ingest.derivation import derive_pending
from ingest.media import MediaPolicy, find_ffmpeg
from integrity.entry import decode_entry
from ledger.ports import Clock
from storage.tokens import SqlTokenRepo
from tests.integration.conftest import PG_ADMIN_DSN, PG_HOST, PG_PORT
from tests.integration.test_station import Quiet, dock, fleet

NAMES = {Role.STATION: "station-07", Role.OFFICER: "000123", Role.LEADER: "ld-001",
         Role.AUDITOR: "fz-001",
         Role.ADMIN: "admin-1", Role.DEVICE: "ZFY4G0099"}


@dataclass
class World:
    station: Station
    casework: Services
    app: FastAPI
    client: TestClient
    tokens: dict[Role, str]
    clips: list[Clip]

    def auth(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    @property
    def playable(self) -> Clip:
        """A stored clip with a playback copy."""
        return next(c for c in self.clips if c.playback is not None and c.original is not None)

    @property
    def stored(self) -> list[Clip]:
        return [c for c in self.clips if c.original is not None and c.size > 0]

    def entries(self, kind: EntryKind | None = None, subject: str | None = None
                ) -> list[tuple[int, Entry]]:
        rows = (self.station.ledger.store.find(subject) if subject is not None
                else self.station.ledger.store.entries())
        found = [(r.index, decode_entry(r.data)) for r in rows]
        return [(i, e) for i, e in found
                if kind is None or e.kind is kind]


@dataclass
class _PgDatabase:
    url: str
    name: str


def _create_pg() -> _PgDatabase:
    name = f"liuhen_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return _PgDatabase(f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}", name)


def _drop_pg(db: _PgDatabase) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                      .format(sql.Identifier(db.name)))


def issue_tokens(casework: Services) -> dict[Role, str]:
    repo = SqlTokenRepo(casework.ledger.store.engine)
    return {role: repo.issue(name=NAMES[role], role=role.value, now=datetime.now(UTC))[0]
            for role in Role}


def build_world(tmp: Path, media: Media, database_url: str, *, docked: bool = True,
                clock: Clock | None = None) -> Iterator[World]:
    """A world (module docstring); ``docked=False`` skips the recorder (an empty ledger)."""
    settings = Settings(data_dir=tmp / "data", database_url=database_url,
                        hosts=["testserver"])  # TestClient's Host
    station = open_station(settings)
    try:
        clips: list[Clip] = []
        if docked:
            (recorder,) = fleet(tmp, media, ("fat32",))
            assert dock(station, recorder).released
            derive_pending(station.context(Quiet()), tools=find_ffmpeg(), policy=MediaPolicy(),
                           workdir=tmp / "work")
            station.ledger.catalogue.catch_up()
            clips = station.ledger.catalogue.all_clips()
        casework = (services(station.ledger, station.blobs, refresh_s=0) if clock is None
                    else services(station.ledger, station.blobs, refresh_s=0, clock=clock))
        app = create_app(settings, casework=casework, config=HttpConfig(publish_interval_s=None))
        with TestClient(app) as client:
            yield World(station=station, casework=casework, app=app, client=client,
                        tokens=issue_tokens(casework), clips=clips)
    finally:
        station.close()


def world_fixture(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                  media: Media, *, docked: bool = True,
                  clock: Clock | None = None) -> Iterator[World]:
    """Body of a module-scoped ``world`` fixture parametrized by backend; ``clock`` drives the
    services (sessions, lockouts) when given."""
    tmp = tmp_path_factory.mktemp("api")
    if request.param == "sqlite":
        yield from build_world(tmp, media, f"sqlite:///{tmp / 'ledger.db'}", docked=docked,
                               clock=clock)
        return
    db = _create_pg()
    try:
        yield from build_world(tmp, media, db.url, docked=docked, clock=clock)
    finally:
        _drop_pg(db)


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
