"""The dashboard's security: no page without a session, a CSRF token on every state-changing request, another
project's images never shown, stored XSS rendered inert, a forged or expired cookie worth nothing."""

from __future__ import annotations

import re
import time

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from glimpse.api.dashboard import ROUTES
from glimpse.api.dashboard.session import COOKIE, SessionCodec, new_session
from glimpse.container import Services
from glimpse.settings import Settings
from tests.functional.dashboard.conftest import Browser, browser_for

SAMPLE = {"image_id": "00000000-0000-0000-0000-000000000001", "member_id": "beta", "type_name": "heat_templates",
          "artifact_id": "00000000-0000-0000-0000-000000000002", "stack_id": "00000000-0000-0000-0000-000000000003",
          "action": "delete", "task_id": "00000000-0000-0000-0000-000000000004", "catalog": "pub", "name": "x",
          "version": "1.0", "server_id": "00000000-0000-0000-0000-000000000005"}  # fmt: skip
PUBLIC = {"/", "/login", "/static/{name}"}


def signed_in_routes(method: str) -> list[str]:
    paths = [r.path for r in ROUTES if isinstance(r, Route) and method in (r.methods or ()) and r.path not in PUBLIC]
    return [re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], path) for path in paths]


def test_every_route_is_listed() -> None:
    assert len(signed_in_routes("GET")) >= 6
    assert len(signed_in_routes("POST")) >= 8


