"""The admin and supervision pages in headless Chromium at 1440 px (api/http/pages_admin.py,
pages_supervision.py): an admin adds a unit and a person, watches the person's session and ends
it, disables the account (sign-in then refused); an officer is refused the admin and
supervision pages. Screenshots under tests/e2e/artifacts/<test>/."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.e2e.browser import Browser
from tests.e2e.conftest import E2E_PASSWORD, UNIT, Site, _account, _env

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::UserWarning")]

OpenBrowser = Callable[[Site], Browser]
ADMIN_NO = "000900"
NEW_UNIT = "110105010000"
NEW_NO = "000556"


def wide(browser: Browser) -> Browser:
    browser.driver.set_window_size(1440, 1000)
    return browser


def sign_in(browser: Browser, officer_no: str) -> None:
    browser.open("/ui/")
    assert browser.path.startswith("/ui/signin"), browser.path
    browser.fill("#officer_no", officer_no)
    browser.fill("#password", E2E_PASSWORD)
    browser.submit("form.card button[type=submit]")


def test_admin_adds_a_unit_and_a_person_ends_a_session_and_disables_them(
        sqlite_site: Site, open_browser: OpenBrowser) -> None:
    site = sqlite_site
    _account(site.data_dir, _env(None), role="admin", number=ADMIN_NO)

    officer = wide(open_browser(site))
    sign_in(officer, site.tokens["officer"])
    assert "系统管理" not in officer.text("header")
    for path in ("/ui/admin", "/ui/admin/users", "/ui/alerts", "/ui/statistics"):
        officer.open(path)
        assert officer.text("h1") == "无权访问 Forbidden", path
    officer.screenshot("01-officer-refused-admin")

    admin = wide(open_browser(site))
    sign_in(admin, ADMIN_NO)
    assert admin.path == "/ui/"
    admin.submit("header nav a[href$='/ui/admin']")
    admin.open("/ui/admin/units")
    admin.fill("#code", NEW_UNIT)
    admin.fill("#name", "某区公安分局某派出所")
    admin.choose("#parent", value=UNIT)
    admin.submit("#unit-add button[type=submit]")
    assert "已添加单位" in admin.text()
    assert "某派出所" in admin.text(f"tr[data-unit='{NEW_UNIT}']")
    admin.screenshot("02-admin-unit-added")

    admin.open("/ui/admin/users")
    admin.fill("#officer_no", NEW_NO)
    admin.fill("#name", "新民警")
    admin.choose("#unit", value=NEW_UNIT)
    admin.fill("#password", E2E_PASSWORD)
    admin.submit("#user-add button[type=submit]")
    assert admin.path.startswith(f"/ui/admin/users/{NEW_NO}"), admin.path
    assert "已添加账号" in admin.text() and "启用" in admin.text("#user-state")
    admin.screenshot("03-admin-user-added")

    newcomer = wide(open_browser(site))
    sign_in(newcomer, NEW_NO)
    assert newcomer.path == "/ui/"
    admin.open(f"/ui/admin/users/{NEW_NO}")
    open_rows = [r for r in admin.all("#sessions tr[data-session]") if "进行中" in r.text]
    assert len(open_rows) == 1
    admin.screenshot("04-admin-user-session-open")
    admin.submit("#sessions tr[data-session] form button[type=submit]")
    assert "已结束会话" in admin.text()
    assert "revoked" in admin.text("#sessions")
    newcomer.open("/ui/clips")
    assert newcomer.path.startswith("/ui/signin"), newcomer.path  # ended on the server

    admin.submit("#user-disable button[type=submit]")
    assert "已停用" in admin.text("#user-state")
    admin.screenshot("05-admin-user-disabled")
    sign_in(newcomer, NEW_NO)
    assert newcomer.path.startswith("/ui/signin"), newcomer.path  # a disabled account
    admin.open("/ui/admin/users")
    assert "已停用" in admin.text(f"tr[data-user='{NEW_NO}']")
    admin.screenshot("06-admin-users")

    # a legal hold on the site's clip, through jobs/retention.set_hold (store, then ledger)
    admin.open("/ui/admin/holds")
    assert site.clip.sha256 not in admin.text("#holds")
    admin.fill("#h-sha", site.clip.sha256)
    admin.fill("#h-reason", "（2026）京0105刑初118号 保全")
    admin.submit("#hold-set button[type=submit]")
    assert "已更新法律保全" in admin.text()
    assert admin.all(f"#holds tr[data-clip='{site.clip.sha256}']")
    admin.screenshot("12-admin-legal-hold")
    admin.fill("#h-sha", site.clip.sha256)
    admin.choose("#h-on", value="off")
    admin.fill("#h-reason", "保全解除")
    admin.submit("#hold-set button[type=submit]")
    assert not admin.all(f"#holds tr[data-clip='{site.clip.sha256}']")

    for path, heading, name in (
            ("/ui/admin/tokens", "API 令牌", "07-admin-tokens"),
            ("/ui/admin/catalogue", "执法环节与保存期限", "08-admin-steps-retention"),
            ("/ui/admin/devices", "执法记录仪与采集站", "09-admin-recorders"),
            ("/ui/alerts", "调阅监督预警", "10-alerts"),
            ("/ui/statistics", "统计", "11-statistics")):
        admin.open(path)
        assert admin.text("h1").startswith(heading), (path, admin.text("h1"))
        admin.screenshot(name)


def test_auditor_acknowledges_an_alert_of_their_unit(
        sqlite_site: Site, open_browser: OpenBrowser) -> None:
    """The site's recorder was docked days after its recordings (the simulator's card dates):
    超时未上传 alerts about officer 010203, in the auditor's unit, dated this run's docking."""
    site = sqlite_site
    auditor = wide(open_browser(site))
    sign_in(auditor, site.tokens["auditor"])
    auditor.submit("header nav a[href$='/ui/alerts']")
    rows = auditor.all("#alerts tr[data-alert^='upload_late:']")
    assert rows, auditor.text()
    alert = str(rows[0].get_attribute("data-alert"))
    auditor.fill(f"tr[data-alert='{alert}'] input[name=note]", "已核实：记录仪送修，补传")
    auditor.submit(f"tr[data-alert='{alert}'] button[type=submit]")
    assert "已记录处理说明" in auditor.text()
    row = auditor.text(f"tr[data-alert='{alert}']")
    assert "已处理" in row and "已核实：记录仪送修，补传" in row and site.tokens["auditor"] in row
    auditor.screenshot("01-auditor-alert-acknowledged")
