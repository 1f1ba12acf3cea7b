"""The artifacts API in process: its own app over the same services, every type enabled."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.app import create_artifacts_app
from glimpse.container import Services, build_services
from glimpse.settings import Settings, load_settings

ALL_TYPES = [
    "sample_artifact", "images", "heat_templates", "heat_environments", "murano_packages", "tosca_templates",
    "secrets",
]  # fmt: skip
# noauth identities (X-Identity-Status: as keystonemiddleware sends them; without an identity: anonymous)
USER1 = {"X-Identity-Status": "Confirmed", "X-User-Id": "u1", "X-Project-Id": "p1", "X-Roles": "member"}
USER2 = {"X-Identity-Status": "Confirmed", "X-User-Id": "u2", "X-Project-Id": "p2", "X-Roles": "member"}
ADMIN = {"X-Identity-Status": "Confirmed", "X-User-Id": "root", "X-Project-Id": "p0", "X-Roles": "admin"}
ANONYMOUS = {"X-Identity-Status": "Confirmed"}
PATCH = {"content-type": "application/json-patch+json"}


def artifact_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    """noauth settings with every type enabled, over a test's own data directory and database."""
    return load_settings(
        env={},
        data_dir=tmp_path / "data",
        database_url=database_url,
        auth="noauth",
        enabled_artifact_types=ALL_TYPES,
        **overrides,
    )


@pytest.fixture
def settings(tmp_path: Path, clean_db: str) -> Settings:
    return artifact_settings(tmp_path, clean_db)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    svc = build_services(settings)
    yield svc
    svc.close()


@pytest.fixture
def client(settings: Settings, services: Services) -> Iterator[TestClient]:
    with TestClient(create_artifacts_app(settings, services)) as test_client:
        yield test_client


class Api:
    """Small verbs over the client that check the status they expect."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def call(self, method: str, url: str, status: int, headers: dict[str, str], **kwargs: Any) -> Any:
        response = self.client.request(method, url, headers=headers, **kwargs)
        assert response.status_code == status, response.text
        if response.content and "json" in response.headers.get("content-type", ""):
            return response.json()
        return response.text

    def create(
        self, body: dict[str, Any], status: int = 201, user: dict[str, str] = USER1, kind: str = "sample_artifact"
    ) -> Any:
        return self.call("POST", f"/artifacts/{kind}", status, user, json=body)

    def get(self, url: str, status: int = 200, user: dict[str, str] = USER1) -> Any:
        return self.call("GET", url, status, user)

    def patch(self, url: str, ops: list[dict[str, Any]], status: int = 200, user: dict[str, str] = USER1) -> Any:
        return self.call("PATCH", url, status, {**user, **PATCH}, content=json.dumps(ops))

    def delete(self, url: str, status: int = 204, user: dict[str, str] = USER1) -> Any:
        return self.call("DELETE", url, status, user)


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)


def replace(path: str, value: Any) -> dict[str, Any]:
    return {"op": "replace", "path": path, "value": value}


ACTIVATE = [replace("/status", "active")]
PUBLISH = [replace("/visibility", "public")]


@pytest.fixture
def active(api: Api) -> Callable[..., dict[str, Any]]:
    """A sample artifact of USER1, activated."""

    def make(**body: Any) -> dict[str, Any]:
        body.setdefault("string_required", "x")
        created = api.create(body)
        result: dict[str, Any] = api.patch(f"/artifacts/sample_artifact/{created['id']}", ACTIVATE)
        return result

    return make
