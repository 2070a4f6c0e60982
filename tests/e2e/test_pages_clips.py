"""The clip pages end to end in Chromium (issue 16 item 3, 6, 7): an officer pages through all
of 280 clips (keyset pages, a total, no silent cap) in each sort order; thumbnails in the list
and the keyframe strip on a clip; a photo opens as a picture and a recording as an audio player;
a quarantined clip says why in Chinese and offers no player (and a forged "play" records
nothing); downloads keep the recorder's file name; unknown pages answer an HTML page with a way
back. Every page is checked at 1440 and 390 px (no horizontal overflow) and with axe-core.
Screenshots: tests/e2e/artifacts/<test>/."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import cast
from urllib.parse import quote

import httpx
import pytest

from api.compose import open_ledger, open_services
from api.settings import Settings
from devices.sim.cards import Media
from evidence.bodies import AcquiredBody
from evidence.ids import StationId
from evidence.records import Clip, ClipQuery, Entry, EntryKind
from integrity.entry import encode_entry
from tests.e2e.axe import check_page
from tests.e2e.browser import Browser
from tests.e2e.conftest import CASE_ID, OFFICER_NO, UNIT, Site, _site
from tests.e2e.test_pages import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::UserWarning")]

OpenBrowser = Callable[[Site], Browser]
MANY = 280
AT = datetime(2026, 11, 20, 1, tzinfo=UTC)
PURPOSE = "核对现场照片 check the scene"


def _many_clips(settings: Settings) -> None:
    """MANY more clips of the officer (acquired, not stored), on two recorders, appended to
    the ledger in one batch the way a station's group commit does."""
    ledger = open_ledger(settings)
    try:
        datas = []
        for i in range(MANY):
            body = AcquiredBody(device=f"LH0090{i % 2}", name_on_device=f"DCIM/{i:04d}.MP4",
                                size=1, officer=OFFICER_NO, unit_no=UNIT, clock_offset_ms=0,
                                device_mtime=AT, capture_time=AT + timedelta(minutes=i))
            sha = secrets.token_hex(32)
            datas.append((encode_entry(Entry(kind=EntryKind.ACQUIRED, subject=sha,
                                             body=body.to_body(), station=StationId("e2e"),
                                             actor=OFFICER_NO, at=AT)), "acquired", sha))
        ledger.store.append_batch(datas, signers=ledger.stations)
        ledger.catalogue.catch_up()
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def many_site(tmp_path_factory: pytest.TempPathFactory, media: Media) -> Iterator[Site]:
    yield from _site(tmp_path_factory.mktemp("site-many"), media, None, extra=_many_clips)


def _all_clips(site: Site) -> list[Clip]:
    cw = open_services(Settings(data_dir=site.data_dir))
    try:
        return cw.cases.clips(ClipQuery(officer=OFFICER_NO, limit=10_000))
    finally:
        cw.close()


def _accesses(site: Site, sha: str) -> int:
    cw = open_services(Settings(data_dir=site.data_dir))
    try:
        return len(cw.ledger.catalogue.accesses(sha256=sha))
    finally:
        cw.close()


def _shas(browser: Browser) -> list[str]:
    found = []
    for a in browser.all("table.clips tbody tr td:nth-child(2) a"):
        m = re.search(r"/ui/clips/([0-9a-f]{64})$", str(a.get_attribute("href")))
        assert m, a.get_attribute("href")
        found.append(m.group(1))
    return found


def _by_name(clips: list[Clip], suffix: str) -> Clip:
    return next(c for c in clips if c.name_on_device.upper().endswith(suffix))


