"""glimpse.auth.noauth: identity from headers, for development and tests."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from glimpse.auth import Authenticator, build_authenticator
from glimpse.auth.base import split_roles
from glimpse.auth.noauth import NoAuth
from glimpse.context import RequestContext
from glimpse.settings import load_settings


def authenticate(auth: Authenticator, headers: dict[str, str]) -> RequestContext:
    return asyncio.run(auth.authenticate(headers))


@pytest.fixture
def auth() -> NoAuth:
    return NoAuth()


def test_bare_request_is_the_admin(auth: NoAuth) -> None:
    ctx = authenticate(auth, {})
    assert (ctx.user_id, ctx.project_id) == ("admin", "admin")
    assert ctx.roles == frozenset({"admin", "member", "reader"})
    assert ctx.is_admin
    assert ctx.auth_method == "noauth"


def test_identity_from_headers(auth: NoAuth) -> None:
    ctx = authenticate(
        auth,
        {
            "x-user-id": "alice",
            "x-project-id": "alpha",
            "x-roles": "Member, reader,,",
            "x-service-roles": "service",
            "x-domain-id": "default",
        },
    )
    assert (ctx.user_id, ctx.project_id, ctx.domain_id) == ("alice", "alpha", "default")
    assert ctx.roles == frozenset({"member", "reader"})
    assert ctx.service_roles == frozenset({"service"})
    assert ctx.all_roles == frozenset({"member", "reader", "service"})
    assert ctx.has_role("member")
    assert not ctx.is_admin


def test_tenant_header_is_a_project(auth: NoAuth) -> None:
    assert authenticate(auth, {"x-tenant-id": "legacy"}).project_id == "legacy"
    assert authenticate(auth, {"x-tenant-id": "legacy", "x-project-id": "new"}).project_id == "new"


def test_any_identity_header_means_not_the_default_admin(auth: NoAuth) -> None:
    ctx = authenticate(auth, {"x-roles": "reader"})
    assert ctx.project_id is None
    assert ctx.user_id is None
    assert ctx.roles == frozenset({"reader"})
    ctx = authenticate(auth, {"x-project-id": "alpha"})
    assert ctx.roles == frozenset()
    assert not ctx.is_admin


def test_admin_role_from_headers(auth: NoAuth) -> None:
    assert authenticate(auth, {"x-project-id": "ops", "x-roles": "ADMIN"}).is_admin


def test_no_challenge(auth: NoAuth) -> None:
    assert auth.challenge is None
    assert auth.name == "noauth"


def test_warns_loudly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="glimpse.auth.noauth"):
        NoAuth()
    assert "AUTHENTICATION IS DISABLED" in caplog.text


def test_split_roles() -> None:
    assert split_roles(None) == frozenset()
    assert split_roles("") == frozenset()
    assert split_roles(" A ,b,, c") == frozenset({"a", "b", "c"})


def test_built_from_settings(tmp_path: Path) -> None:
    assert isinstance(build_authenticator(load_settings(env={}, data_dir=tmp_path, auth="noauth")), NoAuth)


def test_keystonemiddleware_headers_without_identity_are_anonymous(auth: NoAuth) -> None:
    ctx = authenticate(auth, {"x-identity-status": "Confirmed"})
    assert (ctx.user_id, ctx.project_id, ctx.roles) == (None, None, frozenset())
    assert not ctx.is_admin
