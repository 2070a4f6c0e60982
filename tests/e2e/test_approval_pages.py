"""调阅审批 in headless Chromium (docs/access.md §8): an officer of another unit, who cannot
see the site's clip, asks for it on the approvals page with a one-minute duration; the 法制
auditor of the clip's unit sees it pending and approves with a reason; the requester sees the
answer, opens the clip page and plays the clip within the grant; a second request is refused
with a reason the requester reads; when the minute is over the clip is out of reach again.
The server runs on the real clock: the expiry is a one-minute grant waited out. Every page at
1440 and 390 px with axe-core; screenshots ``approval-*`` under tests/e2e/artifacts/<test>/."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import pytest

from tests.e2e.axe import check_page
from tests.e2e.browser import Browser
from tests.e2e.conftest import E2E_PASSWORD, UNIT, Site, _env, _liuhen
from tests.e2e.test_pages import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::UserWarning")]

OpenBrowser = Callable[[Site], Browser]
OTHER_UNIT = "110106000000"
OUTSIDER = "000778"
EXPIRY_WAIT_S = 90.0  # the grant lasts one minute from the approval


def _cli(site: Site, *args: str, stdin: str | None = None) -> None:
    done = subprocess.run([*_liuhen(), *args, "--data-dir", str(site.data_dir)],
                          env=_env(None), capture_output=True, text=True, timeout=60,
                          check=False, input=stdin)
    assert done.returncode == 0, done.stderr


def _row_id(browser: Browser, table: str) -> str:
    rows = browser.all(f"#{table} tbody tr")
    assert rows, browser.text()
    return str(rows[0].get_attribute("id"))


def test_request_approve_play_refuse_and_expire(sqlite_site: Site,
                                                open_browser: OpenBrowser) -> None:
    site = sqlite_site
    sha = site.clip.sha256
    _cli(site, "units", "add", OTHER_UNIT, "另一分局")
    _cli(site, "users", "add", OUTSIDER, "--name", "外单位民警", "--unit", OTHER_UNIT,
         "--role", "officer", "--password-stdin", stdin=E2E_PASSWORD + "\n")
    assert UNIT != OTHER_UNIT

    officer = open_browser(site)
    sign_in(officer, OUTSIDER)
    officer.open(f"/ui/clips/{sha}")
    assert "未找到" in officer.text("h1") or "Not found" in officer.text("h1")
    officer.submit("header nav a[href$='/ui/approvals']")
    officer.fill("#clip", sha)
    officer.fill("#purpose", "串案比对")
    officer.fill("#minutes", "1")
    check_page(officer, "approval-01-request")
    officer.submit("#ask button[type=submit]")
    assert "已提交调阅申请" in officer.text()
    mine = _row_id(officer, "mine")
    assert officer.find(f"#{mine}").get_attribute("data-status") == "pending"

    auditor = open_browser(site)
    sign_in(auditor, site.tokens["auditor"])
    auditor.open("/ui/approvals")
    pending = _row_id(auditor, "pending")
    assert pending == mine.replace("m-", "p-") and OUTSIDER in auditor.text(f"#{pending}")
    check_page(auditor, "approval-02-pending")
    auditor.fill(f"#{pending} input[name=reason]", "同意比对")
    auditor.submit(f"#{pending} button[value=yes]")
    assert "已批准" in auditor.text()
    approved_at = time.monotonic()
    assert not auditor.all("#pending tbody tr")

    officer.open("/ui/approvals")
    row = officer.find(f"#{mine}")
    assert row.get_attribute("data-status") == "approved" and "同意比对" in row.text
    check_page(officer, "approval-03-approved")
    officer.open(f"/ui/clips/{sha}")  # within the grant: the clip page, and play
    officer.fill("#purpose", "串案比对")
    officer.submit("#access-submit")
    officer.wait_for("return document.getElementById('player').readyState >= 1")
    officer.screenshot("approval-04-playing-1440")

    # a second request, refused with a reason
    officer.open("/ui/approvals")
    officer.fill("#clip", sha)
    officer.fill("#purpose", "再次调阅")
    officer.submit("#ask button[type=submit]")
    auditor.open("/ui/approvals")
    second = _row_id(auditor, "pending")
    auditor.fill(f"#{second} input[name=reason]", "与本案无关")
    auditor.submit(f"#{second} button[value=no]")
    assert "已拒绝" in auditor.text()
    officer.open("/ui/approvals")
    refused = officer.find(f"#{second.replace('p-', 'm-')}")
    assert refused.get_attribute("data-status") == "rejected" and "与本案无关" in refused.text
    check_page(officer, "approval-05-refused")

    # the minute runs out: the grant expires and the clip is out of reach again
    deadline = approved_at + EXPIRY_WAIT_S
    while True:
        officer.open("/ui/approvals")
        if officer.find(f"#{mine}").get_attribute("data-status") == "expired":
            break
        assert time.monotonic() < deadline, "the one-minute grant did not expire"
        time.sleep(2)
    check_page(officer, "approval-06-expired")
    officer.open(f"/ui/clips/{sha}")
    assert "未找到" in officer.text("h1") or "Not found" in officer.text("h1")
