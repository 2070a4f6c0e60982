"""Case work in the pages end to end (issue 16 item 4): an officer opens a case, records a
查封扣押 step with the 执法环节 picker, attaches the clip the page suggests (their recording
inside the step's window, first), sees the case complete with the clip as a bar inside the
step's band on the timeline, then corrects the window so the clip falls outside it: the
timeline marks it and the report says the step is no longer covered. Pages checked at 1440 and
390 px with axe-core; screenshots under tests/e2e/artifacts/<test>/."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta, timezone
from urllib.parse import quote, unquote

import pytest

from tests.e2e.axe import check_page
from tests.e2e.browser import Browser
from tests.e2e.conftest import Site
from tests.e2e.test_pages import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::UserWarning")]

OpenBrowser = Callable[[Site], Browser]
NEW_CASE = "京朝公(治)行罚决字〔2026〕201号"
LOCAL = timezone(timedelta(hours=8))


def _set(browser: Browser, css: str, value: str) -> None:
    browser.js("document.querySelector(arguments[0]).value = arguments[1];", css, value)


def test_open_a_case_record_a_step_attach_a_suggestion_see_the_timeline(
        sqlite_site: Site, open_browser: OpenBrowser) -> None:
    site = sqlite_site
    clip = site.clip
    name = clip.name_on_device.rsplit("/", 1)[-1]
    browser = open_browser(site)
    sign_in(browser, site.tokens["officer"])

    browser.open("/ui/cases")
    browser.submit("#new-case")
    check_page(browser, "01-new-case-form")
    browser.fill("#case_id", NEW_CASE)
    browser.fill("#title", "无证经营查封（页面立案）")
    browser.find("#major").click()
    browser.submit("#case-submit")
    assert unquote(browser.path) == f"/ui/cases/{NEW_CASE}?done=opened"
    assert "已立案" in browser.text("[role=status]")
    assert "尚无环节" in browser.text()

    # the 执法环节 picker: Chinese names grouped by recording rule
    groups = [g.get_attribute("label") for g in browser.all("#code optgroup")]
    assert groups == ["必须录像", "应当录像", "可选"]
    browser.choose("#code", value="chafeng")
    start = clip.captured_at.astimezone(LOCAL).replace(microsecond=0)
    end = (clip.captured_at + timedelta(milliseconds=clip.duration_ms or 1000)
           ).astimezone(LOCAL).replace(microsecond=0) + timedelta(seconds=1)
    _set(browser, "#started_at", f"{start:%Y-%m-%dT%H:%M:%S}")
    _set(browser, "#ended_at", f"{end:%Y-%m-%dT%H:%M:%S}")
    browser.submit("#step-submit")
    assert "已记录执法环节" in browser.text("[role=status]")
    assert "不完整 incomplete" in browser.text("#complete-status")

    # suggestions: the officer's recordings around the window, the one inside it first
    items = browser.all("#work-s1 ul.suggestions li")
    assert items and name in items[0].text and "窗口内" in items[0].text, \
        [i.text for i in items]
    check_page(browser, "02-step-recorded-suggestions")
    browser.submit("#work-s1 ul.suggestions li:first-child button")
    assert "已关联" in browser.text("[role=status]")
    assert name in browser.text("#step-s1")
    assert browser.text("#complete-status") == "完整 complete"
    bars = browser.all("svg.timeline rect.bar")
    assert len(bars) == 1 and "outside" not in str(bars[0].get_attribute("class"))
    assert len(browser.all("svg.timeline rect.band")) == 1
    assert not browser.all("#outside-window")
    check_page(browser, "03-case-complete-timeline")

    # correct the window to start after the clip began: the clip is now outside it
    browser.find("#work-s1 summary").click()
    later = start + timedelta(seconds=2)
    _set(browser, "#start-s1", f"{later:%Y-%m-%dT%H:%M:%S}")
    _set(browser, "#end-s1", f"{later + timedelta(minutes=5):%Y-%m-%dT%H:%M:%S}")
    browser.submit("#work-s1 .correct-submit")
    assert "已更正" in browser.text("[role=status]")
    assert "corrected" in browser.text("#corrections")
    assert name in browser.text("#outside-window")
    assert "outside" in str(browser.find("svg.timeline rect.bar").get_attribute("class"))
    assert "不完整 incomplete" in browser.text("#complete-status")
    assert browser.all("svg.timeline rect.gap-band")
    check_page(browser, "04-corrected-outside-window")

    # the auditor reads the same case and timeline but gets no forms to change it
    auditor = open_browser(site)
    sign_in(auditor, site.tokens["auditor"])
    auditor.open(f"/ui/cases/{quote(NEW_CASE, safe='')}")
    assert auditor.all("svg.timeline rect.bar")
    assert not auditor.all("#step-form") and not auditor.all("ul.suggestions")
    auditor.open("/ui/new-case")
    assert auditor.text("h1") == "无权访问 Forbidden", auditor.text()
    assert "法制" in auditor.text()
