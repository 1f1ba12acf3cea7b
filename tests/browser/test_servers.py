"""Launching a server from the dashboard in a real headless Chromium: a real `glimpse serve` signing people in with
the real Keystone (scripts/keystone-up) and booting through the real Nova with its fake virt driver and Placement
(scripts/nova-up). That Glimpse serves the catalog's image endpoint (127.0.0.1:9292, tests/nova.py), where Nova
looks the image up. alpha-member signs in with a password, opens an image (made through the image API with their
token, carrying the catalog asset and version an installed image has), launches a server from it, watches it reach
ACTIVE in Running Apps, stops it (SHUTOFF), starts it and deletes it. beta-member never sees it, and stopping it
by its id answers 404. Screenshots go to GLIMPSE_TEST_ARTIFACTS (default: test-artifacts/) under dashboard/
(servers-*.png)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser.conftest import at_page, needs_chromium, shot
from tests.heat import USER_PASSWORD, token_of
from tests.nova import FLAVOR, image_endpoint, raw_image

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def keystone_server(nova: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`glimpse serve` with Keystone sign-in on the catalog's image endpoint (this run's alone while it lasts)."""
    with image_endpoint(tmp_path_factory.mktemp("dashboard-servers"), "glimpse_dash_servers") as url:
        yield url


def server_row(browser: WebDriver, name: str) -> WebElement | None:
    """The named server's row of Running Apps as loaded now (the other pass's servers of the same project, and
    earlier runs', may be listed too)."""
    for row in browser.find_elements(By.CSS_SELECTOR, "#servers tbody tr"):
        cells = row.find_elements(By.CSS_SELECTOR, "td")
        if cells and cells[0].text == name:
            return row
    return None


def reload_until(browser: WebDriver, url: str, name: str, wanted: str | None, timeout: float = 120.0) -> None:
    """Nova works on a server after answering: reload Running Apps until it shows ``wanted`` (None: gone)."""
    deadline = time.monotonic() + timeout
    while True:
        browser.get(f"{url}/dashboard/running")
        row = server_row(browser, name)
        status = None if row is None else row.find_element(By.CSS_SELECTOR, ".server-status").text
        if status == wanted or time.monotonic() > deadline:
            break
        assert status != "ERROR", row.text if row is not None else ""
        time.sleep(0.5)
    assert status == wanted


def sign_in(browser: WebDriver, url: str, user: str, then: str) -> None:
    wait = WebDriverWait(browser, 20)
    browser.get(f"{url}/dashboard/login")
    browser.delete_all_cookies()  # another test's server on localhost may have left its own session cookie
    browser.get(f"{url}/dashboard{then}")
    wait.until(expected_conditions.url_contains("/dashboard/login"))
    browser.find_element(By.ID, "username").send_keys(user)
    browser.find_element(By.ID, "password").send_keys(USER_PASSWORD)
    browser.find_element(By.ID, "project").send_keys(user.split("-")[0])
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(at_page(f"/dashboard{then}"))


def press(browser: WebDriver, url: str, name: str, button: str) -> None:
    """Press a button (``stop``, ``start``, ``danger``) in the named server's row."""
    row = server_row(browser, name)
    assert row is not None
    row.find_element(By.CSS_SELECTOR, f"button.{button}").click()


def test_launch_a_server_stop_start_and_delete_it(keystone_server: str, browser: WebDriver) -> None:
    url = keystone_server
    asset = f"tiny-os-{uuid.uuid4().hex[:6]}"
    image_id = raw_image(url, token_of("alpha-member"), f"{asset} disk", catalog_asset=asset, catalog_version="1.4.2")
    name = f"{asset}-vm"
    wait = WebDriverWait(browser, 30)

    sign_in(browser, url, "alpha-member", f"/images/{image_id}")
    shot(browser, "servers-01-image")
    browser.find_element(By.ID, "launch-server").click()
    wait.until(expected_conditions.url_contains(f"/images/{image_id}/launch"))
    assert f"asset {asset} 1.4.2" in browser.find_element(By.CSS_SELECTOR, "main p.note").text
    browser.find_element(By.ID, "name").send_keys(name)
    flavor = Select(browser.find_element(By.ID, "flavor"))
    (label,) = [option.text for option in flavor.options if option.text.startswith(f"{FLAVOR} (")]
    flavor.select_by_visible_text(label)
    shot(browser, "servers-02-launch-form")
    browser.find_element(By.CSS_SELECTOR, "#launch-server-form button[type=submit]").click()
    wait.until(expected_conditions.url_contains("/dashboard/running"))
    assert f"Server {name} is being built" in browser.find_element(By.ID, "launched-server").text

    reload_until(browser, url, name, "ACTIVE")
    row = server_row(browser, name)
    assert row is not None
    server_id = (row.get_attribute("id") or "").removeprefix("server-")
    assert f"{name} {asset} 1.4.2 ACTIVE {FLAVOR} " in row.text
    assert row.find_element(By.CSS_SELECTOR, "td[data-label=Asset] a").get_attribute("href") == (
        f"{url}/dashboard/images/{image_id}"
    )
    shot(browser, "servers-03-running-apps")

    press(browser, url, name, "stop")
    wait.until(expected_conditions.url_contains("done_server=stop"))
    reload_until(browser, url, name, "SHUTOFF")
    shot(browser, "servers-04-stopped")
    press(browser, url, name, "start")
    wait.until(expected_conditions.url_contains("done_server=start"))
    reload_until(browser, url, name, "ACTIVE")

    # another project never sees it, and cannot act on it by its id
    sign_in(browser, url, "beta-member", "/running")
    assert server_row(browser, name) is None
    assert server_id not in browser.page_source
    browser.execute_script(
        "const form = document.createElement('form'); form.method = 'post'; form.action = arguments[0];"
        "const csrf = document.querySelector('input[name=csrf_token]').cloneNode(); form.appendChild(csrf);"
        "document.body.appendChild(form); form.submit();",
        f"/dashboard/running/servers/{server_id}/stop",
    )
    wait.until(expected_conditions.url_contains(f"/running/servers/{server_id}/stop"))
    assert f"No server {server_id} launched from an image in this project" in browser.page_source
    shot(browser, "servers-05-other-project")

    sign_in(browser, url, "alpha-member", "/running")
    press(browser, url, name, "danger")
    alert = wait.until(expected_conditions.alert_is_present())
    assert f"Delete server {name}?" in alert.text
    alert.accept()
    wait.until(expected_conditions.url_contains("done_server=delete"))
    reload_until(browser, url, name, None)
    shot(browser, "servers-06-deleted")
