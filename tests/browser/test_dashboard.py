"""The dashboard in a real headless Chromium (Debian's `chromium` and `chromium-driver`, `make system-deps`)
driven by Selenium against a real `glimpse serve` in its embedded mode: sign in with a Glimpse token, browse
Applications and Images, upload an image through the page with its progress bar, and see it active.
Screenshots of every page go to GLIMPSE_TEST_ARTIFACTS (default: test-artifacts/) under dashboard/ (conftest.py)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import at_page, needs_chromium, shot
from tests.serverproc import GLIMPSE, free_port, new_database, server_env, spawn, stop, wait_for_root

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A `glimpse serve` (tokens auth) and a member token of project alpha."""
    home = tmp_path_factory.mktemp("dashboard-browser")
    with new_database(home, "glimpse_dash") as database_url:
        env = server_env(home / "data", database_url, home)
        made = subprocess.run(
            [
                GLIMPSE,
                "token",
                "create",
                "--user",
                "alice",
                "--project",
                "alpha",
                "--role",
                "member",
                "--role",
                "reader",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        token = made.stdout.strip().splitlines()[-1]
        port = free_port()
        process = spawn(port, env, home / "server.log")
        try:
            assert wait_for_root(process, port) == 300, (home / "server.log").read_text()[-3000:]
            yield f"http://localhost:{port}", token  # localhost: a secure context, so the Secure cookie is kept
        finally:
            stop(process)


def test_sign_in_browse_and_upload(server: tuple[str, str], browser: WebDriver, tmp_path: Path) -> None:
    url, token = server
    wait = WebDriverWait(browser, 20)
    browser.get(f"{url}/dashboard/images")
    wait.until(expected_conditions.url_contains("/dashboard/login"))
    shot(browser, "01-sign-in")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(at_page("/dashboard/images"))
    assert "alice · project alpha" in browser.find_element(By.CSS_SELECTOR, ".who span").text
    shot(browser, "02-images-empty")

    browser.get(f"{url}/dashboard/apps")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Applications"
    shot(browser, "03-applications")

    data = tmp_path / "disk.raw"
    data.write_bytes(os.urandom(3 * 1024 * 1024))
    browser.get(f"{url}/dashboard/images/new")
    browser.find_element(By.ID, "name").send_keys("browser-upload")
    browser.find_element(By.ID, "file").send_keys(str(data))
    shot(browser, "04-create-image")
    browser.find_element(By.CSS_SELECTOR, "#image-form button[type=submit]").click()
    wait.until(expected_conditions.url_matches(r"/dashboard/images/[0-9a-f-]{36}$"))
    status = browser.find_element(By.ID, "image-status").text
    assert status == "active"
    assert f"{data.stat().st_size} bytes" in browser.page_source
    shot(browser, "05-image-detail")

    browser.get(f"{url}/dashboard/images")
    assert "browser-upload" in browser.find_element(By.ID, "images").text
    shot(browser, "06-images-list")
    browser.get(f"{url}/dashboard/running")
    shot(browser, "07-running-apps")

    browser.set_window_size(390, 844)  # a phone
    browser.get(f"{url}/dashboard/images")
    shot(browser, "08-images-phone")
    browser.set_window_size(1280, 900)


def test_keyboard_reaches_the_content_first(server: tuple[str, str], browser: WebDriver) -> None:
    url, _ = server
    browser.get(f"{url}/dashboard/apps")
    browser.find_element(By.TAG_NAME, "body").send_keys("\t")
    skip = browser.switch_to.active_element
    assert skip.get_attribute("class") == "skip"
    assert (skip.get_attribute("href") or "").endswith("#main")
