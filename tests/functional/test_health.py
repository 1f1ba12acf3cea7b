"""GET /healthcheck: the database and every store, 200 when all answer and 503 naming the ones that do not."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.container import Services, build_services
from glimpse.db import Database
from glimpse.settings import Settings, load_settings
from glimpse.stores.filesystem import FilesystemStore
from glimpse.stores.memory import MemoryStore
from glimpse.stores.registry import StoreRegistry
from tests.conftest import make_client


def health(client: TestClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/healthcheck")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers.get("x-openstack-request-id")
    body: dict[str, Any] = response.json()
    return response.status_code, body


def test_healthy(client: TestClient) -> None:
    status, body = health(client)
    assert status == 200
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert set(body["stores"]) == {"local"}
    assert body["stores"]["local"]["status"] == "ok"
    for component in (body["database"], body["stores"]["local"]):
        assert "detail" not in component
        assert component["duration_ms"] >= 0


def test_head_and_other_methods(client: TestClient) -> None:
    head = client.head("/healthcheck")
    assert head.status_code == 200
    assert head.content == b""
    assert client.post("/healthcheck").status_code == 405


def test_missing_store_directory_is_503(client: TestClient, settings: Settings) -> None:
    shutil.rmtree(settings.stores["local"].options.filesystem_store_datadir)
    status, body = health(client)
    assert status == 503
    assert body["status"] == "error"
    assert body["database"]["status"] == "ok"
    local = body["stores"]["local"]
    assert local["status"] == "error"
    assert local["detail"].startswith("Store local cannot write to its directory")
    assert str(settings.data_dir) not in str(body)  # no paths for unauthenticated callers


@pytest.fixture
def two_stores(settings: Settings, tmp_path: Path) -> Iterator[tuple[TestClient, MemoryStore]]:
    memory = MemoryStore("spare")
    registry = StoreRegistry({"disk": FilesystemStore("disk", tmp_path / "disk"), "spare": memory}, "disk")
    services = build_services(settings, stores=registry)
    try:
        with make_client(settings, services) as client:
            yield client, memory
    finally:
        services.close()


def test_each_store_is_reported(two_stores: tuple[TestClient, MemoryStore]) -> None:
    client, memory = two_stores
    status, body = health(client)
    assert status == 200
    assert {name: part["status"] for name, part in body["stores"].items()} == {"disk": "ok", "spare": "ok"}

    memory.failure = "the array is degraded"
    status, body = health(client)
    assert status == 503
    assert body["stores"]["disk"]["status"] == "ok"
    assert body["stores"]["spare"] == {
        "status": "error",
        "duration_ms": body["stores"]["spare"]["duration_ms"],
        "detail": "Store spare is unavailable: the array is degraded",
    }

    memory.failure = None
    assert health(client)[0] == 200


class SlowStore(MemoryStore):
    async def check(self) -> None:
        await asyncio.sleep(10)


def test_a_hung_store_times_out(settings: Settings) -> None:
    registry = StoreRegistry({"slow": SlowStore("slow")}, "slow")
    services = build_services(settings, stores=registry)
    services.health.timeout = 0.05
    try:
        with make_client(settings, services) as client:
            status, body = health(client)
    finally:
        services.close()
    assert status == 503
    assert body["stores"]["slow"]["detail"] == "no answer within 0.05s"
    assert body["database"]["status"] == "ok"


def test_unreachable_database_is_503(settings: Settings) -> None:
    # nothing listens on port 1 of the loopback address: the connection is refused at once
    services = build_services(settings, db=Database("postgresql+psycopg://postgres@127.0.0.1:1/glimpse"))
    try:
        with make_client(settings, services) as client:
            status, body = health(client)
    finally:
        services.close()
    assert status == 503
    assert body["database"]["status"] == "error"
    assert body["database"]["detail"] == "The database is unavailable; retry the request later."
    assert "127.0.0.1" not in str(body)
    assert body["stores"]["local"]["status"] == "ok"


def test_needs_no_token(tmp_path: Path, clean_db: str) -> None:
    settings = load_settings(env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="tokens")
    services: Services = build_services(settings)
    try:
        with make_client(settings, services) as client:
            assert client.get("/v2/images").status_code == 401
            assert client.get("/healthcheck").status_code == 200
    finally:
        services.close()
