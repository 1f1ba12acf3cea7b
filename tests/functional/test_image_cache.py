"""The image cache API (/v2/cache) and cached downloads, in process, on SQLite or PostgreSQL.

The in-process worker runs the ``cache_image`` tasks that ``PUT /v2/cache/{id}`` queues; tests wait for the
listed state with a generous deadline (a loaded machine may take its time), never for a fixed sleep.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from glimpse.cache.files import RECORD_RESERVE, CacheDir
from glimpse.cli.main import main
from glimpse.container import Services, build_services
from glimpse.settings import Settings, load_settings
from tests.conftest import make_client
from tests.functional.conftest import ALICE, BOB, plain_error

NODE = "http://node-a.example:9292"
DEADLINE = 60.0


@pytest.fixture
def settings(tmp_path: Path, clean_db: str) -> Settings:
    return load_settings(
        env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth",
        image_cache_dir=tmp_path / "cache", image_cache_min_free=0, worker_self_reference_url=NODE,
        task_heartbeat_interval=0.2,
    )  # fmt: skip


def cache_state(client: TestClient) -> dict[str, Any]:
    response = client.get("/v2/cache")
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state


def wait_cached(client: TestClient, image_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        state = cache_state(client)
        for entry in state["cached_images"]:
            if entry["image_id"] == image_id:
                return dict(entry)
        time.sleep(0.05)
    raise AssertionError(f"image {image_id} was not cached within {DEADLINE}s: {cache_state(client)}")


def metric(client: TestClient, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def cache_files(settings: Settings) -> list[Path]:
    assert settings.image_cache_dir is not None
    return sorted(p for p in (settings.image_cache_dir / "data").iterdir())


def test_versions_offer_the_cache_api(client: TestClient) -> None:
    versions = client.get("/versions").json()["versions"]
    ids = [v["id"] for v in versions]
    assert ids[:5] == ["v2.18", "v2.17", "v2.16", "v2.15", "v2.14"]
    assert ids[-1] == "v2.0"
    assert [v["id"] for v in versions if v["status"] == "CURRENT"] == ["v2.18"]
    assert client.get("/v2.18/cache").status_code == 200


def test_cache_off_answers_as_glance(tmp_path: Path, clean_db: str) -> None:
    settings = load_settings(env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth")
    services = build_services(settings)
    try:
        with make_client(settings, services) as client:
            for method, path in (("GET", "/v2/cache"), ("DELETE", "/v2/cache"), ("POST", "/v2/cache/clean"),
                                 ("POST", "/v2/cache/prune")):  # fmt: skip
                response = client.request(method, path)
                assert response.status_code == 404, (method, path)
                assert response.text == plain_error("404 Not Found", "Caching via API is not supported at this site.")
            ids = [v["id"] for v in client.get("/versions").json()["versions"]]
            assert "v2.18" not in ids
            assert "v2.14" not in ids
            assert "v2.17" in ids
            assert client.get("/v2.18/images").status_code == 300
    finally:
        services.close()


def test_queue_caches_at_once_and_downloads_are_served_from_the_cache(
    client: TestClient, settings: Settings, active_image: Callable[..., dict[str, Any]]
) -> None:
    data = os.urandom(300_000)
    image = active_image(data)
    response = client.put(f"/v2/cache/{image['id']}")
    assert response.status_code == 202, response.text
    entry = wait_cached(client, image["id"])
    assert entry["size"] == len(data)
    assert entry["hits"] == 0
    assert entry["checksum"]
    assert cache_state(client)["queued_images"] == []
    assert [p.name for p in cache_files(settings)] == [image["id"]]

    hits = metric(client, "glimpse_image_cache_hits_total")
    response = client.get(f"/v2/images/{image['id']}/file")
    assert response.status_code == 200
    assert response.content == data
    ranged = client.get(f"/v2/images/{image['id']}/file", headers={"Range": "bytes=1000-1999"})
    assert ranged.status_code == 206
    assert ranged.content == data[1000:2000]
    assert ranged.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    assert metric(client, "glimpse_image_cache_hits_total") == hits + 2
    assert metric(client, "glimpse_image_cache_bytes_total", direction="out") >= len(data) + 1000
    assert wait_cached(client, image["id"])["hits"] == 2

    assert client.get(f"/v2/cache/nodes/{image['id']}").json() == [NODE]


def test_a_download_fills_the_cache_as_it_streams(
    client: TestClient, settings: Settings, active_image: Callable[..., dict[str, Any]]
) -> None:
    data = os.urandom(200_000)
    image = active_image(data)
    misses = metric(client, "glimpse_image_cache_misses_total")
    assert client.get(f"/v2/images/{image['id']}/file").content == data
    assert metric(client, "glimpse_image_cache_misses_total") == misses + 1
    wait_cached(client, image["id"])
    assert client.get(f"/v2/images/{image['id']}/file").content == data
    assert metric(client, "glimpse_image_cache_hits_total") >= 1
    # a ranged read of an uncached image does not fill
    other = active_image(os.urandom(1000))
    assert client.get(f"/v2/images/{other['id']}/file", headers={"Range": "bytes=0-9"}).status_code == 206
    assert other["id"] not in [e["image_id"] for e in cache_state(client)["cached_images"]]


def test_queue_refuses_unknown_and_inactive_images(
    client: TestClient, make_image: Callable[..., dict[str, Any]]
) -> None:
    response = client.put("/v2/cache/4a1b8e6f-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert "Image 4a1b8e6f-0000-4000-8000-000000000000 not found." in response.text
    queued = make_image()
    response = client.put(f"/v2/cache/{queued['id']}")
    assert response.status_code == 400
    assert "Only images with status active can be targeted for queueing" in response.text


def test_delete_clear_clean_prune(
    client: TestClient, settings: Settings, active_image: Callable[..., dict[str, Any]]
) -> None:
    first, second = active_image(b"a" * 5000), active_image(b"b" * 7000)
    for image in (first, second):
        assert client.put(f"/v2/cache/{image['id']}").status_code == 202
        wait_cached(client, image["id"])
    assert client.delete(f"/v2/cache/{first['id']}").status_code == 204
    assert [e["image_id"] for e in cache_state(client)["cached_images"]] == [second["id"]]
    assert [p.name for p in cache_files(settings)] == [second["id"]]
    assert client.delete("/v2/cache/4a1b8e6f-0000-4000-8000-000000000000").status_code == 404

    response = client.delete("/v2/cache", headers={"x-image-cache-clear-target": "everything"})
    assert response.status_code == 400
    assert "must be 'cache', 'queue' or empty string" in response.text
    assert client.delete("/v2/cache", headers={"x-image-cache-clear-target": "queue"}).status_code == 204
    assert [e["image_id"] for e in cache_state(client)["cached_images"]] == [second["id"]]
    assert client.delete("/v2/cache", headers={"x-image-cache-clear-target": "cache"}).status_code == 204
    assert cache_state(client) == {"cached_images": [], "queued_images": []}
    assert cache_files(settings) == []

    response = client.post("/v2/cache/clean")
    assert response.status_code == 200
    assert response.content == b""
    response = client.post("/v2/cache/prune")
    assert response.status_code == 200
    assert response.json() == {"total_files_pruned": 0, "total_bytes_pruned": 0}
    assert client.get("/v2/cache/clean").status_code == 405


def test_clean_removes_stale_partial_files(client: TestClient, settings: Settings) -> None:
    assert settings.image_cache_dir is not None
    client.get("/v2/cache")
    dead = settings.image_cache_dir / "incomplete" / "4a1b8e6f-0000-4000-8000-000000000000.999999999.abcd"
    dead.write_bytes(b"x" * 100)
    assert client.post("/v2/cache/clean").status_code == 200
    assert not dead.exists()


def test_cache_api_is_admin_only(client: TestClient, active_image: Callable[..., dict[str, Any]]) -> None:
    image = active_image(headers=ALICE)
    for method, path in (("GET", "/v2/cache"), ("PUT", f"/v2/cache/{image['id']}"),
                         ("DELETE", f"/v2/cache/{image['id']}"), ("DELETE", "/v2/cache"),
                         ("POST", "/v2/cache/clean"), ("POST", "/v2/cache/prune"),
                         ("GET", f"/v2/cache/nodes/{image['id']}")):  # fmt: skip
        assert client.request(method, path, headers=ALICE).status_code == 403, (method, path)


def test_cached_reads_are_checked_like_store_reads(
    client: TestClient, active_image: Callable[..., dict[str, Any]]
) -> None:
    data = os.urandom(30_000)
    image = active_image(data, headers=ALICE)  # alpha's private image, cached by the admin
    assert client.put(f"/v2/cache/{image['id']}").status_code == 202
    wait_cached(client, image["id"])
    hits = metric(client, "glimpse_image_cache_hits_total")
    ranged = client.get(f"/v2/images/{image['id']}/file", headers=ALICE | {"Range": "bytes=10-19"})
    assert (ranged.status_code, ranged.content) == (206, data[10:20])
    assert metric(client, "glimpse_image_cache_hits_total") == hits + 1
    # another project: the same 404 as without the cache, and the cache is not even looked at
    for headers in (BOB, BOB | {"Range": "bytes=10-19"}):
        assert client.get(f"/v2/images/{image['id']}/file", headers=headers).status_code == 404
    assert client.get(f"/v2/images/{image['id']}/file", headers=ALICE | {"Range": "bytes=99999-"}).status_code == 416
    assert metric(client, "glimpse_image_cache_hits_total") == hits + 1
    assert client.post(f"/v2/images/{image['id']}/actions/deactivate").status_code == 204
    assert client.get(f"/v2/images/{image['id']}/file", headers=ALICE).status_code == 403
    assert metric(client, "glimpse_image_cache_hits_total") == hits + 1


def test_a_corrupted_cached_file_is_never_served(
    client: TestClient, settings: Settings, active_image: Callable[..., dict[str, Any]]
) -> None:
    data = os.urandom(100_000)
    image = active_image(data)
    assert client.put(f"/v2/cache/{image['id']}").status_code == 202
    wait_cached(client, image["id"])
    (path,) = cache_files(settings)
    os.chmod(path, 0o644)
    with open(path, "r+b") as handle:  # same size, one byte flipped
        handle.seek(5000)
        byte = handle.read(1)
        handle.seek(5000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    evictions = metric(client, "glimpse_image_cache_evictions_total", reason="invalid")
    response = client.get(f"/v2/images/{image['id']}/file")
    assert response.status_code == 200
    assert response.content == data
    assert metric(client, "glimpse_image_cache_evictions_total", reason="invalid") == evictions + 1
    ranged = client.get(f"/v2/images/{image['id']}/file", headers={"Range": "bytes=4990-5009"})
    assert ranged.content == data[4990:5010]


def test_a_deactivated_image_is_not_served_from_the_cache(
    client: TestClient, settings: Settings, active_image: Callable[..., dict[str, Any]]
) -> None:
    data = os.urandom(50_000)
    image = active_image(data)
    assert client.put(f"/v2/cache/{image['id']}").status_code == 202
    wait_cached(client, image["id"])
    assert client.post(f"/v2/images/{image['id']}/actions/deactivate").status_code == 204
    assert client.get(f"/v2/images/{image['id']}/file").content == data  # the admin reads the store's copy
    assert cache_files(settings) == []
    assert cache_state(client)["cached_images"] == []


def test_deleted_images_are_evicted_by_the_sweep(
    client: TestClient, services: Services, settings: Settings, active_image: Callable[..., dict[str, Any]]
) -> None:
    image = active_image(os.urandom(20_000))
    assert client.put(f"/v2/cache/{image['id']}").status_code == 202
    wait_cached(client, image["id"])
    assert client.delete(f"/v2/images/{image['id']}").status_code == 204
    client.portal.call(services.cache.sweep)  # type: ignore[union-attr]
    assert cache_files(settings) == []
    assert cache_state(client)["cached_images"] == []


def test_the_worker_evicts_deleted_and_deactivated_images_at_its_next_poll(
    client: TestClient, settings: Settings, active_image: Callable[..., dict[str, Any]]
) -> None:
    deleted, deactivated, kept = (active_image(os.urandom(10_000 + i)) for i in range(3))
    for image in (deleted, deactivated, kept):
        assert client.put(f"/v2/cache/{image['id']}").status_code == 202
        wait_cached(client, image["id"])
    before = metric(client, "glimpse_image_cache_evictions_total", reason="inactive")
    # neither change touches the cache; no download, clean or sweep follows: the worker's poll evicts both
    assert client.delete(f"/v2/images/{deleted['id']}").status_code == 204
    assert client.post(f"/v2/images/{deactivated['id']}/actions/deactivate").status_code == 204
    # the worker removes each file, then its row and counts it (NodeCache.evict): wait for the rows too
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline and (
        len(cache_files(settings)) > 1 or len(cache_state(client)["cached_images"]) > 1
    ):
        time.sleep(0.05)
    assert [p.name for p in cache_files(settings)] == [kept["id"]]
    assert [e["image_id"] for e in cache_state(client)["cached_images"]] == [kept["id"]]
    assert metric(client, "glimpse_image_cache_evictions_total", reason="inactive") == before + 2


@pytest.fixture
def small_cache(tmp_path: Path, clean_db: str) -> Iterator[tuple[TestClient, Settings]]:
    budget = 3 * (100_000 + RECORD_RESERVE)
    settings = load_settings(
        env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth",
        image_cache_dir=tmp_path / "small-cache", image_cache_max_size=budget, image_cache_min_free=0,
        worker_self_reference_url=NODE,
    )  # fmt: skip
    services = build_services(settings)
    try:
        with make_client(settings, services) as client:
            yield client, settings
    finally:
        services.close()


def test_concurrent_fills_never_exceed_the_budget(small_cache: tuple[TestClient, Settings]) -> None:
    client, settings = small_cache
    assert settings.image_cache_dir is not None
    images = []
    for _i in range(10):
        data = os.urandom(100_000)
        created = client.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"}).json()
        put = client.put(f"/v2/images/{created['id']}/file", content=data,
                         headers={"content-type": "application/octet-stream"})  # fmt: skip
        assert put.status_code == 204
        images.append((created["id"], data))
    stop = threading.Event()
    peak = [0]

    files = CacheDir(settings.image_cache_dir, settings.image_cache_max_size)

    def watch() -> None:  # every file's size, summed under the cache's lock (a consistent view)
        while not stop.is_set():
            with files.locked():
                total = sum(p.stat().st_size for p in settings.image_cache_dir.rglob("*")  # type: ignore[union-attr]
                            if p.is_file() and p.name != ".lock")  # fmt: skip
            peak[0] = max(peak[0], total)

    def download(item: tuple[str, bytes]) -> None:
        image_id, data = item
        response = client.get(f"/v2/images/{image_id}/file")
        assert response.status_code == 200
        assert response.content == data

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(download, images * 3))
    finally:
        stop.set()
        watcher.join()
    assert 0 < peak[0] <= settings.image_cache_max_size
    assert len(cache_files(settings)) <= 3
    assert metric(client, "glimpse_image_cache_evictions_total", reason="budget") > 0
    cached = cache_state(client)["cached_images"]
    assert sorted(e["image_id"] for e in cached) == sorted(p.name for p in cache_files(settings))


def test_the_glimpse_cache_commands(
    client: TestClient, settings: Settings, active_image: Callable[..., dict[str, Any]]
) -> None:
    env = {
        "GLIMPSE_DATA_DIR": str(settings.data_dir),
        "GLIMPSE_DATABASE_URL": settings.database_url.get_secret_value(),
        "GLIMPSE_AUTH": "noauth",
        "GLIMPSE_CONFIG": "",
        "GLIMPSE_IMAGE_CACHE_DIR": str(settings.image_cache_dir),
        "GLIMPSE_IMAGE_CACHE_MIN_FREE": "0",
        "GLIMPSE_WORKER_SELF_REFERENCE_URL": NODE,
    }

    def cli(*args: str) -> str:
        result = CliRunner().invoke(main, ["cache", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    image = active_image(os.urandom(30_000))
    assert "queued 1 image(s)" in cli("queue", image["id"])
    wait_cached(client, image["id"])  # by the server's worker: the same node
    listed = json.loads(cli("list"))
    assert [e["image_id"] for e in listed["cached_images"]] == [image["id"]]
    assert json.loads(cli("nodes", image["id"]).splitlines()[-1]) == [NODE]
    assert json.loads(cli("prune").splitlines()[-1]) == {"total_files_pruned": 0, "total_bytes_pruned": 0}
    assert "cleaned" in cli("clean")
    assert json.loads(cli("clear", "--target", "queue").splitlines()[-1]) == {"queue_deleted": 0}
    assert "deleted 1 image(s)" in cli("delete", image["id"])
    assert cache_state(client) == {"cached_images": [], "queued_images": []}
    failed = CliRunner().invoke(main, ["cache", "queue", "4a1b8e6f-0000-4000-8000-000000000000"], env=env)
    assert failed.exit_code == 1
    assert "not found" in failed.output


def test_a_response_never_sent_leaves_no_partial_file(
    client: TestClient, settings: Settings, active_image: Callable[..., dict[str, Any]]
) -> None:
    assert settings.image_cache_dir is not None
    image = active_image(os.urandom(40_000))
    assert client.head(f"/v2/images/{image['id']}/file").status_code == 200
    with client.stream("GET", f"/v2/images/{image['id']}/file") as response:  # the client goes away unread
        assert response.status_code == 200
    assert list((settings.image_cache_dir / "incomplete").iterdir()) == []