@pytest.mark.parametrize("path", signed_in_routes("GET"))
def test_no_page_without_a_session(web: TestClient, path: str) -> None:
    response = web.get("/dashboard" + path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/dashboard/login")


@pytest.mark.parametrize("path", signed_in_routes("POST"))
def test_no_post_without_a_session(web: TestClient, path: str) -> None:
    response = web.post("/dashboard" + path, data={"csrf_token": "x"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login"


@pytest.mark.parametrize("path", signed_in_routes("POST"))
def test_every_post_needs_the_csrf_token(alice: Browser, path: str) -> None:
    missing = alice.client.post("/dashboard" + path, data={"name": "x"}, follow_redirects=False)
    assert missing.status_code == 403
    assert "CSRF" in missing.text
    wrong = alice.client.post("/dashboard" + path, data={"csrf_token": "forged"}, follow_redirects=False)
    assert wrong.status_code == 403


def test_the_upload_needs_the_csrf_header(alice: Browser) -> None:
    created = alice.post("/dashboard/images", {"name": "n", "disk_format": "raw", "container_format": "bare"},
                         headers={"accept": "application/json"})  # fmt: skip
    url = created.json()["upload"]
    refused = alice.client.put(url, content=b"abc", headers={"content-type": "application/octet-stream"})
    assert refused.status_code == 403
    other_site = alice.client.put(url, content=b"abc", headers={"x-csrf-token": alice.csrf,
                                                                 "origin": "https://evil.example"})  # fmt: skip
    assert other_site.status_code == 403
    assert "queued" in alice.get(created.json()["page"]).text


def test_sign_in_needs_the_forms_csrf_token(web: TestClient) -> None:
    refused = web.post("/dashboard/login", data={"username": "alice", "project": "alpha"}, follow_redirects=False)
    assert refused.status_code == 403
    assert COOKIE not in refused.headers.get("set-cookie", "")


def test_the_session_cookie_is_secure_http_only_same_site(web: TestClient) -> None:
    cookie = web.get("/dashboard/login").headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/dashboard" in cookie


def test_sign_in_goes_back_only_to_the_dashboard(web: TestClient) -> None:
    browser = Browser(web)
    browser.get("/dashboard/login")
    response = browser.post("/dashboard/login", {"username": "a", "project": "p", "next": "https://evil.example/"})
    assert response.headers["location"] == "/dashboard/apps"
    browser.get("/dashboard/login")
    response = browser.post("/dashboard/login", {"username": "a", "project": "p", "next": "/dashboard/images"})
    assert response.headers["location"] == "/dashboard/images"


def test_sign_out_ends_the_session(alice: Browser) -> None:
    assert alice.post("/dashboard/logout").status_code == 303
    assert alice.client.get("/dashboard/apps", follow_redirects=False).status_code == 303


def test_forged_tampered_or_expired_cookies_are_worth_nothing(web: TestClient, settings: Settings) -> None:
    other_key = SessionCodec(SessionCodec.from_settings(settings).fernet.generate_key(), 3600, True)
    forged = other_key.seal(new_session({"x-user-id": "mallory", "x-project-id": "alpha"}, "mallory", "alpha"))
    web.cookies.set(COOKIE, forged, domain="testserver.local", path="/dashboard")
    assert web.get("/dashboard/apps", follow_redirects=False).status_code == 303
    real = SessionCodec.from_settings(settings)
    sealed = real.seal(new_session({"x-user-id": "alice", "x-project-id": "alpha"}, "alice", "alpha"))
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    web.cookies.clear()
    web.cookies.set(COOKIE, tampered, domain="testserver.local", path="/dashboard")
    assert web.get("/dashboard/apps", follow_redirects=False).status_code == 303
    web.cookies.clear()
    web.cookies.set(COOKIE, sealed, domain="testserver.local", path="/dashboard")
    assert web.get("/dashboard/apps", follow_redirects=False).status_code == 200  # the genuine one works
    expired = real.seal(new_session({"x-user-id": "alice", "x-project-id": "alpha"}), at=int(time.time()) - 7200)
    web.cookies.clear()
    web.cookies.set(COOKIE, expired, domain="testserver.local", path="/dashboard")
    assert web.get("/dashboard/apps", follow_redirects=False).status_code == 303


def test_another_projects_images_never_appear(settings: Settings, services: Services, alice: Browser) -> None:
    created = alice.post(
        "/dashboard/images",
        {"name": "alpha-secret", "disk_format": "raw", "container_format": "bare", "visibility": "private"},
        headers={"accept": "application/json"},
    )
    image_id = created.json()["id"]
    with browser_for(settings, services) as other:
        bob = Browser(other)
        bob.sign_in(username="bob", project="beta")
        assert "alpha-secret" not in bob.get("/dashboard/images").text
        assert "alpha-secret" not in bob.get("/dashboard/images?visibility=all").text
        assert "alpha-secret" not in bob.get("/dashboard/apps?source=local").text
        assert bob.get(f"/dashboard/images/{image_id}").status_code == 404
        assert bob.post(f"/dashboard/images/{image_id}/delete").status_code == 404
    assert "alpha-secret" in alice.get("/dashboard/images").text


XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_stored_xss_in_a_name_and_description_is_inert(alice: Browser, services: Services) -> None:
    created = alice.post("/dashboard/images", {"name": XSS, "disk_format": "raw", "container_format": "bare"},
                         headers={"accept": "application/json"})  # fmt: skip
    image_id = created.json()["id"]
    for page in (alice.get("/dashboard/images"), alice.get(f"/dashboard/images/{image_id}")):
        assert "<script>alert" not in page.text
        assert "<img src=x" not in page.text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]


def test_pages_carry_security_headers(alice: Browser) -> None:
    page = alice.get("/dashboard/images")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"


def test_an_oversized_form_is_refused(alice: Browser) -> None:
    response = alice.post("/dashboard/images", {"name": "x" * 70_000})
    assert response.status_code == 413
    login = alice.client.post("/dashboard/login", data={"csrf_token": alice.csrf, "token": "x" * 70_000})
    assert login.status_code == 413


def test_sign_in_comes_back_to_the_page_asked_for(web: TestClient) -> None:
    asked = web.get("/dashboard/images", follow_redirects=False)
    assert asked.headers["location"] == "/dashboard/login?next=%2Fdashboard%2Fimages"
    browser = Browser(web)
    browser.get(asked.headers["location"])
    response = browser.post("/dashboard/login", {"username": "a", "project": "p", "next": "/dashboard/images"})
    assert response.headers["location"] == "/dashboard/images"
