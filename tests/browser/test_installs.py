"""Installing a remote asset in a real headless Chromium: a `glimpse serve` (noauth sign-in, its worker in
process) subscribed to a real TUF-signed catalog over TLS; the person presses Install on the remote asset's row
and the install page's script follows the task every second until the bar reaches 100% and links the installed
image. Then the same without JavaScript, the page
reloading itself. Screenshots install-01 to install-05 (conftest.py says where)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import at_page, needs_chromium, shot
from tests.functional.catalog.conftest import Publisher, publisher
from tests.serverproc import GLIMPSE, free_port, new_database, server_env, spawn, stop, wait_for_root

pytestmark = needs_chromium
__all__ = ["publisher"]

IMAGE = os.urandom(24 * 1024 * 1024)  # large enough for the bar to be seen between 0 and 100 on a fast machine


@pytest.fixture
def server(publisher: Publisher, tmp_path: Path) -> Iterator[str]:
    publisher.add("cirros", "0.6.2", IMAGE, kind="image", metadata={"disk_format": "raw", "description": "A disk"})
    publisher.add("stack", "1.0", b"heat_template_version: 2021-04-16\nresources: {}\n", depends=["cirros@0.6.2"])
    publisher.repo.publish()
    with new_database(tmp_path, "glimpse_install") as database_url:
        env = server_env(tmp_path / "data", database_url, tmp_path)
        env.update(publisher.environment(tmp_path / "data", database_url))
        refreshed = subprocess.run([GLIMPSE, "catalog", "refresh"], env=env, capture_output=True, text=True)
        assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
        config = tmp_path / "glimpse.conf"
        config.write_text("[glimpse]\ntask_heartbeat_interval = 0.25\n")  # the bar moves between heartbeats
        port = free_port()
        process = spawn(port, env, tmp_path / "server.log", config=config)
        try:
            assert wait_for_root(process, port) == 300, (tmp_path / "server.log").read_text()[-3000:]
            yield f"http://localhost:{port}"  # localhost: a secure context, so the Secure cookie is kept
        finally:
            stop(process)


def test_install_a_remote_asset_and_watch_the_bar_reach_100(server: str, browser: WebDriver) -> None:
    wait = WebDriverWait(browser, 60)
    browser.delete_all_cookies()
    browser.get(f"{server}/dashboard/login?next=/dashboard/apps?source=remote")
    browser.find_element(By.ID, "username").send_keys("alice")
    browser.find_element(By.ID, "project").send_keys("alpha")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(at_page("/dashboard/apps"))
    browser.get(f"{server}/dashboard/apps?source=remote")
    button = browser.find_element(By.CSS_SELECTOR, "button[aria-label='Install cirros 0.6.2']")
    shot(browser, "install-01-remote-list")
    button.click()
    wait.until(expected_conditions.url_matches(r"/dashboard/installs/[0-9a-f-]{36}$"))
    install_page = browser.current_url
    bar = browser.find_element(By.ID, "install-progress")
    label = browser.find_element(By.CSS_SELECTOR, "label[for=install-progress]")
    assert label.text == "Progress of the install"
    status = browser.find_element(By.ID, "install-status")
    assert status.get_attribute("aria-live") == "polite"
    shot(browser, "install-02-started")

    seen: list[int] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        value = int(float(bar.get_attribute("value") or 0))
        if not seen or seen[-1] != value:
            seen.append(value)
            if 0 < value < 100 and len(seen) == 2:
                shot(browser, "install-03-in-progress")
        if value == 100 and status.get_attribute("data-state") == "success":
            break
        time.sleep(0.1)
    assert seen[-1] == 100, (seen, status.text)
    assert seen == sorted(seen), seen  # the bar never goes back
    assert browser.current_url == install_page  # the script followed the task: no reload
    assert status.text == "Installed."
    assert browser.find_element(By.ID, "install-percent").text == "100%"
    link = browser.find_element(By.ID, "install-link")
    assert link.is_displayed()
    shot(browser, "install-04-done")
    print(f"progress values the page showed: {seen}")

    link.click()
    wait.until(expected_conditions.url_matches(r"/dashboard/images/[0-9a-f-]{36}$"))
    assert browser.find_element(By.ID, "image-status").text == "active"
    assert f"{len(IMAGE)} bytes" in browser.page_source

    # without JavaScript: the install page reloads itself (its <noscript> meta refresh) until the task has ended
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        browser.get(f"{server}/dashboard/apps?source=remote")  # this time from the remote asset's own page
        browser.find_element(By.LINK_TEXT, "stack").click()
        wait.until(expected_conditions.url_contains("/dashboard/remote/"))
        assert browser.find_element(By.TAG_NAME, "h1").text == "stack 1.0"
        assert "SHA-256" in browser.find_element(By.ID, "verification").text
        shot(browser, "install-05-remote-asset")
        browser.find_element(By.CSS_SELECTOR, "#install button[aria-label='Install stack 1.0']").click()
        wait.until(expected_conditions.url_matches(r"/dashboard/installs/[0-9a-f-]{36}$"))
        first = browser.find_element(By.ID, "install-status")
        if first.get_attribute("data-state") != "success":  # still running when first shown (the usual case)
            assert '<meta http-equiv="refresh" content="2">' in browser.page_source
            wait.until(expected_conditions.staleness_of(first))  # the page reloaded itself
            print("without JavaScript the install page reloaded itself")
        wait.until(lambda driver: driver.find_element(By.ID, "install-status").get_attribute("data-state") == "success")
        assert browser.find_element(By.ID, "install-progress").get_attribute("value") == "100"
        assert "http-equiv" not in browser.page_source  # no more reloads once it has ended
        shot(browser, "install-06-done-without-javascript")
        browser.find_element(By.ID, "install-link").click()
        wait.until(expected_conditions.url_matches(r"/dashboard/apps/heat_templates/[0-9a-f-]{36}$"))
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
