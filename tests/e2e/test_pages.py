"""The web pages end to end in headless Chromium (Debian's chromium + chromium-driver).

The story DESIGN.md §1 gives the pages: a case officer finds an officer's clips by 警号, states a
purpose and plays the playback copy, attaches the clip to a case step and sees the case's
recording completeness change; an auditor verifies the clip by hash and by upload and reads the
access log, which shows the officer's view and its purpose. Officers are refused the auditor
pages. Screenshots of each step are kept under tests/e2e/artifacts/ (LIUHEN_E2E_ARTIFACTS).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import timedelta, timezone
from urllib.parse import quote

import httpx
import pytest

from tests.e2e.browser import Browser
from tests.e2e.conftest import CASE_ID, E2E_PASSWORD, OFFICER_NO, STEP_ID, Site

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::UserWarning")]

OpenBrowser = Callable[[Site], Browser]
PURPOSE = "查封扣押现场复核 review of the seizure scene"
DOWNLOAD_PURPOSE = "移送检察院 evidence for the procuratorate"


def sign_in(browser: Browser, officer_no: str) -> None:
    browser.open("/ui/")
    assert browser.path.startswith("/ui/signin"), browser.path  # not signed in: sign-in page
    browser.fill("#officer_no", officer_no)
    browser.fill("#password", E2E_PASSWORD)
    browser.submit("form.card button[type=submit]")
    assert browser.path == "/ui/", browser.path


def session_cookies(browser: Browser) -> dict[str, dict[str, object]]:
    return {str(c["name"]): c for c in browser.cookies()}


def officer_plays_and_attaches(site: Site, browser: Browser) -> None:
    sign_in(browser, site.tokens["officer"])
    browser.screenshot("01-officer-home")
    cookies = session_cookies(browser)
    token_cookie = cookies["liuhen_token"]
    assert token_cookie["httpOnly"] is True and token_cookie["sameSite"] == "Strict"
    assert str(token_cookie["value"]) not in browser.driver.current_url
    assert str(token_cookie["value"]) not in browser.driver.page_source
    assert E2E_PASSWORD not in browser.driver.page_source
    assert browser.js("return document.cookie") == ""  # HttpOnly: no script can read it

    # find clips by 警号
    browser.submit("a[href$='/ui/clips']")
    browser.fill("#officer", OFFICER_NO)
    browser.submit("form[role=search] button[type=submit]")
    assert f"officer={OFFICER_NO}" in browser.path
    rows = browser.all("tbody tr")
    assert len(rows) >= 5 and all(OFFICER_NO in r.text for r in rows)
    browser.screenshot("02-officer-search")
    name = site.clip.name_on_device.rsplit("/", 1)[-1]
    assert any(name in r.text for r in rows)
    browser.submit(f"a[href$='/ui/clips/{site.clip.sha256}']")
    assert browser.path == f"/ui/clips/{site.clip.sha256}"
    assert site.clip.sha256 in browser.text("#clip-sha256")

    # no purpose, no playback: no player on the page, and the media route refuses
    assert not browser.all("video")
    browser.open(f"/ui/clips/{site.clip.sha256}/media/playback?access=0")
    assert "无权访问" in browser.text() and "purpose" in browser.text()
    browser.open(f"/ui/clips/{site.clip.sha256}")

    # state a purpose: the view is recorded, then the playback copy plays
    browser.fill("#purpose", PURPOSE)
    browser.choose("#variant", value="playback")
    browser.choose("#action", value="play")
    browser.submit("#access-submit")
    assert "access=" in browser.path
    assert PURPOSE in browser.text()
    player = browser.find("video#player")
    assert "/media/playback?access=" in str(player.get_attribute("src"))
    browser.js("const v = document.getElementById('player'); v.muted = true; v.play();")
    state = browser.wait_for(
        "const v = document.getElementById('player');"
        "return v.readyState >= 2 && (v.currentTime > 0 || v.ended) && !v.error"
        " && [v.readyState, v.currentTime, v.duration, v.videoWidth];")
    assert isinstance(state, list)
    ready, _, duration, width = state
    assert ready >= 2 and duration > 0.5 and width == 160, state
    browser.screenshot("03-officer-playing")

    # a download of the original: its own purpose, and the bytes are the clip's, exactly
    browser.fill("#purpose", DOWNLOAD_PURPOSE)
    browser.choose("#variant", value="original")
    browser.choose("#action", value="download")
    browser.submit("#access-submit")
    link = str(browser.find("a#download").get_attribute("href"))
    jar = {str(c["name"]): str(c["value"]) for c in browser.cookies()}
    got = httpx.get(link, cookies=jar, timeout=10)
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    assert hashlib.sha256(got.content).hexdigest() == site.clip.sha256

    # attach the clip to the case step; the case page shows it and the report is complete
    browser.open(f"/ui/cases/{quote(CASE_ID)}")
    assert "不完整 incomplete" in browser.text("#complete-status")
    assert STEP_ID in browser.text(".missing-required")
    browser.screenshot("04-case-before")
    browser.open(f"/ui/clips/{site.clip.sha256}")
    browser.choose("#target", value=f"{CASE_ID}|{STEP_ID}")
    browser.submit("#attach-submit")
    assert "已关联" in browser.text()
    assert CASE_ID in browser.text("section[aria-labelledby=links-h]")
    browser.submit("section[aria-labelledby=links-h] a")
    assert CASE_ID in browser.text("h1")
    assert name in browser.text(f"#step-{STEP_ID}")
    assert "完整 complete" in browser.text("#complete-status")
    assert not browser.all(".missing-required")
    browser.screenshot("05-case-after-attach")

    # the other search filters: device and time range (UTC+8, as the form sends them), case step
    local = site.clip.captured_at.astimezone(timezone(timedelta(hours=8)))
    window = (f"start={local:%Y-%m-%dT%H:%M}"
              f"&end={local + timedelta(minutes=1):%Y-%m-%dT%H:%M}")
    for query in (f"device=LH00001&{window}",
                  f"case={quote(CASE_ID)}&step={STEP_ID}"):
        browser.open(f"/ui/clips?{query}")
        found = [r.text for r in browser.all("tbody tr")]
        assert len(found) == 1 and name in found[0], (query, found)
    browser.open(f"/ui/clips?device=LH99999&{window}")
    assert not browser.all("tbody tr")


def auditor_verifies_and_reads_the_log(site: Site, browser: Browser) -> None:
    sign_in(browser, site.tokens["auditor"])
    # verify by hash; the checkpoint publisher covers the officer's entries within a second
    deadline = time.monotonic() + 15
    while True:
        browser.open("/ui/verify")
        browser.fill("#sha256", site.clip.sha256)
        browser.submit("#verify-hash")
        verdict = browser.text("#verdict")
        if verdict == "已核验 verified" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert verdict == "已核验 verified", browser.text("#result")
    entries = browser.text("#entries")
    for kind in ("acquired", "stored", "derived", "linked"):
        assert kind in entries
    assert "accessed" not in entries  # who viewed it is the access log's business
    assert all("已验证 verified" in cell.text for cell in browser.all("#entries td.inclusion"))
    assert browser.text("#checkpoint").startswith("liuhen.local/ledger/v1\n")
    browser.screenshot("06-auditor-verified-by-hash")

    # verify by upload: the file from the recorder's card
    browser.open("/ui/verify")
    browser.find("#file").send_keys(str(site.clip_file))
    browser.submit("#verify-upload")
    assert browser.text("#verdict") == "已核验 verified"
    assert site.clip.sha256 in browser.text("#result")
    browser.screenshot("07-auditor-verified-by-upload")

    # the access log, per clip, per officer and per case, shows the officer's view and why
    for field, value in (("clip", site.clip.sha256), ("officer", OFFICER_NO),
                         ("actor", OFFICER_NO), ("case", CASE_ID)):
        browser.open("/ui/access-log")
        browser.fill(f"#{field}", value)
        browser.submit("form[role=search] button[type=submit]")
        rows = [r.text for r in browser.all("#access-log tbody tr")]
        views = [r for r in rows if OFFICER_NO in r and PURPOSE in r
                 and "播放 play · 播放副本 playback copy" in r]
        assert len(views) == 1, (field, rows)  # ranged reads coalesced into the one view
        # (the player's reads of the whole copy, `bytes=0-`, are recorded as downloads)
        if field == "clip":
            browser.screenshot("08-auditor-access-log")


@pytest.mark.slow
def test_officer_plays_and_attaches_then_auditor_verifies_and_supervises(
        site: Site, open_browser: OpenBrowser) -> None:
    officer_plays_and_attaches(site, open_browser(site))
    auditor_verifies_and_reads_the_log(site, open_browser(site))


def test_officer_is_refused_the_auditor_pages_and_forged_forms(
        sqlite_site: Site, open_browser: OpenBrowser) -> None:
    site = sqlite_site
    browser = open_browser(site)
    sign_in(browser, site.tokens["officer"])
    assert "核验" not in browser.text("header")  # the auditor pages are not even linked
    for path in ("/ui/verify", f"/ui/verify?sha256={site.clip.sha256}",
                 f"/ui/access-log?clip={site.clip.sha256}"):
        browser.open(path)
        assert browser.text("h1") == "无权访问 Forbidden", path
        assert "role officer may not" in browser.text()
    browser.screenshot("01-officer-refused")

    # a form posted without this session's form token is refused (CSRF), even with the cookie
    cookies = {str(c["name"]): str(c["value"]) for c in browser.cookies()}
    with httpx.Client(base_url=site.base_url, cookies=cookies) as client:
        forged = client.post(f"/ui/clips/{site.clip.sha256}/access",
                             data={"csrf": "0" * 64, "purpose": "核查", "variant": "playback"})
        assert forged.status_code == 403
        other_site = client.post(f"/ui/clips/{site.clip.sha256}/detach",
                                 headers={"Origin": "https://evil.example"},
                                 data={"csrf": "0", "case": CASE_ID, "step": STEP_ID})
        assert other_site.status_code == 403

    # signing out ends the session: the pages send the browser back to the sign-in form
    browser.submit("header form button[type=submit]")
    assert browser.path.startswith("/ui/signin")
    assert "liuhen_token" not in session_cookies(browser)
    browser.open("/ui/clips")
    assert browser.path.startswith("/ui/signin")


def test_wrong_password_is_refused_and_never_echoed(
        sqlite_site: Site, open_browser: OpenBrowser) -> None:
    browser = open_browser(sqlite_site)
    browser.open("/ui/signin")
    wrong = "wrong-" + "x" * 20
    browser.fill("#officer_no", OFFICER_NO)
    browser.fill("#password", wrong)
    browser.submit("form.card button[type=submit]")
    assert "警号或密码错误" in browser.text()
    assert wrong not in browser.driver.page_source
    assert "liuhen_token" not in session_cookies(browser)
