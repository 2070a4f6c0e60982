"""Data that can never take the read side down (issue 11 §2).

The ledger keeps what an older or foreign version wrote: a step that starts in year ``999``
(the old writer's three-digit year), a NUL in a purpose, a recording rule nobody knows, a month
13. Before, one such entry stopped every fold, and every catalogue read and write answered 500
for everyone, after every restart. Now the fold skips it with a logged
error, ``liuhen audit`` lists it, and everything else reads and writes as before. Times at the
edges of what the ledger can hold (years 1 and 9999, which UTC+8 cannot show) are folded and
shown, in REST, pages and completeness reports.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url
from typer.testing import CliRunner

import storage.catalogue_check
from api.cli import app
from api.compose import services
from api.http.auth import Role
from devices.sim.cards import Media
from evidence.bodies import (
    AcquiredBody,
    CaseOpenedBody,
    CaseStepBody,
    DerivedBody,
    LinkedBody,
    StoredBody,
)
from evidence.records import EntryKind
from storage.engine import create_ledger_engine
from tests.integration.conftest import PG_ADMIN_DSN
from tests.integration.test_api_support import BACKENDS, World, world_fixture
from tests.support.foreign import append_foreign

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

FAR = "e" * 64  # a clip whose recorder's clock said year 9999
ACTOR = "000123"


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          media: Media) -> Iterator[World]:
    yield from world_fixture(request, tmp_path_factory, media)


def record(world: World, kind: EntryKind, subject: str, body: dict[str, object]) -> int:
    """Append as an older or foreign version would have: past every edge check."""
    return append_foreign(world.station.ledger, kind, subject, body, actor=ACTOR)


def write_legacy(world: World) -> dict[int, str]:
    """Entries the catalogue cannot hold, by ledger index, with a word of the reason."""
    sha = world.playable.sha256
    record(world, EntryKind.CASE_OPENED, "L-999", {"title": "旧版本", "unit_no": "",
                                                    "major": False})
    return {
        record(world, EntryKind.CASE_STEP, "L-999", {
            "step": "s1", "code": "chafeng", "started_at": "999-06-01T00:00:00.000000000Z",
            "ended_at": None, "officer": None}): "started_at",
        record(world, EntryKind.ACCESSED, sha, {"action": "play", "variant": "playback",
                                                "purpose": "复核\x00", "role": "officer"}): "NUL",
        record(world, EntryKind.STEP_KIND_DEFINED, "foreign", {"name": "外来",
                                                               "rule": "sometimes"}): "rule",
        record(world, EntryKind.RETENTION_SET, sha, {
            "class": "standard", "retain_until": "2026-13-01T00:00:00.000000000Z"}): "retain_until",
        record(world, EntryKind.CASE_STEP, "L-999", {
            "step": "s2", "code": "chafeng", "started_at": None, "ended_at": None,
            "officer": {"no": 1}}): "officer",
    }


def write_far_times(world: World) -> None:
    """A clip and a case at the ends of the ledger's years: readable, but UTC+8 cannot show
    year 9999's last hours and a recording there ends past the end of time."""
    end = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    last_hour = datetime(9999, 12, 31, 23, tzinfo=UTC)
    writer = world.station.ledger.writer
    writer.append(AcquiredBody(size=10, device="LH9", officer=ACTOR, unit_no="",
                               name_on_device="far.mp4", clock_offset_ms=0,
                               device_mtime=last_hour, capture_time=last_hour),
                  subject=FAR, actor=ACTOR)
    writer.append(StoredBody(device="LH9", name_on_device="far.mp4", size=10,
                             store="file:///nowhere", key="k", version_id="v",
                             lock_mode="COMPLIANCE", retain_until=end), subject=FAR, actor=ACTOR)
    writer.append(DerivedBody(parent=FAR, probe={"duration_ms": 7_200_000}, plan={},
                              ffmpeg_version="", derivatives=(), streamhash={}, thumbnails=None),
                  subject=FAR, actor=ACTOR)
    for case, start in (("L-9999", last_hour), ("L-0001", datetime(1, 1, 1, tzinfo=UTC))):
        writer.append(CaseOpenedBody(title="边界", unit_no="", major=True), subject=case,
                      actor=ACTOR)
        writer.append(CaseStepBody(step="s1", code="chafeng", started_at=start, ended_at=end,
                                   officer=ACTOR), subject=case, actor=ACTOR)
        writer.append(LinkedBody(case=case, step="s1"), subject=FAR, actor=ACTOR)


