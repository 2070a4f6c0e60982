"""Headless Chromium from Debian's packages, driven by selenium through Debian's chromedriver.

Selenium never downloads a browser or a driver here: both paths are given, so Selenium Manager
is not consulted. Each browser gets a fresh profile directory (no shared cookies between users).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMIUM = Path(os.environ.get("LIUHEN_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("LIUHEN_E2E_CHROMEDRIVER", "/usr/bin/chromedriver"))
ARTIFACTS = Path(os.environ.get("LIUHEN_E2E_ARTIFACTS",
                                Path(__file__).resolve().parent / "artifacts"))
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required",
         "--window-size=1280,1000", "--lang=zh-CN")
WAIT_S = 15.0


class Browser:
    """One user's browser: a thin layer over the WebDriver with the few steps the tests need."""

    def __init__(self, driver: webdriver.Chrome, *, base_url: str, shots: Path) -> None:
        self.driver = driver
        self.base_url = base_url
        self.shots = shots

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    @property
    def path(self) -> str:
        url: str = self.driver.current_url
        return url.removeprefix(self.base_url)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def text(self, css: str = "main") -> str:
        return str(self.find(css).text)

    def fill(self, css: str, value: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(value)

    def choose(self, css: str, *, value: str) -> None:
        Select(self.find(css)).select_by_value(value)

    def submit(self, css: str) -> None:
        """Click a submit button (or link) and wait until the next page has loaded."""
        self.js("window.__liuhenOldPage = true;")  # gone once another document replaces it
        self.find(css).click()
        WebDriverWait(self.driver, WAIT_S, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script("return window.__liuhenOldPage === undefined"
                                       " && document.readyState === 'complete'"))

    def wait_ready(self) -> None:
        WebDriverWait(self.driver, WAIT_S).until(
            lambda d: d.execute_script("return document.readyState") == "complete")

    def js(self, script: str, *args: object) -> object:
        return self.driver.execute_script(script, *args)

    def wait_for(self, script: str, *, timeout_s: float = WAIT_S) -> object:
        """Wait until a JS expression (``return ...``) is truthy; returns its value."""
        return WebDriverWait(self.driver, timeout_s).until(lambda d: d.execute_script(script))

    def screenshot(self, name: str) -> Path:
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
        self.driver.save_screenshot(str(path))
        return path

    def cookies(self) -> list[dict[str, object]]:
        return list(self.driver.get_cookies())


def require_chromium() -> None:
    import pytest

    for tool in (CHROMIUM, CHROMEDRIVER):
        if not tool.exists():
            pytest.fail(f"{tool} is missing: scripts/system-deps.sh installs Debian's chromium "
                        "and chromium-driver")


@contextmanager
def chromium(*, base_url: str, shots: Path) -> Iterator[Browser]:
    """A fresh headless Chromium with its own empty profile, quit and removed afterwards."""
    profile = Path(tempfile.mkdtemp(prefix="liuhen-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_S * 2)
    try:
        yield Browser(driver, base_url=base_url, shots=shots)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
