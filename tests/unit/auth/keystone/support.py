"""What the Keystone authenticator's tests share: a stand-in for the keystoneauth1 session, token bodies as
Keystone writes them, a clock, and a harness holding an authenticator over them."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests

from glimpse.auth.keystone import KeystoneAuth, MemoryTokenCache
from glimpse.context import RequestContext
from glimpse.metrics import Metrics
from glimpse.settings import KeystoneAuthSettings

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
