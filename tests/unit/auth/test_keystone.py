"""glimpse.auth.keystone with a stand-in for the keystoneauth1 session: answers, cache, service tokens, errors.

The real Keystone is driven by tests/e2e/test_keystone.py; these tests cover what a real one cannot show
quickly (expiry, eviction, outages, concurrency) and read the real token bodies' shape.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
import requests
from keystoneauth1 import exceptions as ks_exceptions

from glimpse.auth import build_authenticator
from glimpse.auth.keystone import (
    BAD_SERVICE_TOKEN,
    BAD_TOKEN,
    NO_TOKEN,
    Codec,
    KeystoneAuth,
    MemoryTokenCache,
    TokenInfo,
)
from glimpse.context import RequestContext
from glimpse.errors import IdentityUnavailable, Unauthorized
from glimpse.metrics import Metrics
from glimpse.settings import KeystoneAuthSettings, load_settings

NOW = 1_900_000_000.0
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def token_body(
    user: str = "u1",
    project: str | None = "p1",
    roles: tuple[str, ...] = ("member", "reader"),
    expires: float = NOW + 3600,
    domain: str | None = None,
    system: bool = False,
) -> dict[str, Any]:
    """The body of Keystone's GET /v3/auth/tokens, trimmed to what keystoneauth1 reads."""
    token: dict[str, Any] = {
        "methods": ["password"],
        "user": {"id": user, "name": f"{user}-name", "domain": {"id": "default", "name": "Default"}},
        "roles": [{"id": f"r-{role}", "name": role} for role in roles],
        "expires_at": datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
        "issued_at": datetime.fromtimestamp(expires - 3600, UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
    }
    if project is not None:
        token["project"] = {"id": project, "name": f"{project}-name", "domain": {"id": "default", "name": "Default"}}
    if domain is not None:
        token["domain"] = {"id": domain, "name": domain}
    if system:
        token["system"] = {"all": True}
    return {"token": token}


def response(status: int, body: dict[str, Any] | None = None, token: str = "") -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = json.dumps(body or {"error": {"code": status}}).encode()
    resp.headers["Content-Type"] = "application/json"
    if token:
        resp.headers["X-Subject-Token"] = token
    return resp


class FakeKeystone:
    """Stands in for keystoneauth1's Session: ``tokens`` maps a token to its body; others get 404."""

    def __init__(self) -> None:
        self.tokens: dict[str, dict[str, Any]] = {}
        self.expired: set[str] = set()  # known, but answered 404 unless allow_expired=1 is asked
        self.calls: list[dict[str, Any]] = []
        self.fail: Exception | None = None
        self.status: int | None = None
        self.delay = 0.0
        self.session = requests.Session()
        self._lock = threading.Lock()

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        with self._lock:
            self.calls.append({"url": url, **kwargs})
        if self.delay:
            time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        token = kwargs["headers"]["X-Subject-Token"]
        if self.status is not None:
            return response(self.status)
        if token not in self.tokens or (token in self.expired and "allow_expired=1" not in url):
            return response(404)
        return response(200, self.tokens[token], token)


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def conf(**options: Any) -> KeystoneAuthSettings:
    base: dict[str, Any] = {
        "auth_url": "http://keystone.test:5000",
        "www_authenticate_uri": "http://keystone.test:5000/v3",
        "username": "glimpse",
        "password": "secret",
        "project_name": "service",
        "user_domain_name": "Default",
        "project_domain_name": "Default",
    }
    return KeystoneAuthSettings.model_validate({**base, **options})


class Harness:
    def __init__(self, **options: Any) -> None:
        self.keystone = FakeKeystone()
        self.clock = Clock()
        self.metrics = Metrics()
        self.cache = MemoryTokenCache(options.pop("cache_size", 100), clock=self.clock)
        self.auth = KeystoneAuth(
            conf(**options),
            self.metrics,
            keystone=self.keystone,  # type: ignore[arg-type]
            cache=self.cache,
            clock=self.clock,
        )

    def authenticate(self, token: str | None = None, service: str | None = None) -> RequestContext:
        headers = {}
        if token is not None:
            headers["x-auth-token"] = token
        if service is not None:
            headers["x-service-token"] = service
        return run(self.auth.authenticate(headers))

    def count(self, source: str, result: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "glimpse_auth_token_validations_total", {"source": source, "result": result}
        )
        return value or 0.0


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness()
    yield harness
    run(harness.auth.aclose())


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


# -- cache --------------------------------------------------------------------------------------------------
def test_second_request_is_a_cache_hit(h: Harness) -> None:
    h.keystone.tokens["tok"] = token_body()
    first, second = h.authenticate("tok"), h.authenticate("tok")
    assert first == second
    assert len(h.keystone.calls) == 1
    assert (h.count("keystone", "valid"), h.count("cache", "valid")) == (1, 1)


def test_cache_keeps_a_token_for_token_cache_time() -> None:
    h = Harness(token_cache_time=60)
    h.keystone.tokens["tok"] = token_body()
    h.authenticate("tok")
    h.clock.now += 59
    h.authenticate("tok")
    assert len(h.keystone.calls) == 1
    h.clock.now += 2
    h.authenticate("tok")
    assert len(h.keystone.calls) == 2


def test_cache_never_outlives_the_token(h: Harness) -> None:
    h.keystone.tokens["tok"] = token_body(expires=NOW + 10)  # token_cache_time is 300
    h.authenticate("tok")
    h.clock.now += 9
    h.authenticate("tok")
    assert len(h.keystone.calls) == 1
    h.clock.now += 2
    del h.keystone.tokens["tok"]  # Keystone no longer accepts it either
    with pytest.raises(Unauthorized):
        h.authenticate("tok")
    assert len(h.keystone.calls) == 2


def test_zero_cache_time_always_asks_keystone() -> None:
    h = Harness(token_cache_time=0)
    h.keystone.tokens["tok"] = token_body()
    h.authenticate("tok")
    h.authenticate("tok")
    assert len(h.keystone.calls) == 2
    assert len(h.cache) == 0


def test_invalid_tokens_are_not_cached(h: Harness) -> None:
    for _ in range(2):
        with pytest.raises(Unauthorized):
            h.authenticate("bogus")
    assert len(h.keystone.calls) == 2


def test_cache_is_bounded_lru() -> None:
    h = Harness(cache_size=2)
    for name in ("a", "b", "c"):
        h.keystone.tokens[name] = token_body(user=name)
    h.authenticate("a")
    h.authenticate("b")
    h.authenticate("a")  # a is now the most recent
    h.authenticate("c")  # evicts b
    assert len(h.cache) == 2
    calls = len(h.keystone.calls)
    h.authenticate("a")
    h.authenticate("c")
    assert len(h.keystone.calls) == calls
    h.authenticate("b")
    assert len(h.keystone.calls) == calls + 1


def test_concurrent_requests_share_one_keystone_call(h: Harness) -> None:
    h.keystone.tokens["tok"] = token_body()
    h.keystone.delay = 0.2

    async def many() -> list[RequestContext]:
        return await asyncio.gather(*(h.auth.authenticate({"x-auth-token": "tok"}) for _ in range(20)))

    results = run(many())
    assert {ctx.user_id for ctx in results} == {"u1"}
    assert len(h.keystone.calls) == 1


def test_cache_keys_are_digests_never_tokens() -> None:
    plain, keyed = Codec(), Codec("none", "s3cret")
    assert "tok" not in plain.key("tok")
    assert len(plain.key("tok")) == 64
    assert keyed.key("tok") != plain.key("tok")
    assert keyed.key("tok") == Codec("mac", "s3cret").key("tok")


@pytest.mark.parametrize("strategy", ["none", "mac", "encrypt"])
def test_codec_round_trip(strategy: str) -> None:
    codec = Codec(strategy, "s3cret" if strategy != "none" else None)
    info = TokenInfo("u", "p", None, frozenset({"reader"}), None, NOW)
    encoded = codec.encode(info)
    assert codec.decode(encoded) == info
    if strategy == "encrypt":
        assert b"reader" not in encoded


@pytest.mark.parametrize("strategy", ["mac", "encrypt"])
def test_codec_refuses_forged_entries(strategy: str) -> None:
    codec = Codec(strategy, "s3cret")
    forged = TokenInfo("u", "p", None, frozenset({"admin"}), None, NOW)
    with pytest.raises(ValueError, match=r"signature|decrypt"):
        codec.decode(forged.to_json())
    with pytest.raises(ValueError, match=r"signature|decrypt"):
        codec.decode(Codec(strategy, "other").encode(forged))


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