def reads_work(world: World) -> None:
    """Every read and a write answer as they should, for REST and pages."""
    c, auth = world.client, world.auth(Role.ADMIN)
    for url in ("/api/cases", "/api/cases/L-999", "/api/cases/L-9999", "/api/cases/L-0001",
                "/api/cases/L-9999/completeness", "/api/cases/L-0001/completeness",
                f"/api/clips/{FAR}", "/api/clips", "/api/step-kinds",
                f"/api/clips/{world.playable.sha256}/accesses",
                "/ui/cases", "/ui/cases/L-999", "/ui/cases/L-9999", "/ui/cases/L-0001",
                f"/ui/clips/{FAR}", f"/ui/clips?officer={ACTOR}"):
        r = c.get(url, headers=auth)
        assert r.status_code == 200, (url, r.text[:500])
    assert c.post("/api/cases", headers=auth,
                  json={"case_id": "L-new", "title": "新案"}).status_code == 201


def test_entries_the_catalogue_cannot_hold_are_skipped_logged_and_audited(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    legacy = write_legacy(world)
    write_far_times(world)
    with caplog.at_level(logging.ERROR, logger="liuhen.catalogue"):
        reads_work(world)
    logged = " ".join(r.getMessage() for r in caplog.records)
    for index in legacy:
        assert f"ledger entry {index} skipped" in logged
    # the case is there, without the step it cannot read; the far clip and cases are whole
    case = world.client.get("/api/cases/L-999", headers=world.auth(Role.ADMIN)).json()
    assert case["steps"] == []
    far = world.client.get("/api/cases/L-9999", headers=world.auth(Role.ADMIN)).json()
    assert far["steps"][0]["ended_at"].startswith("9999-12-31T23:59:59.999999")
    page = world.client.get("/ui/cases/L-9999", headers=world.auth(Role.ADMIN)).text
    assert "9999-12-31 23:59:59 (UTC)" in page
    report = world.client.get("/api/cases/L-9999/completeness",
                              headers=world.auth(Role.ADMIN)).json()
    assert report["missing_required"] == [] and report["gaps"] == []
    # what the fold skips is what the ledger itself shows the catalogue cannot read
    fresh = services(world.station.ledger, world.station.blobs, refresh_s=0)
    unreadable = fresh.ledger.catalogue.unfoldable()
    assert [u.index for u in unreadable] == sorted(legacy)
    for item in unreadable:
        assert legacy[item.index] in item.reason
    # the audit says so, and still finds the ledger intact
    settings = world.station.ledger.settings
    result = CliRunner().invoke(app, ["audit", "--data-dir", str(settings.data_dir)],
                                env={"LIUHEN_DATABASE_URL": settings.db_url()})
    assert result.exit_code == 0, result.output
    assert "audit OK" in result.output and "目录无法读取 5 条账本记录" in result.output
    for index in legacy:
        assert re.search(rf"entry {index} \(\w+\): ", result.output)


def test_a_value_only_the_database_refuses_skips_that_entry_alone(
        world: World, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The second line of defence: should the check miss a value the database refuses (a NUL
    in PostgreSQL text), the page is folded again entry by entry and only that one skipped."""
    monkeypatch.setattr(storage.catalogue_check, "fold_problem", lambda _entry: None)
    sha = world.playable.sha256
    bad = record(world, EntryKind.ACCESSED, sha, {"action": "play", "variant": "playback",
                                                  "purpose": "复核\x00", "role": "officer"})
    good = record(world, EntryKind.ACCESSED, sha, {"action": "play", "variant": "playback",
                                                   "purpose": "复核", "role": "officer"})
    with caplog.at_level(logging.ERROR, logger="liuhen.catalogue"):
        world.station.ledger.catalogue.catch_up()
    folded = {a.index for a in world.station.ledger.catalogue.accesses(sha256=sha)}
    assert good in folded
    postgres = world.station.ledger.store.engine.dialect.name == "postgresql"
    assert (bad in folded) is not postgres  # SQLite stores a NUL, PostgreSQL refuses it
    if postgres:
        assert f"ledger entry {bad} skipped" in caplog.text
    reads_work_basic = world.client.get("/api/cases", headers=world.auth(Role.ADMIN))
    assert reads_work_basic.status_code == 200


@pytest.mark.postgres
def test_year_9999_reads_back_from_a_server_in_china_standard_time(pg_url: str) -> None:
    """A bureau's PostgreSQL often runs in Asia/Shanghai, where 9999-12-31T23:59Z is year
    10000: psycopg cannot read it back. The ledger's sessions run in UTC whatever the server's
    zone."""
    database = make_url(pg_url).database
    assert database is not None
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} SET timezone TO 'Asia/Shanghai'").format(
            sql.Identifier(database)))
    engine = create_ledger_engine(pg_url)
    try:
        with engine.connect() as conn:
            got = conn.exec_driver_sql(
                "SELECT '9999-12-31T23:59:59.999999Z'::timestamptz").scalar_one()
        assert got == datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    finally:
        engine.dispose()
