"""GET /metrics: request counts and latency by route template, image data bytes per store, upload failures."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from glimpse.container import Services, build_services
from glimpse.context import RequestContext
from glimpse.errors import ClientDisconnected
from glimpse.settings import Settings, load_settings
from tests.conftest import make_client
from tests.functional.conftest import OCTET

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def requests(samples: Samples, method: str, route: str, status: int) -> float:
    key = ("glimpse_http_requests_total", (("method", method), ("route", route), ("status", str(status))))
    return samples.get(key, 0.0)


def store_bytes(samples: Samples, store: str, direction: str) -> float:
    return samples.get(("glimpse_store_bytes_total", (("direction", direction), ("store", store))), 0.0)


def failures(samples: Samples, reason: str) -> float:
    return samples[("glimpse_upload_failures_total", (("reason", reason),))]


def test_requests_are_labelled_by_route_template(
    client: TestClient, active_image: Callable[..., dict[str, Any]]
) -> None:
    image = active_image()
    for _ in range(3):
        assert client.get(f"/v2/images/{image['id']}").status_code == 200
    assert client.get("/v2/images/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get("/v2/no/such/path/abc123").status_code == 404
    response = client.get("/metrics")
    samples = scrape(client)
    assert requests(samples, "GET", "/v2/images/{image_id}", 200) == 3
    assert requests(samples, "GET", "/v2/images/{image_id}", 404) == 1
    assert requests(samples, "POST", "/v2/images", 201) == 1
    assert requests(samples, "PUT", "/v2/images/{image_id}/file", 204) == 1
    assert requests(samples, "GET", "unmatched", 404) == 1
    assert requests(samples, "GET", "/metrics", 200) == 1  # the scrape before this one
    assert image["id"] not in response.text
    assert "abc123" not in response.text
    count = ("glimpse_http_request_duration_seconds_count", (("method", "GET"), ("route", "/v2/images/{image_id}")))
    assert samples[count] == 4


def test_needs_no_token_and_counts_401_by_route(tmp_path: Path, clean_db: str) -> None:
    settings = load_settings(env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="tokens")
    services = build_services(settings)
    try:
        with make_client(settings, services) as client:
            assert client.get("/v2/images/some-id", headers={"X-Auth-Token": "wrong"}).status_code == 401
            samples = scrape(client)
    finally:
        services.close()
    assert requests(samples, "GET", "/v2/images/{image_id}", 401) == 1


def test_openmetrics_when_asked(client: TestClient) -> None:
    response = client.get("/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


def test_each_app_has_its_own_figures(settings: Settings) -> None:
    first, second = build_services(settings), build_services(settings)
    try:
        with make_client(settings, first) as one, make_client(settings, second) as two:
            for _ in range(2):
                one.get("/versions")
            assert requests(scrape(one), "GET", "/versions", 200) == 2
            assert requests(scrape(two), "GET", "/versions", 200) == 0
    finally:
        first.close()
        second.close()


@pytest.fixture
def two_stores(tmp_path: Path, clean_db: str) -> Iterator[tuple[TestClient, Settings]]:
    env = {"GLIMPSE_ENABLED_BACKENDS": "fast:file,cheap:file", "GLIMPSE_DEFAULT_BACKEND": "fast"}
    settings = load_settings(env=env, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth")
    services = build_services(settings)
    try:
        with make_client(settings, services) as client:
            yield client, settings
    finally:
        services.close()


def create(client: TestClient) -> str:
    response = client.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"})
    assert response.status_code == 201
    image_id: str = response.json()["id"]
    return image_id


def test_bytes_in_and_out_per_store(two_stores: tuple[TestClient, Settings]) -> None:
    client, _ = two_stores
    samples = scrape(client)
    assert [store_bytes(samples, s, d) for s in ("fast", "cheap") for d in ("in", "out")] == [0, 0, 0, 0]
    fast, cheap = create(client), create(client)
    assert client.put(f"/v2/images/{fast}/file", content=b"f" * 1000, headers=OCTET).status_code == 204
    headers = {**OCTET, "x-image-meta-store": "cheap"}
    assert client.put(f"/v2/images/{cheap}/file", content=b"c" * 300, headers=headers).status_code == 204
    assert client.get(f"/v2/images/{fast}/file").content == b"f" * 1000
    assert client.get(f"/v2/images/{fast}/file", headers={"range": "bytes=0-99"}).status_code == 206
    assert len(client.get(f"/v2/images/{cheap}/file").content) == 300
    samples = scrape(client)
    assert store_bytes(samples, "fast", "in") == 1000
    assert store_bytes(samples, "cheap", "in") == 300
    assert store_bytes(samples, "fast", "out") == 1100
    assert store_bytes(samples, "cheap", "out") == 300


def test_upload_failures_by_reason(two_stores: tuple[TestClient, Settings]) -> None:
    client, settings = two_stores
    # bad request: more data than declared
    image_id = create(client)
    response = client.put(
        f"/v2/images/{image_id}/file", content=b"x" * 10, headers={**OCTET, "x-openstack-image-size": "5"}
    )
    assert response.status_code == 400
    # conflict: an image that already has data
    assert client.put(f"/v2/images/{image_id}/file", content=b"x" * 5, headers=OCTET).status_code == 204
    assert client.put(f"/v2/images/{image_id}/file", content=b"x" * 5, headers=OCTET).status_code == 409
    # not found
    missing = "00000000-0000-0000-0000-000000000000"
    assert client.put(f"/v2/images/{missing}/file", content=b"x", headers=OCTET).status_code == 404
    # store error: the store's directory is gone
    shutil.rmtree(settings.stores["cheap"].options.filesystem_store_datadir)
    headers = {**OCTET, "x-image-meta-store": "cheap"}
    assert client.put(f"/v2/images/{create(client)}/file", content=b"y" * 10, headers=headers).status_code == 502
    samples = scrape(client)
    assert failures(samples, "bad_request") == 1
    assert failures(samples, "conflict") == 1
    assert failures(samples, "not_found") == 1
    assert failures(samples, "store_error") == 1
    assert failures(samples, "too_large") == 0
    assert failures(samples, "client_disconnect") == 0


def test_too_large_upload(tmp_path: Path, clean_db: str) -> None:
    settings = load_settings(
        env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth", image_size_cap=100
    )
    services = build_services(settings)
    try:
        with make_client(settings, services) as client:
            declared = {**OCTET, "x-openstack-image-size": "101"}
            assert (
                client.put(f"/v2/images/{create(client)}/file", content=b"z" * 101, headers=declared).status_code == 413
            )
            assert client.put(f"/v2/images/{create(client)}/file", content=b"z" * 101, headers=OCTET).status_code == 413
            samples = scrape(client)
    finally:
        services.close()
    assert failures(samples, "too_large") == 2


def test_client_disconnect_is_counted(services: Services, client: TestClient) -> None:
    image_id = create(client)

    async def goes_away() -> AsyncIterator[bytes]:
        yield b"first part"
        raise ClientDisconnected("The client disconnected while sending image data")

    async def scenario() -> None:
        ctx = RequestContext(user_id="admin", project_id="admin", roles=frozenset({"admin", "member", "reader"}))
        with pytest.raises(ClientDisconnected):
            await services.image_data.upload(ctx, image_id, goes_away(), declared_size=None, store_id=None)

    asyncio.run(scenario())
    samples = scrape(client)
    assert failures(samples, "client_disconnect") == 1
    assert store_bytes(samples, "local", "in") == len(b"first part")
    assert client.get(f"/v2/images/{image_id}").json()["status"] == "queued"
