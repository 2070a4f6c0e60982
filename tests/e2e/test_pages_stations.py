"""The 采集站 dashboard end to end (issue 16 item 1): an auditor watches /ui/stations while
``liuhen station --simulate 1 --once`` docks a simulated recorder into the same database; the
board fills in through server-sent events, without a reload: the station reporting, the dock
(in progress when the page catches it) and then done. Checked at 1440 and 390 px with axe-core."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

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
