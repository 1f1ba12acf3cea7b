"""Installing a remote asset from the Applications list (a real TUF-signed catalog served over TLS): the Install
form starts the ``catalog_install`` task as the signed-in person, the install page and its JSON follow the task
to 100% and link the installed asset; the form needs its CSRF token, and another project's task is 404."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.container import Services
from glimpse.jobs.worker import Worker
from tests.functional.catalog.conftest import Publisher, publisher
from tests.functional.dashboard.conftest import Browser, subscribed

__all__ = ["publisher"]

IMAGE = bytes(range(256)) * 64
TEMPLATE = b"heat_template_version: 2021-04-16\nresources: {}\n"
REFRESH = '<noscript><meta http-equiv="refresh" content="2"></noscript>'
JSON = {"Accept": "application/json"}


@dataclass
class Site:
    web: TestClient
    services: Services
    alice: Browser

    def run_task(self) -> bool:
        ran: bool = self.web.portal.call(Worker.from_services(self.services).run_one)  # type: ignore[union-attr]
        return ran

    def install(self, browser: Browser, name: str, version: str) -> str:
        """The install page's path, after the Install form of the remote list was sent."""
        started = browser.post("/dashboard/installs", {"catalog": "pub", "name": name, "version": version})
        assert started.status_code == 303, started.text
        location: str = started.headers["location"]
        assert re.fullmatch(r"/dashboard/installs/[0-9a-f-]{36}", location), location
        return location


@pytest.fixture
def site(publisher: Publisher, tmp_path: Path, clean_db: str) -> Iterator[Site]:
    publisher.add("cirros", "0.6.2", IMAGE, kind="image", metadata={"disk_format": "raw"})
    publisher.add("stack", "1.0", TEMPLATE, depends=["cirros@0.6.2"], metadata={"description": "one server"})
    publisher.repo.publish()
    with subscribed(publisher.subscriber(tmp_path, clean_db)) as (web, services, alice):
        yield Site(web, services, alice)


def status(browser: Browser, page: str) -> dict[str, Any]:
    answer = browser.get(f"{page}/status", headers=JSON)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    view: dict[str, Any] = answer.json()
    return view


def test_install_from_the_list_follows_the_task_to_100_percent(site: Site) -> None:
    listed = site.alice.get("/dashboard/apps?source=remote").text
    assert listed.count('action="/dashboard/installs"') == 2  # one Install form per remote asset
    assert 'aria-label="Install stack 1.0"' in listed
    assert '<input type="hidden" name="catalog" value="pub">' in listed

    page = site.install(site.alice, "stack", "1.0")
    waiting = site.alice.get(page)
    assert waiting.status_code == 200
    assert REFRESH in waiting.text  # without JavaScript the page reloads itself while the task runs
    assert '<label id="install-label" for="install-progress">' in waiting.text
    assert '<progress id="install-progress" max="100" value="0">' in waiting.text
    assert 'role="status" aria-live="polite" data-state="pending"' in waiting.text
    assert f'data-status-url="{page}/status"' in waiting.text
    assert '<script src="/dashboard/static/install.js" defer></script>' in waiting.text
    before = status(site.alice, page)
    assert (before["status"], before["percent"], before["finished"], before["link"]) == ("pending", 0, False, "")
    assert before["asset"] == "stack@1.0"
    assert before["catalog"] == "pub"

    assert site.run_task()
    after = status(site.alice, page)
    assert (after["status"], after["percent"], after["finished"]) == ("success", 100, True), after
    assert after["done"] == 2 * (len(IMAGE) + len(TEMPLATE))  # every byte downloaded, then stored
    assert after["status_text"] == "Installed."
    assert re.fullmatch(r"/dashboard/apps/heat_templates/[0-9a-f-]{36}", after["link"]), after["link"]
    done = site.alice.get(page).text
    assert REFRESH not in done  # nothing more to wait for
    assert '<progress id="install-progress" max="100" value="100">' in done
    assert f'<a id="install-link" href="{after["link"]}">' in done
    template = site.alice.get(after["link"])
    assert template.status_code == 200
    assert "catalog_digest" in template.text  # the installed template's provenance

    again = site.install(site.alice, "cirros", "0.6.2")  # already installed (by digest): still success, 100%
    assert site.run_task()
    image = status(site.alice, again)
    assert (image["status"], image["percent"]) == ("success", 100)
    assert image["link"].startswith("/dashboard/images/")


def test_a_failed_install_shows_the_tasks_message(site: Site, publisher: Publisher) -> None:
    [stored] = (publisher.repo.targets_dir / "assets" / "stack" / "1.0").iterdir()
    stored.write_bytes(TEMPLATE.replace(b"{}", b"[]"))  # changed on the server, same length
    page = site.install(site.alice, "stack", "1.0")
    assert site.run_task()
    view = status(site.alice, page)
    assert (view["status"], view["finished"], view["link"]) == ("failure", True, "")
    assert view["status_text"].startswith("The install failed: ")
    assert "does not match its signed length and sha256" in view["status_text"]
    shown = site.alice.get(page).text
    assert 'data-state="failure"' in shown
    assert "does not match its signed length and sha256" in shown
    assert REFRESH not in shown


def test_the_install_form_needs_its_csrf_token(site: Site) -> None:
    site.alice.csrf = "not-the-token"
    refused = site.alice.post("/dashboard/installs", {"catalog": "pub", "name": "stack", "version": "1.0"})
    assert refused.status_code == 403
    assert "CSRF token" in refused.text
    elsewhere = site.alice.client.post(
        "/dashboard/installs", data={"name": "stack", "version": "1.0"}, headers={"Origin": "https://evil.example"}
    )
    assert elsewhere.status_code == 403
    assert not site.run_task()  # no install task was queued


def test_bad_or_unknown_assets_are_refused_with_4xx(site: Site) -> None:
    site.alice.get("/dashboard/apps")
    assert site.alice.post("/dashboard/installs", {"name": "stack"}).status_code == 400
    assert site.alice.post("/dashboard/installs", {"name": "../x", "version": "1"}).status_code == 400
    unknown = site.alice.post("/dashboard/installs", {"name": "nothing", "version": "1"})
    assert unknown.status_code == 404
    assert "nothing@1 is not in any catalog" in unknown.text
    assert site.alice.get("/dashboard/installs/not-a-task").status_code == 404
    assert not site.run_task()


def test_another_projects_install_is_404(site: Site) -> None:
    page = site.install(site.alice, "cirros", "0.6.2")
    bob = Browser(TestClient(site.web.app, base_url=str(site.web.base_url)))  # a browser of its own
    bob.sign_in(username="bob", project="beta")
    assert bob.get(page).status_code == 404
    hidden = bob.get(f"{page}/status", headers=JSON)
    assert hidden.status_code == 404
    assert hidden.json() == {"error": f"No install task {page.rsplit('/', 1)[1]}"}
    assert site.alice.get(page).status_code == 200


def test_no_install_page_without_a_session(site: Site) -> None:
    page = site.install(site.alice, "cirros", "0.6.2")
    stranger = Browser(TestClient(site.web.app, base_url=str(site.web.base_url)))
    assert stranger.get(f"{page}/status", headers=JSON).status_code == 401
    redirected = stranger.get(page, follow_redirects=False)
    assert redirected.status_code == 303
    assert redirected.headers["location"].startswith("/dashboard/login")
    refused = stranger.client.post("/dashboard/installs", data={"name": "cirros", "version": "0.6.2"},
                                   follow_redirects=False)  # fmt: skip
    assert refused.status_code == 303
    assert refused.headers["location"] == "/dashboard/login"