@pytest.mark.slow
def test_paging_through_every_clip_in_each_order(many_site: Site,
                                                 open_browser: OpenBrowser) -> None:
    site = many_site
    everything = _all_clips(site)
    assert len(everything) > MANY + 5  # the docked recorder's and the many
    browser = open_browser(site)
    sign_in(browser, site.tokens["officer"])
    for order in ("captured", "officer", "device"):
        browser.open(f"/ui/clips?officer={OFFICER_NO}&order={order}")
        assert int(browser.text("#total")) == len(everything)
        if order == "captured":
            check_page(browser, "01-clips-first-page")
        pages = [_shas(browser)]
        while browser.all("#page-next"):
            browser.submit("#page-next")
            pages.append(_shas(browser))
        seen = [s for p in pages for s in p]
        assert len(seen) == len(set(seen)) == len(everything), order  # each once, none lost
        assert set(seen) == {c.sha256 for c in everything}
        assert [len(p) for p in pages[:-1]] == [50] * (len(pages) - 1)
        if order == "captured":
            check_page(browser, "02-clips-last-page")
            newest = sorted(everything, key=lambda c: c.captured_at, reverse=True)
            assert [c.captured_at for c in newest] == \
                [next(c.captured_at for c in everything if c.sha256 == s) for s in seen]
        # and back: each previous page is the page before it
        for wanted in reversed(pages[:-1]):
            browser.submit("#page-prev")
            assert _shas(browser) == wanted
        assert not browser.all("#page-prev") and not browser.all("#page-first")
    # the unit filter and a date preset keep the count honest
    browser.open(f"/ui/clips?unit={UNIT}")
    assert int(browser.text("#total")) == len(everything)
    # the list shows the media stage's thumbnails (the docked recorder's clips)
    browser.open("/ui/clips?device=LH00001")
    thumbs = browser.all("td.thumb img")
    assert thumbs
    loaded = browser.wait_for("return [...document.querySelectorAll('td.thumb img')]"
                              ".every(i => i.complete && i.naturalWidth > 0)")
    assert loaded
    check_page(browser, "03-clips-thumbnails")


def test_photo_audio_strip_and_download_names(many_site: Site,
                                              open_browser: OpenBrowser) -> None:
    site = many_site
    clips = _all_clips(site)
    browser = open_browser(site)
    sign_in(browser, site.tokens["officer"])

    video = _by_name(clips, "_010203.MP4")
    browser.open(f"/ui/clips/{video.sha256}")
    assert browser.wait_for("const i = document.getElementById('strip');"
                            "return i && i.complete && i.naturalWidth > 0")
    check_page(browser, "01-video-clip")
    # the player: speed, frame steps, the capture time of the frame shown (UTC+8)
    browser.fill("#purpose", PURPOSE)
    browser.submit("#access-submit")
    browser.wait_for("return document.getElementById('player').readyState >= 1")
    assert browser.find("#player-controls").is_displayed()
    browser.choose("#player-speed", value="2")
    assert browser.js("return document.getElementById('player').playbackRate") == 2
    browser.find("#frame-next").click()
    browser.find("#frame-next").click()
    at = browser.wait_for("const p = document.getElementById('player');"
                          "return p.paused && p.currentTime > 0.07 && p.currentTime")
    assert abs(cast(float, at) - 0.08) < 0.001
    local = video.captured_at.astimezone(timezone(timedelta(hours=8)))
    assert browser.text("#player-time").startswith(f"{local:%Y-%m-%d %H:%M:}")
    browser.screenshot("01b-player-controls")

    photo = next(c for c in clips if c.media_action == "keep")
    browser.open(f"/ui/clips/{photo.sha256}")
    assert "照片" in browser.text("#clip-kind")
    browser.fill("#purpose", PURPOSE)
    browser.submit("#access-submit")
    assert not browser.all("video")
    assert browser.wait_for("const i = document.getElementById('photo');"
                            "return i && i.complete && i.naturalWidth")
    check_page(browser, "02-photo")

    audio = next(c for c in clips if c.media_action == "audio")
    browser.open(f"/ui/clips/{audio.sha256}")
    assert "录音" in browser.text("#clip-kind")
    browser.fill("#purpose", PURPOSE)
    browser.submit("#access-submit")
    assert not browser.all("video")
    state = browser.wait_for("const a = document.querySelector('audio#player');"
                             "return a && a.readyState >= 1 && !a.error && a.duration")
    assert cast(float, state) > 0.5
    check_page(browser, "03-audio")

    # a download carries the recorder's file name and extension (and an ASCII fallback)
    browser.open(f"/ui/clips/{video.sha256}")
    for variant, name in (("original", video.name_on_device.rsplit("/", 1)[-1]),
                          ("playback", video.name_on_device.rsplit("/", 1)[-1]
                           .rsplit(".", 1)[0] + ".playback.mp4")):
        browser.open(f"/ui/clips/{video.sha256}")
        browser.fill("#purpose", PURPOSE)
        browser.choose("#variant", value=variant)
        browser.choose("#action", value="download")
        browser.submit("#access-submit")
        link = str(browser.find("a#download").get_attribute("href"))
        jar = {str(c["name"]): str(c["value"]) for c in browser.cookies()}
        header = httpx.get(link, cookies=jar, timeout=10).headers["content-disposition"]
        assert header == (f'attachment; filename="{name}"; '
                          f"filename*=UTF-8''{quote(name)}"), header


