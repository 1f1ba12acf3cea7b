"""glimpse.auth.keystone's authenticator with a stand-in for the keystoneauth1 session: answers, service tokens,
Keystone failing, building it from the settings.

The real Keystone is driven by tests/e2e/test_keystone.py; these tests cover what a real one cannot show
quickly (expiry, outages) and read the real token bodies' shape.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from keystoneauth1 import exceptions as ks_exceptions

from glimpse.auth import build_authenticator
from glimpse.auth.keystone import BAD_SERVICE_TOKEN, BAD_TOKEN, NO_TOKEN, KeystoneAuth, MemoryTokenCache
from glimpse.errors import IdentityUnavailable, Unauthorized
from glimpse.metrics import Metrics
from glimpse.settings import load_settings
from tests.unit.auth.keystone.support import NOW, FakeKeystone, Harness, conf, run, token_body


# -- answers ------------------------------------------------------------------------------------------------
def test_valid_token_gives_the_identity(h: Harness) -> None:
    h.keystone.tokens["tok"] = token_body(roles=("Member", "reader"))
    ctx = h.authenticate("tok")
    assert (ctx.user_id, ctx.project_id, ctx.domain_id, ctx.system_scope) == ("u1", "p1", None, None)
    assert ctx.roles == frozenset({"member", "reader"})
    assert ctx.service_roles == frozenset()
    assert ctx.auth_method == "keystone"
    call = h.keystone.calls[0]
    assert call["url"] == "/auth/tokens"
    assert call["endpoint_filter"] == {"service_type": "identity", "interface": "internal", "version": (3, 0)}
    assert call["log"] is False
    assert call["raise_exc"] is False


def test_domain_and_system_scoped_tokens(h: Harness) -> None:
    h.keystone.tokens["dom"] = token_body(project=None, domain="d1", roles=("admin",))
    h.keystone.tokens["sys"] = token_body(project=None, system=True, roles=("reader",))
    dom = h.authenticate("dom")
    assert (dom.project_id, dom.domain_id, dom.system_scope) == (None, "d1", None)
    sys_ctx = h.authenticate("sys")
    assert (sys_ctx.project_id, sys_ctx.system_scope) == (None, "all")


def test_missing_token_is_401_without_asking_keystone(h: Harness) -> None:
    with pytest.raises(Unauthorized, match=NO_TOKEN):
        h.authenticate()
    with pytest.raises(Unauthorized):
        h.authenticate("")
    assert h.keystone.calls == []


def test_unknown_token_is_401(h: Harness) -> None:
    with pytest.raises(Unauthorized) as caught:
        h.authenticate("bogus")
    assert caught.value.message == BAD_TOKEN
    assert h.count("keystone", "invalid") == 1


@pytest.mark.parametrize("token", ["x" * 8193, "tok\x00en", "caf\xe9", "tab\there"])
def test_malformed_tokens_are_401_without_asking_keystone(h: Harness, token: str) -> None:
    with pytest.raises(Unauthorized):
        h.authenticate(token)
    with pytest.raises(Unauthorized, match="service token"):
        h.authenticate("fine", service=token)
    assert h.keystone.calls == []


def test_expired_token_body_is_401(h: Harness) -> None:
    h.keystone.tokens["old"] = token_body(expires=NOW - 1)
    with pytest.raises(Unauthorized):
        h.authenticate("old")


def test_challenge_names_www_authenticate_uri() -> None:
    auth = KeystoneAuth(conf(), keystone=FakeKeystone())  # type: ignore[arg-type]
    assert auth.challenge == 'Keystone uri="http://keystone.test:5000/v3"'
    assert auth.name == "keystone"


# -- service tokens -------------------------------------------------------------------------------------------
def test_service_token_roles_become_service_roles(h: Harness) -> None:
    h.keystone.tokens["user"] = token_body()
    h.keystone.tokens["svc"] = token_body(user="nova", project="service", roles=("service",))
    ctx = h.authenticate("user", service="svc")
    assert ctx.user_id == "u1"
    assert ctx.roles == frozenset({"member", "reader"})
    assert ctx.service_roles == frozenset({"service"})


def test_invalid_service_token_is_401(h: Harness) -> None:
    h.keystone.tokens["user"] = token_body()
    with pytest.raises(Unauthorized) as caught:
        h.authenticate("user", service="bogus")
    assert caught.value.message == BAD_SERVICE_TOKEN


def test_service_token_without_service_role_is_401_by_default(h: Harness) -> None:
    h.keystone.tokens["user"] = token_body()
    h.keystone.tokens["other"] = token_body(user="u2", roles=("member",))
    with pytest.raises(Unauthorized, match="service token"):
        h.authenticate("user", service="other")


def test_service_token_roles_not_required(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(service_token_roles_required=False)
    h.keystone.tokens["user"] = token_body()
    h.keystone.tokens["other"] = token_body(user="u2", roles=("member",))
    with caplog.at_level(logging.WARNING, logger="glimpse.auth.keystone"):
        ctx = h.authenticate("user", service="other")
        h.authenticate("user", service="other")
    assert ctx.service_roles == frozenset({"member"})
    assert len([r for r in caplog.records if "service token without" in r.getMessage()]) == 1


def test_expired_user_token_with_a_service_token(h: Harness) -> None:
    """A service finishing a long job for a user: the user's expired token is accepted with a service token
    (Keystone's allow_expired), never without one, and never cached."""
    h.keystone.tokens["old"] = token_body(expires=NOW - 60)
    h.keystone.expired.add("old")
    h.keystone.tokens["svc"] = token_body(user="nova", roles=("service",))
    with pytest.raises(Unauthorized):
        h.authenticate("old")
    ctx = h.authenticate("old", service="svc")
    assert (ctx.user_id, ctx.service_roles) == ("u1", frozenset({"service"}))
    assert h.keystone.calls[-1]["url"] == "/auth/tokens?allow_expired=1"
    with pytest.raises(Unauthorized):
        h.authenticate("old")
    other = Harness()
    other.keystone.tokens.update(h.keystone.tokens)
    other.keystone.expired.add("old")
    other.keystone.tokens["plain"] = token_body(user="u2", roles=("member",))
    with pytest.raises(Unauthorized):  # a token without the service role allows nothing
        other.authenticate("old", service="plain")


def test_custom_service_token_roles() -> None:
    h = Harness(service_token_roles=["Nova-Service"])
    h.keystone.tokens["user"] = token_body()
    h.keystone.tokens["svc"] = token_body(user="nova", roles=("nova-service",))
    assert h.authenticate("user", service="svc").service_roles == frozenset({"nova-service"})


# -- Keystone failing -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "failure",
    [
        ks_exceptions.ConnectFailure("refused"),
        ks_exceptions.ConnectTimeout("slow"),
        ks_exceptions.DiscoveryFailure("no versions"),
        ks_exceptions.EndpointNotFound("no identity endpoint"),
        ks_exceptions.Unauthorized("the service user's password is wrong"),
    ],
)
def test_keystone_failures_are_unavailable(h: Harness, failure: Exception) -> None:
    h.keystone.fail = failure
    with pytest.raises(IdentityUnavailable):
        h.authenticate("tok")
    assert h.count("keystone", "unavailable") == 1


