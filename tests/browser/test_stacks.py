"""Launching a stack from the dashboard in a real headless Chromium: a real `glimpse serve` signing people in with
the real Keystone (scripts/keystone-up) and launching through the real Heat (scripts/heat-up). alpha-member signs
in with a password, opens a Heat-template asset (made through the artifacts API with their token, as a client
would), launches it with its linked environment, watches it reach CREATE_COMPLETE in Running Apps, and deletes it.
Screenshots go to GLIMPSE_TEST_ARTIFACTS (default: test-artifacts/) under dashboard/ (stacks-*.png)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser.conftest import at_page, needs_chromium, shot
from tests.heat import KEYSTONE_CONFIG, TEMPLATE, USER_PASSWORD, token_of
from tests.serverproc import free_port, new_database, server_env, spawn, stop, wait_for_root

pytestmark = needs_chromium

ENVIRONMENT = b"parameter_defaults:\n  length: 24\n"


@pytest.fixture(scope="module")
def keystone_server(heat: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`glimpse serve` with Keystone sign-in and the artifacts API mounted at /glare."""
    home = tmp_path_factory.mktemp("dashboard-stacks")
    config = home / "glimpse.conf"
    config.write_text(KEYSTONE_CONFIG)
    with new_database(home, "glimpse_dash_stacks") as database_url:
        env = server_env(home / "data", database_url, home)
        port = free_port()
        process = spawn(port, env, home / "server.log", config=config)
        try:
            assert wait_for_root(process, port) == 300, (home / "server.log").read_text()[-3000:]
            yield f"http://localhost:{port}"  # localhost: a secure context, so the Secure cookie is kept
        finally:
            stop(process)


def artifact(url: str, token: str, type_name: str, blob: str, data: bytes, **body: Any) -> dict[str, Any]:
    """An artifact with its blob, through the artifacts API (Glare's), as a client makes one."""
    with httpx.Client(base_url=f"{url}/glare/artifacts", headers={"X-Auth-Token": token}, timeout=30) as api:
        created = api.post(f"/{type_name}", json=body)
        assert created.status_code == 201, created.text
        found: dict[str, Any] = created.json()
        uploaded = api.put(f"/{type_name}/{found['id']}/{blob}", content=data,
                           headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        assert uploaded.status_code == 200, uploaded.text
        return found


def stack_status(browser: WebDriver, name: str) -> str | None:
    """Heat's status of the named stack on Running Apps as loaded now (None: not listed)."""
    for row in browser.find_elements(By.CSS_SELECTOR, "#stacks tbody tr"):
        cells = row.find_elements(By.CSS_SELECTOR, "td")
        if cells and cells[0].text == name:
            return row.find_element(By.CSS_SELECTOR, ".stack-status").text
    return None


def reload_until(browser: WebDriver, url: str, name: str, wanted: str | None, timeout: float = 90.0) -> None:
    """Heat works on the stack after answering: reload Running Apps until it shows ``wanted`` (None: gone)."""
    deadline = time.monotonic() + timeout
    while True:
        browser.get(f"{url}/dashboard/running")
        status = stack_status(browser, name)
        if status == wanted or time.monotonic() > deadline:
            break
        assert status is None or not status.endswith("FAILED"), status
        time.sleep(0.5)
    assert status == wanted


def test_launch_a_stack_see_it_running_and_delete_it(keystone_server: str, browser: WebDriver) -> None:
    url = keystone_server
    token = token_of("alpha-member")
    name = f"words-{uuid.uuid4().hex[:6]}"
    env = artifact(url, token, "heat_environments", "environment", ENVIRONMENT, name=f"{name}-long")
    linked = {"long": f"/artifacts/heat_environments/{env['id']}"}
    template = artifact(url, token, "heat_templates", "template", TEMPLATE, name=name, version="2.1.0",
                        description="A random word", environments=linked)  # fmt: skip
    wait = WebDriverWait(browser, 20)

    browser.get(f"{url}/dashboard/login")
    browser.delete_all_cookies()  # another test's server on localhost may have left its own session cookie
    browser.get(f"{url}/dashboard/apps/heat_templates/{template['id']}")
    wait.until(expected_conditions.url_contains("/dashboard/login"))
    browser.find_element(By.ID, "username").send_keys("alpha-member")
    browser.find_element(By.ID, "password").send_keys(USER_PASSWORD)
    browser.find_element(By.ID, "project").send_keys("alpha")
    shot(browser, "stacks-01-keystone-sign-in")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(at_page(f"/dashboard/apps/heat_templates/{template['id']}"))
    shot(browser, "stacks-02-template-asset")

    browser.find_element(By.ID, "launch").click()
    wait.until(expected_conditions.url_contains("/launch"))
    browser.find_element(By.ID, "name").send_keys(f"{name}-stack")
    Select(browser.find_element(By.ID, "environment")).select_by_value(env["id"])
    shot(browser, "stacks-03-launch-form")
    browser.find_element(By.CSS_SELECTOR, "#launch-form button[type=submit]").click()
    wait.until(expected_conditions.url_contains("/dashboard/running"))
    assert f"Stack {name}-stack is being created" in browser.find_element(By.ID, "launched").text

    reload_until(browser, url, f"{name}-stack", "CREATE_COMPLETE")
    # the project's other stacks (the other database's pass shares Keystone and Heat) may be listed first
    rows = [r for r in browser.find_elements(By.CSS_SELECTOR, "#stacks tbody tr")
            if r.find_elements(By.CSS_SELECTOR, "td")[0].text == f"{name}-stack"]  # fmt: skip
    assert len(rows) == 1
    assert f" {name} 2.1.0 " in rows[0].text
    shot(browser, "stacks-04-running-apps")

    for row in browser.find_elements(By.CSS_SELECTOR, "#stacks tbody tr"):
        if row.find_elements(By.CSS_SELECTOR, "td")[0].text == f"{name}-stack":
            row.find_element(By.CSS_SELECTOR, "button.danger").click()
            break
    alert = wait.until(expected_conditions.alert_is_present())
    assert f"Delete stack {name}-stack?" in alert.text
    alert.accept()
    wait.until(expected_conditions.url_contains("done=delete"))
    reload_until(browser, url, f"{name}-stack", None)
    shot(browser, "stacks-05-deleted")
