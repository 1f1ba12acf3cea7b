"""Quotas in the embedded mode: each of the four limits at every entry point, the 413 that names the limit,
nothing left behind by a refused or cut-off write, and /v2/info/usage."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.container import Services
from glimpse.domain.quotas import MIB, Resource
from glimpse.settings import Settings
from tests.conftest import running_services
from tests.functional.conftest import ALICE, BOB, CAROL_READER, OCTET, store_files, web_settings
from tests.webserver import bytes_handler, serving

MiB = MIB
DATA = os.urandom(MiB + 4321)  # 1 MiB and a bit: counts as 2 MiB when rounded up, 1 MiB when rounded down


@pytest.fixture
def quota_settings(tmp_path: Path, clean_db: str) -> Settings:
    return web_settings(
        tmp_path, clean_db, "fast:file,cheap:file", task_heartbeat_interval=0.2, upload_block_size=256 * 1024
    )


@pytest.fixture
def app(quota_settings: Settings) -> Iterator[tuple[TestClient, Services]]:
    with running_services(quota_settings) as running:
        yield running


@pytest.fixture
def web_server() -> Iterator[str]:
    with serving(bytes_handler(DATA)) as url:
        yield f"{url}/image.raw"


def set_limits(services: Services, project: str, **limits: int | None) -> None:
    asyncio.run(services.quotas.set_limits(project, {Resource(name): value for name, value in limits.items()}))


def create(client: TestClient, headers: dict[str, str] = ALICE) -> str:
    response = client.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"}, headers=headers)
    assert response.status_code == 201, response.text
    image_id: str = response.json()["id"]
    return image_id


def show(client: TestClient, image_id: str) -> dict[str, Any]:
    image: dict[str, Any] = client.get(f"/v2/images/{image_id}", headers=ALICE).json()
    return image


def usage(client: TestClient, headers: dict[str, str] = ALICE) -> dict[str, dict[str, int]]:
    response = client.get("/v2/info/usage", headers={**headers, "accept": "application/json"})
    assert response.status_code == 200, response.text
    body: dict[str, dict[str, dict[str, int]]] = response.json()
    return body["usage"]


def wait_settled(client: TestClient, image_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        image = show(client, image_id)
        if image["status"] != "importing" and not image.get("os_glance_importing_to_stores"):
            return image
        assert time.monotonic() < deadline, f"import did not settle: {image}"
        time.sleep(0.05)


def chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body without Content-Length (chunked): its size is known only while it streams."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_usage_starts_unlimited_and_empty(app: tuple[TestClient, Services]) -> None:
    client, services = app
    assert usage(client) == {}  # no limits at all: what Glance without Keystone limits answers
    set_limits(services, "*", image_count_total=-1)  # a limit set (even "unlimited"): every resource reported
    assert usage(client) == {
        "image_size_total": {"limit": -1, "usage": 0},
        "image_stage_total": {"limit": -1, "usage": 0},
        "image_count_total": {"limit": -1, "usage": 0},
        "image_count_uploading": {"limit": -1, "usage": 0},
    }


def test_image_count_total_on_create(app: tuple[TestClient, Services]) -> None:
    client, services = app
    set_limits(services, "alpha", image_count_total=2)
    create(client)
    create(client)
    refused = client.post("/v2/images", json={"name": "third"}, headers=ALICE)
    assert refused.status_code == 413
    assert "image_count_total" in refused.text
    assert "limit is 2 images, current usage 2 images, request 1 image" in refused.text
    assert usage(client)["image_count_total"] == {"limit": 2, "usage": 2}
    # another project is not affected, and the default for every project applies where none is set
    create(client, BOB)
    set_limits(services, "*", image_count_total=0)
    assert client.post("/v2/images", json={}, headers=BOB).status_code == 413
    set_limits(services, "beta", image_count_total=-1)
    create(client, BOB)


def test_image_size_total_with_a_declared_size_is_refused_before_any_byte(
    app: tuple[TestClient, Services], quota_settings: Settings
) -> None:
    client, services = app
    set_limits(services, "alpha", image_size_total=1)
    image_id = create(client)
    response = client.put(
        f"/v2/images/{image_id}/file",
        content=DATA,
        headers={**ALICE, **OCTET, "x-openstack-image-size": str(len(DATA))},
    )
    assert response.status_code == 413
    assert "image_size_total limit is 1 MiB, current usage 0 MiB, request 1.0 MiB" in response.text
    assert show(client, image_id)["status"] == "queued"
    assert store_files(quota_settings, "fast") == []


def test_image_size_total_cuts_off_a_stream_of_unknown_size(
    app: tuple[TestClient, Services], quota_settings: Settings
) -> None:
    client, services = app
    set_limits(services, "alpha", image_size_total=2)
    first = create(client)
    assert client.put(f"/v2/images/{first}/file", content=DATA, headers={**ALICE, **OCTET}).status_code == 204
    assert usage(client)["image_size_total"] == {"limit": 2, "usage": 1}
    second = create(client)
    response = client.put(f"/v2/images/{second}/file", content=chunks(DATA), headers={**ALICE, **OCTET})
    assert response.status_code == 413, response.text
    assert "image_size_total" in response.text
    assert show(client, second)["status"] == "queued"
    assert [p.name for p in store_files(quota_settings, "fast")] == [first]
    # the refused upload released what it held: a smaller image still fits
    assert client.put(f"/v2/images/{second}/file", content=b"x" * 1000, headers={**ALICE, **OCTET}).status_code == 204
    # deleting an image gives its space back
    assert client.delete(f"/v2/images/{first}", headers=ALICE).status_code == 204
    assert usage(client)["image_size_total"]["usage"] == 0


def test_image_count_uploading_on_upload_stage_and_import(
    app: tuple[TestClient, Services], web_server: str, quota_settings: Settings
) -> None:
    client, services = app
    set_limits(services, "alpha", image_count_uploading=1)
    staged = create(client)
    assert client.put(f"/v2/images/{staged}/stage", content=DATA, headers={**ALICE, **OCTET}).status_code == 204
    assert usage(client)["image_count_uploading"] == {"limit": 1, "usage": 1}
    other = create(client)
    for method, path, kwargs in [
        ("PUT", f"/v2/images/{other}/file", {"content": b"abc", "headers": {**ALICE, **OCTET}}),
        ("PUT", f"/v2/images/{other}/stage", {"content": b"abc", "headers": {**ALICE, **OCTET}}),
        ("POST", f"/v2/images/{other}/import",
         {"json": {"method": {"name": "web-download", "uri": web_server}}, "headers": ALICE}),
    ]:  # fmt: skip
        response = client.request(method, path, **kwargs)
        assert response.status_code == 413, (path, response.text)
        assert "image_count_uploading limit is 1 image, current usage 1 image" in response.text
        assert show(client, other)["status"] == "queued"
    # the staged image already counts: importing it needs no second place
    started = client.post(f"/v2/images/{staged}/import", json={"method": {"name": "glance-direct"}}, headers=ALICE)
    assert started.status_code == 202, started.text
    assert wait_settled(client, staged)["status"] == "active"
    assert usage(client)["image_count_uploading"]["usage"] == 0
    # copy-image (an admin's call by default) of an active image takes a place of the owner's while it runs
    set_limits(services, "alpha", image_count_uploading=0)
    copy = client.post(f"/v2/images/{staged}/import", json={"method": {"name": "copy-image"}, "stores": ["cheap"]})
    assert copy.status_code == 413
    assert store_files(quota_settings, "cheap") == []


def test_image_stage_total_on_stage(app: tuple[TestClient, Services], quota_settings: Settings) -> None:
    client, services = app
    set_limits(services, "alpha", image_stage_total=1)
    image_id = create(client)
    response = client.put(f"/v2/images/{image_id}/stage", content=chunks(DATA), headers={**ALICE, **OCTET})
    assert response.status_code == 413, response.text
    assert "image_stage_total" in response.text
    assert show(client, image_id)["status"] == "queued"
    staging = quota_settings.data_dir / "staging"
    assert not staging.exists() or list(staging.iterdir()) == []
    set_limits(services, "alpha", image_stage_total=2)
    assert client.put(f"/v2/images/{image_id}/stage", content=DATA, headers={**ALICE, **OCTET}).status_code == 204
    assert show(client, image_id)["size"] == len(DATA)
    assert usage(client)["image_stage_total"] == {"limit": 2, "usage": 1}


def test_image_size_total_on_import_counts_every_copy(
    app: tuple[TestClient, Services], web_server: str, quota_settings: Settings
) -> None:
    client, services = app
    set_limits(services, "alpha", image_size_total=3)
    # glance-direct into two stores: two copies of 1 MiB and a bit need 3 MiB (rounded up per request)
    staged = create(client)
    assert client.put(f"/v2/images/{staged}/stage", content=DATA, headers={**ALICE, **OCTET}).status_code == 204
    started = client.post(
        f"/v2/images/{staged}/import",
        json={"method": {"name": "glance-direct"}, "stores": ["fast", "cheap"]},
        headers=ALICE,
    )
    assert started.status_code == 202, started.text
    assert wait_settled(client, staged)["status"] == "active"
    assert usage(client)["image_size_total"] == {"limit": 3, "usage": 2}
    # web-download of another 1 MiB: the stream is cut off when it crosses the limit, the task fails
    fetched = create(client)
    started = client.post(
        f"/v2/images/{fetched}/import", json={"method": {"name": "web-download", "uri": web_server}}, headers=ALICE
    )
    assert started.status_code == 202, started.text
    image = wait_settled(client, fetched)
    assert image["status"] == "queued"
    assert image["os_glance_failed_import"] == "fast"
    tasks = client.get(f"/v2/images/{fetched}/tasks", headers=ALICE).json()["tasks"]
    assert tasks[0]["status"] == "failure"
    assert "image_size_total" in tasks[0]["message"]
    assert len(store_files(quota_settings, "fast")) == 1
    # copy-image of a 1 MiB image into a third copy does not fit either, refused at once
    set_limits(services, "alpha", image_size_total=2)
    single = create(client, BOB)
    assert client.put(f"/v2/images/{single}/file", content=DATA, headers={**BOB, **OCTET}).status_code == 204
    set_limits(services, "beta", image_size_total=1)
    copy = client.post(f"/v2/images/{single}/import", json={"method": {"name": "copy-image"}, "stores": ["cheap"]})
    assert copy.status_code == 413
    assert "image_size_total" in copy.text
    assert not [p for p in store_files(quota_settings, "cheap") if p.name.startswith(single)]


def test_usage_is_readable_by_a_reader_and_reports_reservations(app: tuple[TestClient, Services]) -> None:
    client, services = app
    set_limits(services, "alpha", image_count_total=5, image_size_total=10)
    create(client)
    assert usage(client, CAROL_READER) == usage(client, ALICE)
    assert usage(client, CAROL_READER)["image_count_total"] == {"limit": 5, "usage": 1}


def test_usage_needs_a_project(app: tuple[TestClient, Services]) -> None:
    client, _ = app
    response = client.get("/v2/info/usage", headers={"X-User-Id": "someone", "X-Roles": "reader"})
    assert response.status_code == 403
