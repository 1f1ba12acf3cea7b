"""Helpers for the in-process HTTP tests: identities and small image factories."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.settings import Settings, load_settings

# noauth identities: a bare request is the admin of project "admin"
ADMIN: dict[str, str] = {}
ALICE = {"X-User-Id": "alice", "X-Project-Id": "alpha", "X-Roles": "member,reader"}
BOB = {"X-User-Id": "bob", "X-Project-Id": "beta", "X-Roles": "member,reader"}
CAROL_READER = {"X-User-Id": "carol", "X-Project-Id": "alpha", "X-Roles": "reader"}

OCTET = {"content-type": "application/octet-stream"}
PATCH21 = {"content-type": "application/openstack-images-v2.1-json-patch"}
PATCH20 = {"content-type": "application/openstack-images-v2.0-json-patch"}
JSON_ACCEPT = {"accept": "application/json"}


def web_settings(tmp_path: Path, database_url: str, backends: str | None = None, **options: Any) -> Settings:
    """Settings (noauth) whose imports and locations may fetch from this machine's test web servers
    (tests/webserver.py); ``backends`` as GLIMPSE_ENABLED_BACKENDS says them (none: the one default store)."""
    return load_settings(
        env={"GLIMPSE_ENABLED_BACKENDS": backends} if backends else {},
        data_dir=tmp_path / "data",
        database_url=database_url,
        auth="noauth",
        import_allowed_hosts=["127.0.0.1"],
        import_allowed_ports=[],
        **options,
    )


def plain_error(status: str, message: str) -> str:
    """webob's text/plain error body."""
    return f"{status}\n\n{message}\n\n   "


@pytest.fixture
def make_image(client: TestClient) -> Callable[..., dict[str, Any]]:
    """POST /v2/images as `headers` (default: admin) and return the created image."""

    def make(headers: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
        body.setdefault("disk_format", "raw")
        body.setdefault("container_format", "bare")
        response = client.post("/v2/images", json=body, headers=headers or {})
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    return make


@pytest.fixture
def upload(client: TestClient) -> Callable[..., None]:
    """PUT image data as `headers` (default: admin), expecting 204."""

    def put(image_id: str, data: bytes, headers: dict[str, str] | None = None) -> None:
        response = client.put(f"/v2/images/{image_id}/file", content=data, headers={**OCTET, **(headers or {})})
        assert response.status_code == 204, response.text

    return put


@pytest.fixture
def active_image(
    make_image: Callable[..., dict[str, Any]], upload: Callable[..., None]
) -> Callable[..., dict[str, Any]]:
    """An active image with `data`, owned by whoever `headers` names."""

    def make(data: bytes = b"0123456789", headers: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
        image = make_image(headers, **body)
        upload(image["id"], data, headers)
        image["size"] = len(data)
        image["status"] = "active"
        return image

    return make


def store_files(settings: Settings, store: str | None = None) -> list[Path]:
    """Every file in a store's directory (default: the default store)."""
    datadir = Path(settings.stores[store or settings.default_backend].options.filesystem_store_datadir)
    return sorted(p for p in datadir.rglob("*") if p.is_file()) if datadir.exists() else []


def race(count: int, send: Callable[[], Any]) -> list[Any]:
    """Call ``send`` from ``count`` threads released together (one in-process app serves them all at once:
    its database work runs on worker threads, so the requests really overlap)."""
    barrier = threading.Barrier(count)

    def one() -> Any:
        barrier.wait()
        return send()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: one(), range(count)))