def test_quarantined_clip_says_why_and_offers_no_player(many_site: Site,
                                                        open_browser: OpenBrowser) -> None:
    site = many_site
    bad = next(c for c in _all_clips(site) if c.quarantine_step == "probe")
    browser = open_browser(site)
    sign_in(browser, site.tokens["officer"])
    browser.open(f"/ui/clips/{bad.sha256}")
    reason = browser.text("#quarantine-reason")
    assert "已损坏或不完整" in reason and re.search(r"[a-zA-Z]", reason) is None
    options = [o.get_attribute("value") for o in browser.all("#action option")]
    assert options == ["download"]
    assert [o.get_attribute("value") for o in browser.all("#variant option")] == ["original"]
    check_page(browser, "01-quarantined")
    # a forged "play" (the option put back by hand) is refused and records no access
    before = _accesses(site, bad.sha256)
    browser.js("const o = document.createElement('option'); o.value = 'play';"
               "o.textContent = 'play'; document.getElementById('action').append(o);")
    browser.fill("#purpose", PURPOSE)
    browser.choose("#action", value="play")
    browser.submit("#access-submit")
    assert "只能下载原始文件" in browser.text()
    assert not browser.all("video, audio")
    assert _accesses(site, bad.sha256) == before
    browser.screenshot("02-forged-play-refused")

    # the auditor's verify page: the ledger checks out, and it says the content is quarantined
    auditor = open_browser(site)
    sign_in(auditor, site.tokens["auditor"])
    auditor.open(f"/ui/verify?sha256={bad.sha256}")
    assert "已隔离" in auditor.text("#verdict") or "未完全核验" in auditor.text("#verdict")
    assert "已损坏或不完整" in auditor.text("#quarantined")
    assert auditor.text("#verdict") != "已核验 verified"
    check_page(auditor, "03-verify-quarantined")


def test_every_other_page_fits_a_phone_and_unknown_pages_are_html(
        many_site: Site, open_browser: OpenBrowser) -> None:
    site = many_site
    browser = open_browser(site)
    browser.open("/ui/signin")
    check_page(browser, "01-signin")
    sign_in(browser, site.tokens["auditor"])
    for name, path in (("02-home", "/ui/"), ("03-cases", "/ui/cases"),
                       ("04-case", f"/ui/cases/{quote(CASE_ID, safe='')}"),
                       ("05-verify", "/ui/verify"),
                       ("06-verify-clip", f"/ui/verify?sha256={site.clip.sha256}"),
                       ("07-access-log", f"/ui/access-log?officer={OFFICER_NO}"),
                       ("08-clip", f"/ui/clips/{site.clip.sha256}")):
        browser.open(path)
        check_page(browser, name)
    browser.open("/ui/no/such/page")
    assert browser.text("h1").startswith("未找到")
    assert browser.find("main a[href$='/ui/']").text.startswith("返回首页")
    check_page(browser, "09-not-found")
    browser.open("/ui/clips?order=size")
    assert "排序方式" in browser.text() and browser.all("main a[href$='/ui/']")


def test_officer_file_lists_recorders_days_and_cases(many_site: Site,
                                                      open_browser: OpenBrowser) -> None:
    site = many_site
    everything = _all_clips(site)
    browser = open_browser(site)
    sign_in(browser, site.tokens["officer"])
    browser.submit("a[href$='/ui/officers/" + OFFICER_NO + "']")  # 我的档案 in the header
    assert browser.text("#officer-no") == OFFICER_NO
    rows = {r.find_element("css selector", "td").text: r.text
            for r in browser.all("#recorders tbody tr")}
    assert set(rows) == {"LH00001", "LH00900", "LH00901"}
    assert f" {MANY // 2} " in f" {rows['LH00900']} "  # each simulated recorder: half of MANY
    assert 0 <= int(browser.text("#days-total")) <= len(everything)
    check_page(browser, "01-officer-file")
    # from a clip's page, the officer's number leads to the same file
    browser.open(f"/ui/clips/{site.clip.sha256}")
    browser.submit(f"a[href$='/ui/officers/{OFFICER_NO}']:not(header a)")
    assert browser.text("#officer-no") == OFFICER_NO
    # no file for a 警号 outside the caller's scope (here: no such officer at all)
    browser.open("/ui/officers/999999")
    assert browser.text("h1").startswith("未找到")
