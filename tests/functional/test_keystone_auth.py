"""Keystone authentication through the app (a stand-in Keystone session), and the Redis token cache against
the machine's real Redis on 127.0.0.1:6379 (GLIMPSE_TEST_REDIS_URL overrides it)."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from keystoneauth1 import exceptions as ks_exceptions
from starlette.testclient import TestClient

from glimpse.auth.keystone import REDIS_PREFIX, Codec, KeystoneAuth, RedisTokenCache, TokenInfo
from glimpse.container import build_services
from glimpse.metrics import Metrics
from glimpse.settings import Settings, load_settings
from tests.conftest import make_client
from tests.functional.conftest import JSON_ACCEPT
from tests.functional.test_errors import assert_request_id
from tests.unit.auth.keystone.support import NOW, FakeKeystone, token_body

REDIS_URL = os.environ.get("GLIMPSE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CHALLENGE = 'Keystone uri="http://keystone.test:5000/v3"'
KEYSTONE_ENV = {
    "GLIMPSE_KEYSTONE_AUTH_URL": "http://keystone.test:5000",
    "GLIMPSE_KEYSTONE_WWW_AUTHENTICATE_URI": "http://keystone.test:5000/v3",
    "GLIMPSE_KEYSTONE_USERNAME": "glimpse",
    "GLIMPSE_KEYSTONE_PASSWORD": "secret",
    "GLIMPSE_KEYSTONE_PROJECT_NAME": "service",
}


@pytest.fixture
def keystone() -> FakeKeystone:
    fake = FakeKeystone()
    fake.tokens["alice-token"] = token_body(user="alice", project="alpha")
    fake.tokens["nova-token"] = token_body(user="nova", project="service", roles=("service",))
    return fake


@pytest.fixture
def ks_client(tmp_path: Path, clean_db: str, keystone: FakeKeystone) -> Iterator[TestClient]:
    settings: Settings = load_settings(
        env={"GLIMPSE_AUTH": "keystone", **KEYSTONE_ENV}, data_dir=tmp_path / "data", database_url=clean_db
    )
    metrics = Metrics()
    auth = KeystoneAuth(settings.keystone_authtoken, metrics, keystone=keystone)  # type: ignore[arg-type]
    services = build_services(settings, auth=auth, metrics=metrics)
    try:
        with make_client(settings, services) as client:
            yield client
    finally:
        services.close()


def test_no_token_is_401_with_keystone_challenge(ks_client: TestClient) -> None:
    response = ks_client.get("/v2/images")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == CHALLENGE
    assert "no X-Auth-Token was given" in response.text
    assert_request_id(response)


def test_bad_token_is_401_json(ks_client: TestClient) -> None:
    response = ks_client.get("/v2/images", headers={"x-auth-token": "bogus", **JSON_ACCEPT})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == CHALLENGE
    assert response.json()["code"] == "401 Unauthorized"


def test_valid_token_reaches_the_api(ks_client: TestClient) -> None:
    response = ks_client.get("/v2/images", headers={"x-auth-token": "alice-token"})
    assert response.status_code == 200, response.text


def test_service_roles_open_stores_detail(ks_client: TestClient) -> None:
    alone = ks_client.get("/v2/info/stores/detail", headers={"x-auth-token": "alice-token"})
    assert alone.status_code == 403
    with_service = ks_client.get(
        "/v2/info/stores/detail", headers={"x-auth-token": "alice-token", "x-service-token": "nova-token"}
    )
    assert with_service.status_code == 200, with_service.text
    bad_service = ks_client.get(
        "/v2/info/stores/detail", headers={"x-auth-token": "alice-token", "x-service-token": "bogus"}
    )
    assert bad_service.status_code == 401
    assert bad_service.headers["www-authenticate"] == CHALLENGE


def test_keystone_down_is_503_without_challenge(
    ks_client: TestClient, keystone: FakeKeystone, caplog: pytest.LogCaptureFixture
) -> None:
    keystone.fail = ks_exceptions.ConnectFailure("connection refused")
    with caplog.at_level(logging.WARNING):
        response = ks_client.get("/v2/images", headers={"x-auth-token": "alice-token"})
    assert response.status_code == 503
    assert "www-authenticate" not in response.headers
    assert "The Keystone service is temporarily unavailable." in response.text
    assert_request_id(response)
    assert "alice-token" not in caplog.text


def test_public_paths_need_no_keystone(ks_client: TestClient, keystone: FakeKeystone) -> None:
    keystone.fail = ks_exceptions.ConnectFailure("connection refused")
    assert ks_client.get("/versions").status_code == 200
    assert ks_client.get("/healthcheck").status_code == 200
    assert keystone.calls == []


def test_metrics_count_cache_hits(ks_client: TestClient) -> None:
    for _ in range(3):
        assert ks_client.get("/v2/images", headers={"x-auth-token": "alice-token"}).status_code == 200
    text = ks_client.get("/metrics").text
    assert 'glimpse_auth_token_validations_total{result="valid",source="keystone"} 1.0' in text
    assert 'glimpse_auth_token_validations_total{result="valid",source="cache"} 2.0' in text


# -- the Redis cache, on a real Redis --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis does not answer at {REDIS_URL} (start it, or set GLIMPSE_TEST_REDIS_URL): {exc}")
    yield client
    client.close()


def info(user: str = "alice") -> TokenInfo:
    return TokenInfo(user, "alpha", None, frozenset({"member", "reader"}), None, NOW)


def test_redis_round_trip_with_ttl(redis_client: redis.Redis) -> None:
    key = uuid.uuid4().hex

    async def go() -> TokenInfo | None:
        cache = RedisTokenCache(REDIS_URL, Codec())
        try:
            assert await cache.get(key) is None
            await cache.put(key, info(), 30)
            return await cache.get(key)
        finally:
            await cache.close()

    try:
        assert asyncio.run(go()) == info()
        ttl_ms: Any = redis_client.pttl(REDIS_PREFIX + key)
        assert 0 < ttl_ms <= 30_000
    finally:
        redis_client.delete(REDIS_PREFIX + key)


def test_redis_forged_entry_is_ignored(redis_client: redis.Redis, caplog: pytest.LogCaptureFixture) -> None:
    key = uuid.uuid4().hex
    redis_client.set(REDIS_PREFIX + key, info("mallory").to_json(), ex=30)  # unsigned

    async def go() -> TokenInfo | None:
        cache = RedisTokenCache(REDIS_URL, Codec("mac", "s3cret"))
        try:
            return await cache.get(key)
        finally:
            await cache.close()

    try:
        with caplog.at_level(logging.WARNING, logger="glimpse.auth.keystone"):
            assert asyncio.run(go()) is None
        assert "signature does not match" in caplog.text
    finally:
        redis_client.delete(REDIS_PREFIX + key)


def test_redis_unreachable_is_a_miss_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> None:
        cache = RedisTokenCache("redis://127.0.0.1:1/0", Codec(), timeout=0.5)
        try:
            await cache.put("k", info(), 30)
            assert await cache.get("k") is None
            assert await cache.get("k") is None
        finally:
            await cache.close()

    with caplog.at_level(logging.WARNING, logger="glimpse.auth.keystone"):
        asyncio.run(go())
    assert len([r for r in caplog.records if "asking Keystone instead" in r.getMessage()]) == 1


def test_redis_is_shared_between_processes(redis_client: redis.Redis, keystone: FakeKeystone) -> None:
    """Two authenticators (two server processes) on one Redis: the second asks Keystone nothing."""
    token = f"tok-{uuid.uuid4().hex}"
    keystone.tokens[token] = token_body(user="alice", project="alpha")
    settings = load_settings(
        env={**KEYSTONE_ENV, "GLIMPSE_KEYSTONE_MEMCACHED_SERVERS": REDIS_URL}, data_dir=Path("/nonexistent")
    )

    async def authenticate_once() -> str | None:
        auth = KeystoneAuth(settings.keystone_authtoken, keystone=keystone)  # type: ignore[arg-type]
        assert isinstance(auth.cache, RedisTokenCache)
        try:
            return (await auth.authenticate({"x-auth-token": token})).user_id
        finally:
            await auth.aclose()

    key = Codec().key(token)
    try:
        assert asyncio.run(authenticate_once()) == "alice"
        assert asyncio.run(authenticate_once()) == "alice"
        assert len(keystone.calls) == 1
        assert redis_client.exists(REDIS_PREFIX + key)
    finally:
        redis_client.delete(REDIS_PREFIX + key)
