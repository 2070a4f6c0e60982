"""The 采集站 dashboard end to end (issue 16 item 1): an auditor watches /ui/stations while
``liuhen station --simulate 1 --once`` docks a simulated recorder into the same database; the
board fills in through server-sent events, without a reload: the station reporting, the dock
(in progress when the page catches it) and then done. A second test drives the board writer a
station uses (storage/station_board.py) step by step, so that a recorder's progress is always
seen to appear, advance and complete in place. Checked at 1440 and 390 px with axe-core."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine

from api.settings import Settings
from evidence.records import DockReport
from storage.station_board import SqlStationBoard
from tests.e2e.axe import check_page
from tests.e2e.browser import Browser
from tests.e2e.conftest import Site, _env, _liuhen
from tests.e2e.test_pages import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::UserWarning")]

OpenBrowser = Callable[[Site], Browser]


def test_the_board_updates_live_while_a_station_docks(sqlite_site: Site,
                                                      open_browser: OpenBrowser) -> None:
    site = sqlite_site
    browser = open_browser(site)
    sign_in(browser, site.tokens["auditor"])
    browser.submit("header a[href$='/ui/stations']")
    assert "尚无采集站上报" in browser.text("#board")
    browser.wait_for("return document.getElementById('board').dataset.updated")  # streaming
    browser.js("window.__sameDocument = true;")
    browser.screenshot("01-board-empty")

    station = subprocess.Popen(
        [*_liuhen(), "station", "--simulate", "1", "--once", "--data-dir", str(site.data_dir)],
        env=_env(None), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        browser.wait_for("return document.querySelector('#stations tr.station')",
                         timeout_s=60)
        caught = browser.wait_for(
            "return document.querySelector('#docking tr.dock') ? 'docking' :"
            " document.querySelector('#recent tr.dock-done') ? 'done' : null", timeout_s=60)
        if caught == "docking":
            browser.screenshot("02-board-docking")
        browser.wait_for("return document.querySelector('#recent tr.dock-done')", timeout_s=120)
        out, _ = station.communicate(timeout=120)
    finally:
        if station.poll() is None:
            station.kill()
            station.wait()
    assert station.returncode == 0, out.decode(errors="replace")
    assert browser.js("return window.__sameDocument === true")  # updated in place, no reload
    station_row = browser.text("#stations tr.station")
    assert "在线" in station_row and "GB" in station_row
    done = browser.text("#recent tr.dock-done")
    assert "完成" in done
    check_page(browser, "03-board-done")


def test_a_recorders_progress_appears_advances_and_completes_in_place(
        sqlite_site: Site, open_browser: OpenBrowser) -> None:
    site = sqlite_site
    engine = create_engine(Settings(data_dir=site.data_dir).db_url())
    board = SqlStationBoard(engine)
    browser = open_browser(site)
    sign_in(browser, site.tokens["auditor"])
    browser.open("/ui/stations")
    browser.wait_for("return document.getElementById('board').dataset.updated")  # streaming
    browser.js("window.__sameDocument = true;")
    serial = "LH00777"
    started = datetime.now(UTC)
    mb = 1024 * 1024

    def report(files_done: int, state: str, at: datetime) -> None:
        board.heartbeat("e2e-board", at=at, free_bytes=400 * 1024 * mb,
                        total_bytes=500 * 1024 * mb, docking=0 if state != "copying" else 1)
        board.dock(DockReport(station="e2e-board", serial=serial, started_at=started,
                              updated_at=at, files=10, files_done=files_done,
                              bytes_total=1000 * mb, bytes_done=files_done * 100 * mb,
                              state=state, summary="10 个文件已入库" if state == "done" else ""))

    try:
        report(3, "copying", started + timedelta(seconds=3))
        row = f"#docking tr.dock[data-serial='{serial}']"
        browser.wait_for(f"return document.querySelector(\"{row}\")", timeout_s=30)
        assert "3 / 10" in browser.text(row) and "30%" in browser.text(row)
        check_page(browser, "01-board-progress")
        report(7, "copying", started + timedelta(seconds=7))
        browser.wait_for(f"return (document.querySelector(\"{row}\") || {{}}).textContent"
                         f"?.includes('7 / 10')", timeout_s=30)
        assert "70%" in browser.text(row)
        report(10, "done", started + timedelta(seconds=10))
        done = f"#recent tr.dock-done[data-serial='{serial}']"
        browser.wait_for(f"return document.querySelector(\"{done}\")"
                         f" && !document.querySelector(\"{row}\")", timeout_s=30)
    finally:
        engine.dispose()
    assert "完成" in browser.text(done) and "10 / 10" in browser.text(done)
    assert browser.js("return window.__sameDocument === true")  # updated in place, no reload
    check_page(browser, "02-board-done")
