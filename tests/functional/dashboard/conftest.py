"""The dashboard in process: a browser-like client (HTTPS, so the Secure session cookie is sent) that signs in
through the sign-in form and sends each form's CSRF token back, as a browser does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from glimpse.app import create_app
from glimpse.container import Services, build_services
from glimpse.settings import Settings

BASE = "https://testserver"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found is not None, f"no CSRF token in {page.url}"
    return found.group(1)


class Browser:
    """One person's browser: a cookie jar and the last CSRF token a page gave it."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    def get(self, path: str, **options: Any) -> httpx.Response:
        response = self.client.get(path, follow_redirects=options.pop("follow_redirects", True), **options)
        found = _CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict[str, str] | None = None, **options: Any) -> httpx.Response:
        form = {"csrf_token": self.csrf, **(data or {})}
        options.setdefault("follow_redirects", False)
        return self.client.post(path, data=form, **options)

    def sign_in(self, **fields: str) -> httpx.Response:
        self.get("/dashboard/login")
        response = self.post("/dashboard/login", fields)
        assert response.status_code == 303, response.text
        self.get("/dashboard/apps")  # the signed-in session's own CSRF token
        return response


def browser_for(settings: Settings, services: Services) -> TestClient:
    return TestClient(create_app(settings, services), base_url=BASE)


@pytest.fixture
def web(settings: Settings, services: Services) -> Iterator[TestClient]:
    with browser_for(settings, services) as test_client:
        yield test_client


@pytest.fixture
def alice(web: TestClient) -> Browser:
    """Alice of project alpha, signed in (noauth: a user and a project)."""
    browser = Browser(web)
    browser.sign_in(username="alice", project="alpha")
    return browser


@contextmanager
def subscribed(settings: Settings) -> Iterator[tuple[TestClient, Services, Browser]]:
    """A subscriber's dashboard with its remote catalogs refreshed, and alice of project alpha signed in."""
    services = build_services(settings)
    try:
        with browser_for(settings, services) as web:
            [report] = web.portal.call(services.catalog.refresh)  # type: ignore[union-attr]
            assert report.ok, report
            alice = Browser(web)
            alice.sign_in(username="alice", project="alpha")
            yield web, services, alice
    finally:
        services.close()
