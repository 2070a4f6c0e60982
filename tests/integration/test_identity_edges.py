"""Identities that mean what they show (issue 11 §5), at every entry point: a case number has
no look-alike twin and its links work whatever it holds; a 警号 has one spelling for tokens,
`liuhen ingest`, the station's recorder assignments, the API and search, in the bureau's
pattern (``LIUHEN_OFFICER_NO_PATTERN``)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.compose import Station
from api.http.auth import Role
from devices.massstorage import MassStorageDriver
from devices.sim.cards import Media
from devices.zfy import ZfyInfo
from evidence.bodies import CaseOpenedBody
from evidence.identity import InvalidInputError
from evidence.ids import DeviceSerial, OfficerNo
from evidence.records import Assignment
from ingest.station import Dock
from tests.integration.test_api_support import BACKENDS, World, world_fixture
from tests.integration.test_station import Quiet, dock, fleet, ledger_kinds

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

FULL_WIDTH = "０００１２３"
ZERO_WIDTH = "000\u200b123"


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          media: Media) -> Iterator[World]:
    yield from world_fixture(request, tmp_path_factory, media)


# --- case numbers -------------------------------------------------------------------------------

@pytest.mark.parametrize(("existing", "twin"), [
    ("TW-abc", "tw-ABC"), ("TW-1", "ＴＷ－１"), ("京公（治）TW2号", "京公(治)tw2号"),
    ("TW-ß", "tw-SS"),
])
def test_a_look_alike_of_an_open_case_is_refused(world: World, existing: str,
                                                 twin: str) -> None:
    auth = world.auth(Role.OFFICER)
    r = world.client.post("/api/cases", headers=auth, json={"case_id": existing, "title": "案"})
    assert r.status_code == 201, r.text
    before = world.station.ledger.store.size()
    r = world.client.post("/api/cases", headers=auth, json={"case_id": twin, "title": "案"})
    assert r.status_code == 409, r.text
    assert existing in r.json()["detail"] and "易混淆" in r.json()["detail"]
    assert world.station.ledger.store.size() == before


def test_links_to_cases_are_percent_encoded(world: World) -> None:
    """Case numbers written before the rules (or by another version) may hold ``#``, ``?``,
    ``%`` or spaces: their links still lead to them."""
    # (not "%2F": the test client decodes a path twice, which a real server does not)
    odd = ["旧案#1", "旧案?a=1", "旧 案&1", "旧案%", "旧案%zz"]
    for case_id in odd:
        world.station.ledger.writer.append(CaseOpenedBody(
            title=f"标题{case_id}", unit_no="", major=False), subject=case_id, actor="000123")
    auth = world.auth(Role.OFFICER)
    page = world.client.get("/ui/cases", headers=auth)
    assert page.status_code == 200
    for case_id in odd:
        match = re.search(r'<a href="([^"]+)">' + re.escape(case_id.replace("&", "&amp;"))
                          + "</a>", page.text)
        assert match is not None, case_id
        href = match.group(1).replace("&amp;", "&")
        assert re.fullmatch(r"http://testserver/ui/cases/[A-Za-z0-9%._~-]+", href), href
        shown = world.client.get(href, headers=auth)
        assert shown.status_code == 200, (case_id, href)
        assert f"标题{case_id}".replace("&", "&amp;") in shown.text


# --- 警号: API and search in the bureau's pattern ----------------------------------------------

def test_the_bureaus_pattern_applies_to_steps_and_search(world: World) -> None:
    pattern = r"[A-Z][0-9]{5}"
    cases = dataclasses.replace(world.casework.cases, officer_pattern=pattern)
    access = dataclasses.replace(world.casework.access, officer_pattern=pattern)
    cases.open_case("PAT-1", title="案", unit_no="", major=False, actor="admin-1")
    assert cases.record_step("PAT-1", code="chafeng", officer="A12345", actor="admin-1").officer \
        == "A12345"
    for other in ("000123", "Ａ12345", "A1234\u200b5", "a12345"):
        with pytest.raises(InvalidInputError, match="警号"):
            cases.record_step("PAT-1", code="chafeng", officer=other, actor="admin-1")
    with pytest.raises(InvalidInputError, match="警号"):
        access.log(officer="000123")


@pytest.mark.parametrize("officer", [FULL_WIDTH, ZERO_WIDTH, "٠٠٠١٢٣", "\u202e000123"])
def test_search_and_access_logs_take_one_spelling(world: World, officer: str) -> None:
    clip = world.clips[0]
    auth = world.auth(Role.ADMIN)
    ok = world.client.get("/api/clips", params={"officer": clip.officer}, headers=auth)
    assert ok.status_code == 200 and ok.json()
    for url, params in (("/api/clips", {"officer": officer}),
                        (f"/api/officers/{officer}/accesses", {}),
                        ("/ui/clips", {"officer": officer}),
                        ("/ui/access-log", {"officer": officer})):
        r = world.client.get(url, params=params, headers=auth)
        assert r.status_code == 422 and "警号" in r.text, (url, r.text[:300])


# --- 警号: tokens and `liuhen ingest` -------------------------------------------------------------

def liuhen(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


@pytest.mark.parametrize(("role", "name"), [
    ("officer", FULL_WIDTH), ("officer", ZERO_WIDTH), ("officer", "\ufeff000123"),
    ("officer", "٠٠٠١٢٣"), ("officer", "12345"), ("auditor", "fz-001\u200b"),
    ("auditor", "ｆｚ-001"), ("station", "\u202estation-1"), ("admin", "admin 1"),
])
def test_tokens_are_refused_for_a_second_spelling(tmp_path: Path, role: str, name: str) -> None:
    assert liuhen("init", "--data-dir", str(tmp_path))[0] == 0
    code, output = liuhen("tokens", "create", "--role", role, "--name", name,
                          "--data-dir", str(tmp_path))
    assert code == 3, output
    assert re.search(r"[\u3400-\u9fff]", output)
    code, output = liuhen("tokens", "list", "--data-dir", str(tmp_path))
    assert code == 0 and output.strip() == ""


def test_tokens_follow_the_bureaus_pattern(tmp_path: Path) -> None:
    assert liuhen("init", "--data-dir", str(tmp_path))[0] == 0
    code, output = liuhen("tokens", "create", "--role", "officer", "--name", " 000123 ",
                          "--data-dir", str(tmp_path))
    assert code == 0, output
    env = {"LIUHEN_OFFICER_NO_PATTERN": "[A-Z][0-9]{5}"}
    code, output = liuhen("tokens", "create", "--role", "officer", "--name", "000124",
                          "--data-dir", str(tmp_path), env=env)
    assert code == 3 and "[A-Z][0-9]{5}" in output
    code, output = liuhen("tokens", "create", "--role", "officer", "--name", "B12345",
                          "--data-dir", str(tmp_path), env=env)
    assert code == 0, output
    code, output = liuhen("tokens", "list", "--data-dir", str(tmp_path))
    assert [line.split("\t")[2] for line in output.splitlines()] == ["000123", "B12345"]


@pytest.mark.parametrize("officer", [FULL_WIDTH, ZERO_WIDTH, "\u2060000123"])
def test_ingest_refuses_a_second_spelling_and_reads_nothing(tmp_path: Path,
                                                            officer: str) -> None:
    card = tmp_path / "card"
    card.mkdir()
    (card / "a.MP4").write_bytes(b"clip")
    data = tmp_path / "data"
    assert liuhen("init", "--data-dir", str(data))[0] == 0
    code, output = liuhen("ingest", str(card), "--serial", "SD0001", "--officer", officer,
                          "--data-dir", str(data))
    assert code == 3, output
    assert "警号" in output
    # refused before the card was read: nothing staged, stored or ledgered
    assert not [p for p in data.rglob("*") if p.is_file() and "a.MP4" in p.name]
    code, output = liuhen("audit", "--data-dir", str(data))
    assert code == 0 and "audit OK: 0 entries" in output, output


# --- 警号: the station's recorder assignments ----------------------------------------------------

def test_a_recorder_assigned_to_another_spelling_is_refused_and_keeps_its_files(
        station: Station, tmp_path: Path, media: Media) -> None:
    (recorder,) = fleet(tmp_path, media, ("directory",))
    zfy = recorder.zfy
    recorder.zfy = ZfyInfo(serial=zfy.serial, officer=dataclasses.replace(
        zfy.officer, officer_no=OfficerNo("01020")))
    with pytest.raises(InvalidInputError, match="警号"):
        dock(station, recorder)
    assert ledger_kinds(station) == []  # nothing registered, acquired or released
    card = tmp_path / "card"
    card.mkdir()
    (card / "a.MP4").write_bytes(b"x")
    driver = MassStorageDriver.from_directory(card, serial=DeviceSerial("SD7"))
    who = Assignment(serial="SD7", id_code="", officer_no=ZERO_WIDTH, officer_name="",
                     unit_no="", unit_name="")
    with pytest.raises(InvalidInputError, match="SD7"):
        Dock(driver, ctx=station.context(Quiet()), password=None, assignment=who).run()
    assert ledger_kinds(station) == [] and station.repo.assignment("SD7") is None
    # registered before the rule existed: refused all the same, until it is re-assigned
    station.repo.assign(dataclasses.replace(who, officer_no=FULL_WIDTH))
    with pytest.raises(InvalidInputError, match="SD7"):
        Dock(driver, ctx=station.context(Quiet()), password=None).run()
    assert ledger_kinds(station) == []