def test_keystone_400_is_an_invalid_token(h: Harness) -> None:
    h.keystone.status = 400
    with pytest.raises(Unauthorized):
        h.authenticate("tok")


@pytest.mark.parametrize("status", [401, 403, 500, 503])
def test_unexpected_keystone_answers_are_unavailable(h: Harness, status: int) -> None:
    h.keystone.status = status
    with pytest.raises(IdentityUnavailable):
        h.authenticate("tok")


def test_unreadable_answer_is_unavailable(h: Harness) -> None:
    h.keystone.tokens["tok"] = {"token": {"methods": ["password"]}}
    with pytest.raises(IdentityUnavailable):
        h.authenticate("tok")


def test_cached_tokens_still_work_while_keystone_is_down(h: Harness) -> None:
    h.keystone.tokens["tok"] = token_body()
    h.authenticate("tok")
    h.keystone.fail = ks_exceptions.ConnectFailure("down")
    assert h.authenticate("tok").user_id == "u1"


def test_tokens_are_never_logged(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    secret = "gAAAAA-very-secret-token"
    h.keystone.tokens[secret] = token_body()
    with caplog.at_level(logging.DEBUG):
        h.authenticate(secret)
        with pytest.raises(Unauthorized):
            h.authenticate(secret + "x")
        h.keystone.fail = ks_exceptions.ConnectFailure("down")
        with pytest.raises(IdentityUnavailable):
            h.authenticate(secret + "y", service=secret + "z")
    assert caplog.records
    assert secret not in caplog.text


# -- building it ----------------------------------------------------------------------------------------------
def test_built_from_settings(tmp_path: Any) -> None:
    settings = load_settings(
        env={
            "GLIMPSE_AUTH": "keystone",
            "GLIMPSE_KEYSTONE_AUTH_URL": "http://keystone.test:5000",
            "GLIMPSE_KEYSTONE_USERNAME": "glimpse",
            "GLIMPSE_KEYSTONE_PASSWORD": "secret",
            "GLIMPSE_KEYSTONE_PROJECT_NAME": "service",
        },
        data_dir=tmp_path,
    )
    auth = build_authenticator(settings, Metrics())
    assert isinstance(auth, KeystoneAuth)
    assert isinstance(auth.cache, MemoryTokenCache)
    assert auth.challenge == 'Keystone uri="http://keystone.test:5000"'
    run(auth.aclose())


def test_non_redis_memcached_servers_fall_back_to_memory(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="glimpse.auth.keystone"):
        auth = KeystoneAuth(conf(memcached_servers=["10.0.0.1:11211"]), keystone=FakeKeystone())  # type: ignore[arg-type]
    assert isinstance(auth.cache, MemoryTokenCache)
    assert "only redis:// URLs are supported" in caplog.text
    run(auth.aclose())
