"""Sign-in in the embedded mode (a Glimpse token from the token file) and what a wrong one gets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from glimpse.auth.tokens import add_token
from glimpse.container import Services, build_services
from glimpse.settings import Settings, load_settings
from tests.functional.dashboard.conftest import Browser, browser_for


@pytest.fixture
def embedded(tmp_path: Path, clean_db: str) -> Iterator[tuple[Settings, Services]]:
    settings = load_settings(env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="tokens")
    services = build_services(settings)
    yield settings, services
    services.close()


def test_sign_in_with_a_glimpse_token(embedded: tuple[Settings, Services]) -> None:
    settings, services = embedded
    assert settings.token_file is not None
    token = add_token(settings.token_file, "alice", "alpha", ["member", "reader"])
    with browser_for(settings, services) as web:
        browser = Browser(web)
        form = browser.get("/dashboard/login")
        assert '<label for="token">Glimpse token</label>' in form.text
        wrong = browser.post("/dashboard/login", {"token": "glimpse-not-a-token"})
        assert wrong.status_code == 401
        assert "the token is not valid" in wrong.text
        browser.sign_in(token=token)
        page = browser.get("/dashboard/images")
        assert page.status_code == 200
        assert "alice · project alpha" in page.text
        assert token not in web.cookies.get("glimpse_dashboard", "")  # sealed, never readable


def test_the_session_key_is_made_once_and_shared(embedded: tuple[Settings, Services]) -> None:
    settings, services = embedded
    with browser_for(settings, services) as first, browser_for(settings, services) as second:
        key = settings.data_dir / "dashboard.key"
        assert key.stat().st_mode & 0o777 == 0o600
        token = add_token(settings.token_file or Path(), "alice", "alpha", ["member"])
        browser = Browser(first)
        browser.sign_in(token=token)
        second.cookies = first.cookies  # another worker process of the same server reads the same cookie
        assert second.get("/dashboard/images", follow_redirects=False).status_code == 200
