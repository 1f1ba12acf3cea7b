"""Interoperable import in-process: stage + glance-direct, web-download from a local HTTP server, copy-image,
a half-failed import into two stores, the bookkeeping properties, tasks and /v2/info/import."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.container import Services, build_services
from glimpse.settings import Settings, load_settings
from tests.conftest import make_client, running_services
from tests.functional.conftest import ALICE, BOB, OCTET, web_settings
from tests.webserver import QuietHandler, serving

DATA = os.urandom(3 * 1024 * 1024 + 17)


@pytest.fixture
def multi_settings(tmp_path: Path, clean_db: str) -> Settings:
    return web_settings(tmp_path, clean_db, "fast:file,cheap:file", task_heartbeat_interval=0.2)


@pytest.fixture
def multi(multi_settings: Settings) -> Iterator[tuple[TestClient, Services]]:
    with running_services(multi_settings) as app:
        yield app


@pytest.fixture
def web_server() -> Iterator[str]:
    """A local HTTP server serving DATA at /image.raw and failing half-way at /broken.raw."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            if self.path == "/image.raw":
                self.send_response(200)
                self.send_header("Content-Length", str(len(DATA)))
                self.end_headers()
                self.wfile.write(DATA)
            elif self.path == "/broken.raw":
                self.send_response(200)
                self.send_header("Content-Length", str(len(DATA)))
                self.end_headers()
                self.wfile.write(DATA[: len(DATA) // 2])  # then the connection closes early
            else:
                self.send_error(404)

    with serving(Handler) as url:
        yield url


def _create(client: TestClient, **extra: Any) -> str:
    body = {"name": "imported", "disk_format": "raw", "container_format": "bare", **extra}
    response = client.post("/v2/images", json=body)
    assert response.status_code == 201, response.text
    assert "glance-direct" in response.headers["openstack-image-import-methods"]
    image_id: str = response.json()["id"]
    return image_id


def _wait(client: TestClient, image_id: str, done: Any, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        image: dict[str, Any] = client.get(f"/v2/images/{image_id}").json()
        if done(image):
            return image
        if time.monotonic() > deadline:
            raise AssertionError(f"import did not settle: {image}")
        time.sleep(0.05)


def _eventually(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not become true")
        time.sleep(0.05)


def _settled(image: dict[str, Any]) -> bool:
    return image["status"] not in ("importing",) and not image.get("os_glance_importing_to_stores")


def test_info_import_lists_the_methods(multi: tuple[TestClient, Services]) -> None:
    client, _ = multi
    body = client.get("/v2/info/import").json()
    assert body["import-methods"]["value"] == ["glance-direct", "web-download", "copy-image"]


def test_stage_then_glance_direct_into_two_stores(multi: tuple[TestClient, Services], multi_settings: Settings) -> None:
    client, _ = multi
    image_id = _create(client)
    staged = client.put(f"/v2/images/{image_id}/stage", content=DATA, headers=OCTET)
    assert staged.status_code == 204
    assert client.get(f"/v2/images/{image_id}").json()["status"] == "uploading"
    started = client.post(f"/v2/images/{image_id}/import",
                          json={"method": {"name": "glance-direct"}, "stores": ["fast", "cheap"]})
    assert started.status_code == 202, started.text
    assert (started.content, started.headers["content-type"]) == (b"", "text/html; charset=utf-8")  # as Glance
    image = _wait(client, image_id, _settled)
    assert image["status"] == "active"
    assert sorted(image["stores"].split(",")) == ["cheap", "fast"]
    assert image["checksum"] == hashlib.md5(DATA, usedforsecurity=False).hexdigest()
    assert image["os_hash_value"] == hashlib.sha512(DATA).hexdigest()
    assert image["size"] == len(DATA)
    assert client.get(f"/v2/images/{image_id}/file").content == DATA
    tasks = client.get(f"/v2/images/{image_id}/tasks").json()["tasks"]
    assert [t["status"] for t in tasks] == ["success"]  # finished in the transaction that made the image active
    assert tasks[0]["input"]["import_req"] == {"method": {"name": "glance-direct"}, "stores": ["fast", "cheap"]}
    # Glance's bookkeeping: the import lock is dropped, no store failed
    assert "os_glance_import_task" not in image
    assert (image["os_glance_importing_to_stores"], image["os_glance_failed_import"]) == ("", "")
    staging = multi_settings.data_dir / "staging"  # removed once the import committed
    _eventually(lambda: not staging.exists() or list(staging.iterdir()) == [])


def test_glance_direct_without_staged_data_is_409(multi: tuple[TestClient, Services]) -> None:
    client, _ = multi
    image_id = _create(client)
    response = client.post(f"/v2/images/{image_id}/import", json={"method": {"name": "glance-direct"}})
    assert response.status_code == 409
    assert "stage" in response.text


def test_web_download(multi: tuple[TestClient, Services], web_server: str) -> None:
    client, _ = multi
    image_id = _create(client)
    started = client.post(f"/v2/images/{image_id}/import",
                          json={"method": {"name": "web-download", "uri": f"{web_server}/image.raw"}})
    assert started.status_code == 202, started.text
    image = _wait(client, image_id, _settled)
    assert image["status"] == "active", image
    assert image["stores"] == "fast"
    assert client.get(f"/v2/images/{image_id}/file").content == DATA


def test_web_download_refuses_a_private_address_by_default(multi: tuple[TestClient, Services]) -> None:
    client, _ = multi
    image_id = _create(client)
    response = client.post(f"/v2/images/{image_id}/import",
                           json={"method": {"name": "web-download", "uri": "http://10.1.2.3/x.raw"}})
    assert response.status_code == 400
    assert "URI for web-download does not pass filtering" in response.text  # at request time, as Glance
    assert client.get(f"/v2/images/{image_id}").json()["status"] == "queued"
    # an image without its formats is a 409 first, whatever the address (Glance's order of checks)
    bare = client.post("/v2/images", json={"name": "no formats"}).json()["id"]
    response = client.post(f"/v2/images/{bare}/import",
                           json={"method": {"name": "web-download", "uri": "http://10.1.2.3/x.raw"}})
    assert response.status_code == 409, response.text


def test_web_download_failing_half_way_leaves_a_consistent_image(
    multi: tuple[TestClient, Services], multi_settings: Settings, web_server: str
) -> None:
    client, _ = multi
    image_id = _create(client)
    started = client.post(f"/v2/images/{image_id}/import",
                          json={"method": {"name": "web-download", "uri": f"{web_server}/broken.raw"},
                                "stores": ["fast", "cheap"]})
    assert started.status_code == 202
    image = _wait(client, image_id, _settled)
    assert image["status"] == "queued"
    assert image["os_glance_failed_import"] == "cheap,fast"  # sorted, as Glance lists them
    assert "os_glance_import_task" not in image
    task = client.get(f"/v2/images/{image_id}/tasks").json()["tasks"][0]
    assert task["status"] == "failure"
    assert task["message"]
    for store in ("fast", "cheap"):
        datadir = Path(multi_settings.stores[store].options.filesystem_store_datadir)
        assert [p.name for p in datadir.iterdir()] == []


def test_copy_image_to_a_second_store(multi: tuple[TestClient, Services]) -> None:
    client, _ = multi
    image_id = _create(client)
    assert client.put(f"/v2/images/{image_id}/file", content=DATA, headers=OCTET).status_code == 204
    started = client.post(f"/v2/images/{image_id}/import",
                          json={"method": {"name": "copy-image"}, "stores": ["cheap"]})
    assert started.status_code == 202, started.text
    image = _wait(client, image_id, lambda i: _settled(i) and "cheap" in i.get("stores", ""))
    assert sorted(image["stores"].split(",")) == ["cheap", "fast"]
    # each copy downloads identically: drop the first and read the second
    assert client.delete(f"/v2/stores/fast/{image_id}").status_code == 204
    assert client.get(f"/v2/images/{image_id}/file").content == DATA


def test_copy_image_is_admin_only(multi: tuple[TestClient, Services]) -> None:
    client, _ = multi
    created = client.post("/v2/images", json={"name": "a", "disk_format": "raw", "container_format": "bare"},
                          headers=ALICE).json()
    client.put(f"/v2/images/{created['id']}/file", content=b"abc", headers={**OCTET, **ALICE})
    response = client.post(f"/v2/images/{created['id']}/import",
                           json={"method": {"name": "copy-image"}, "stores": ["cheap"]}, headers=ALICE)
    assert response.status_code == 403


def test_import_errors(multi: tuple[TestClient, Services]) -> None:
    client, _ = multi
    image_id = _create(client)
    url = f"/v2/images/{image_id}/import"
    assert client.post(url, json={"method": {"name": "teleport"}}).status_code == 400
    assert client.post(url, json={"method": {"name": "web-download"}}).status_code == 400
    response = client.post(url, json={"method": {"name": "web-download", "uri": "http://x/"}, "stores": ["nope"]})
    assert response.status_code == 409  # Glance's api-ref: an unknown store identifier is a conflict
    assert client.post(url, json={"method": {"name": "glance-direct"}}, headers=BOB).status_code == 404


def test_tasks_api_is_admin_only_and_lists_import_tasks(multi: tuple[TestClient, Services]) -> None:
    client, _ = multi
    image_id = _create(client)
    client.put(f"/v2/images/{image_id}/stage", content=b"m" * (1024 * 1024 + 3), headers=OCTET)
    client.post(f"/v2/images/{image_id}/import", json={"method": {"name": "glance-direct"}})
    _wait(client, image_id, _settled)
    listed = client.get("/v2/tasks").json()["tasks"]
    assert len(listed) == 1
    shown = client.get(f"/v2/tasks/{listed[0]['id']}").json()
    assert shown["image_id"] == image_id
    assert shown["type"] == "api_image_import"
    assert shown["status"] == "success"
    # Glance's keys and progress message; Glimpse's own bookkeeping is not shown
    assert shown["message"] == "Copied 1 MiB"  # the whole copy, not the last heartbeat's count
    assert set(shown["input"]) == {"image_id", "import_req", "backend"}
    assert shown["result"] == {"image_id": image_id}
    assert set(listed[0]) == {"id", "type", "status", "owner", "expires_at", "created_at", "updated_at", "self",
                              "schema"}
    of_image = client.get(f"/v2/images/{image_id}/tasks").json()["tasks"]
    assert set(of_image[0]) == {"id", "type", "status", "owner", "input", "result", "message", "image_id", "user_id",
                                "request_id", "expires_at", "created_at", "updated_at", "deleted", "deleted_at"}
    assert of_image[0]["deleted"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", of_image[0]["created_at"])  # Glance's row
    assert client.get("/v2/tasks", headers=ALICE).status_code == 403
    assert client.delete(f"/v2/tasks/{listed[0]['id']}").status_code == 405


@pytest.fixture
def remote_region(tmp_path: Path) -> Iterator[str]:
    """Another region: a second, real Glimpse server on loopback with its own database and stores."""
    import socket

    import uvicorn

    from glimpse.app import create_app
    from glimpse.db.migrate import upgrade

    remote_db = f"sqlite:///{tmp_path / 'remote.db'}"
    upgrade(remote_db)
    remote_settings = load_settings(env={}, data_dir=tmp_path / "remote", database_url=remote_db, auth="noauth",
                                    worker_in_process=False)
    remote_services = build_services(remote_settings)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(remote_settings, remote_services), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        remote_services.close()


def test_glance_download_from_another_region(tmp_path: Path, clean_db: str, remote_region: str) -> None:
    import httpx

    remote = httpx.Client(base_url=remote_region)
    created = remote.post("/v2/images", json={"name": "far", "disk_format": "raw", "container_format": "bare",
                                              "os_distro": "cirros", "min_ram": 64}).json()
    assert remote.put(f"/v2/images/{created['id']}/file", content=DATA, headers=OCTET).status_code == 204

    settings = load_settings(env={}, data_dir=tmp_path / "local", database_url=clean_db, auth="noauth",
                             glance_download_endpoints={"RegionTwo": remote_region}, task_heartbeat_interval=0.2)
    services = build_services(settings)
    with make_client(settings, services) as client:
        assert "glance-download" in client.get("/v2/info/import").json()["import-methods"]["value"]
        image_id = _create(client)
        response = client.post(f"/v2/images/{image_id}/import", json={"method": {
            "name": "glance-download", "glance_image_id": created["id"], "glance_region": "RegionTwo"}})
        assert response.status_code == 202, response.text
        image = _wait(client, image_id, _settled)
        assert image["status"] == "active", image
        assert image["os_hash_value"] == hashlib.sha512(DATA).hexdigest()
        assert image["os_distro"] == "cirros"
        assert image["min_ram"] == 64
        assert client.get(f"/v2/images/{image_id}/file").content == DATA
        # the remote's formats become the image's, as in Glance (the data is inspected against them)
        other = _create(client, disk_format="qcow2", container_format="ovf")
        response = client.post(f"/v2/images/{other}/import", json={"method": {
            "name": "glance-download", "glance_image_id": created["id"], "glance_region": "RegionTwo"}})
        assert response.status_code == 202, response.text
        image = _wait(client, other, lambda i: i["status"] == "active")
        assert (image["disk_format"], image["container_format"]) == ("raw", "bare")
        # Glance's checks of the request; an unknown region is accepted and fails the task
        for method, message in [
            ({"glance_image_id": created["id"]}, "'glance_region' needs to be set for glance-download import method"),
            ({"glance_region": "RegionTwo"}, "'glance_image_id' needs to be set for glance-download import method"),
            ({"glance_region": "RegionTwo", "glance_image_id": "x"}, "Remote image id does not look like a UUID: x"),
        ]:
            refused = client.post(f"/v2/images/{_create(client)}/import", headers={"accept": "application/json"},
                                  json={"method": {"name": "glance-download", **method}})
            assert (refused.status_code, refused.json()["message"]) == (400, message)
        nowhere = _create(client, hw_cpu_cores="1")
        accepted = client.post(f"/v2/images/{nowhere}/import", json={"method": {
            "name": "glance-download", "glance_image_id": created["id"], "glance_region": "Nowhere",
            "glance_service_interface": "not an interface"}})
        assert accepted.status_code == 202, accepted.text
        deadline = time.monotonic() + 60
        while (tasks := client.get(f"/v2/images/{nowhere}/tasks").json()["tasks"])[0]["status"] != "failure":
            assert time.monotonic() < deadline, tasks
            time.sleep(0.05)
        assert "not an interface glance endpoint not found for region Nowhere" in tasks[0]["message"]
        image = client.get(f"/v2/images/{nowhere}").json()
        assert (image["status"], image["hw_cpu_cores"]) == ("queued", "1")
    services.close()
    remote.close()


def test_legacy_task_import_creates_and_imports_an_image(multi: tuple[TestClient, Services], web_server: str) -> None:
    client, _ = multi
    response = client.post("/v2/tasks", json={"type": "import", "input": {
        "import_from": f"{web_server}/image.raw", "import_from_format": "raw",
        "image_properties": {"name": "from-task", "container_format": "bare"}}})
    assert response.status_code == 201, response.text
    task = response.json()
    assert task["type"] == "import"
    image_id = task["image_id"]
    image = _wait(client, image_id, _settled)
    assert image["status"] == "active"
    assert image["name"] == "from-task"
    assert client.get(f"/v2/tasks/{task['id']}").json()["status"] == "success"
    assert client.post("/v2/tasks", json={"type": "import", "input": {}}).status_code == 400
    assert client.post("/v2/tasks", json={"type": "clone", "input": {}}).status_code == 400
