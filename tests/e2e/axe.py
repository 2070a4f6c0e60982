"""axe-core (vendored, pinned: vendor/axe-core/README.md) run in the test's Chromium, and the
narrow-screen check: no page wider than a 390 px phone."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import cast

from tests.e2e.browser import Browser

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256 = "b511cd9dec01c76f4b2ad1723b66b6db37d4c2eb4ed199076e1829d9ee7b75e3"
SERIOUS = ("serious", "critical")
PHONE_PX = 390
DESKTOP_PX = 1440


@functools.cache
def _axe_source() -> str:
    data = AXE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == AXE_SHA256, f"{AXE} is not the pinned axe-core"
    return data.decode()


def axe_violations(browser: Browser) -> list[str]:
    """The serious and critical axe-core violations of the page shown: ``rule: target …``."""
    browser.js(_axe_source())  # defines window.axe in this document
    results = cast(list[dict[str, object]], browser.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))))"
        ".catch(e => done([{id: 'axe-error', impact: 'critical', nodes: [String(e)]}]));"))
    return [f"{r['id']} ({r['impact']}): {r['nodes']}" for r in results
            if r["impact"] in SERIOUS]


def set_width(browser: Browser, width: int) -> None:
    browser.driver.set_window_size(width, 900)
    browser.wait_for(f"return window.innerWidth <= {width}")


def page_width(browser: Browser) -> int:
    return int(cast(int, browser.js("return document.scrollingElement.scrollWidth")))


def check_page(browser: Browser, name: str) -> None:
    """The page shown, at 1440 px and at 390 px: screenshots of both, no horizontal overflow
    on the phone, no serious or critical axe-core violation. Leaves the window at 1440 px."""
    set_width(browser, DESKTOP_PX)
    browser.screenshot(f"{name}-1440")
    try:
        set_width(browser, PHONE_PX)
        browser.screenshot(f"{name}-390")
        width = page_width(browser)
        assert width <= PHONE_PX, f"{name}: {width} px wide at {PHONE_PX} px ({browser.path})"
        violations = axe_violations(browser)
        assert not violations, f"{name} ({browser.path}): {violations}"
    finally:
        set_width(browser, DESKTOP_PX)
