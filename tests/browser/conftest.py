"""One headless Chromium for every browser test of the session (Debian's `chromium` and `chromium-driver`,
`make system-deps`; nothing is downloaded at run time), and where the screenshots go: GLIMPSE_TEST_ARTIFACTS
(default: test-artifacts/) under dashboard/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ARTIFACTS = Path(os.environ.get("GLIMPSE_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "dashboard"
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None, reason="needs Debian's chromium and chromium-driver: make system-deps"
)


@pytest.fixture(scope="session")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER or ""))
    driver.implicitly_wait(2)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: WebDriver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def at_page(path: str) -> Callable[[WebDriver], bool]:
    """A wait condition: the browser shows ``path`` (its path and query start with it). Unlike
    ``url_contains``, the sign-in page that will lead there (``/dashboard/login?next=<path>``) does not count:
    a test that went on from there navigated away while its sign-in was still being posted (its CSRF cookie
    replaced meanwhile: the sign-in answered 403)."""

    def shown(driver: WebDriver) -> bool:
        parts = urlsplit(driver.current_url)
        return f"{parts.path}?{parts.query}".startswith(path)

    return shown
