"""Interoperable image import against a real `glimpse serve --config FILE` with two filesystem stores
(`fast`, the default, and `cheap`), driven by python-glanceclient (command line and library) and
openstacksdk: glance-direct (stage + import), web-download from a local HTTP server, copy-image to the
second store, the bookkeeping properties, GET /v2/images/{id}/tasks, and imports into both stores that fail
half-way in one of them (a 4 MiB tmpfs mounted over the `cheap` store's directory).
"""

from __future__ import annotations

import html
import http.client
import http.server
import json
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    GlanceCLI,
    ImportServer,
    Payload,
    file_digests,
    parse_show,
    stays_healthy,
)

pytestmark = pytest.mark.e2e

IMPORT_METHODS = ["glance-direct", "web-download", "copy-image"]
SETTLE_TIMEOUT = 60.0


@pytest.fixture(autouse=True)
def _server_stays_healthy(import_server: ImportServer) -> Iterator[None]:
    """Replaces the conftest's check of the shared server: these tests only use the import server."""
    with stays_healthy(import_server):
        yield


# -- data and the web server web-download fetches from ----------------------------------------------------------
def _payload(path: Path, size: int) -> Payload:
    block = os.urandom(1 << 20)
    with path.open("wb") as handle:
        for index in range(size >> 20):
            handle.write(index.to_bytes(8, "little") + block[8:])
    md5, sha512 = file_digests(path)
    return Payload(path=path, size=size, md5=md5, sha512=sha512)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("import-data")


@pytest.fixture(scope="module")
def small(data_dir: Path) -> Payload:
    """6 MiB of random bytes: more than one 4 MiB block of the server's pipeline."""
    return _payload(data_dir / "small.img", 6 << 20)


@pytest.fixture(scope="module")
def big(data_dir: Path) -> Payload:
    """16 MiB: four times what the tmpfs under the `cheap` store holds."""
    return _payload(data_dir / "big.img", 16 << 20)


class WebServer:
    """Serves the files of ``root`` over HTTP on 127.0.0.1 and records each request's path and headers."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[tuple[str, dict[str, str]]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                path = owner.root / self.path.lstrip("/")
                if "/" in self.path.lstrip("/") or not path.is_file():
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(path.stat().st_size))
                self.end_headers()
                with path.open("rb") as handle:
                    while block := handle.read(1 << 20):
                        self.wfile.write(block)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def fetched(self, name: str) -> int:
        return sum(1 for path, _ in self.requests if path == f"/{name}")


@pytest.fixture(scope="module")
def web(data_dir: Path, small: Payload, big: Payload) -> Iterator[WebServer]:
    server = WebServer(data_dir)
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


# -- clients ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli(import_server: ImportServer) -> GlanceCLI:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(HOME=str(import_server.home), XDG_CACHE_HOME=str(import_server.home / ".cache"), COLUMNS="200")
    return GlanceCLI(server=import_server, env=env)


@pytest.fixture(scope="module")
def glance(import_server: ImportServer) -> Callable[[str], Any]:
    """``glance(user)`` -> a glanceclient v2 Client for that user."""
    import glanceclient  # type: ignore[import-untyped]

    def make(user: str) -> Any:
        return glanceclient.Client("2", endpoint=import_server.url, token=import_server.tokens[user])

    return make


@pytest.fixture(scope="module")
def sdk(import_server: ImportServer) -> Iterator[Any]:
    """An openstacksdk Connection acting as alpha: a fixed token, no Keystone, no catalog."""
    import openstack.connection

    conn = openstack.connection.Connection(
        auth_type="admin_token",
        auth={"endpoint": import_server.url, "token": import_server.tokens["alpha"]},
        image_endpoint_override=import_server.url,
    )
    yield conn
    conn.close()


def request(
    server: ImportServer,
    method: str,
    path: str,
    body: Any = None,
    user: str = "alpha",
    extra: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]), timeout=30)
    headers = {"X-Auth-Token": server.tokens[user], **(extra or {})}
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


# -- helpers ----------------------------------------------------------------------------------------------------
def settled(gc: Any, image_id: str, timeout: float = SETTLE_TIMEOUT) -> dict[str, Any]:
    """The image once no import runs on it (os_glance_importing_to_stores emptied, status not importing)."""
    deadline = time.monotonic() + timeout
    while True:
        image = dict(gc.images.get(image_id))
        if image["status"] != "importing" and not image.get("os_glance_importing_to_stores"):
            return image
        assert time.monotonic() < deadline, f"the import of {image_id} did not settle: {image}"
        time.sleep(0.1)


def stored_digests(server: ImportServer, store: str, image_id: str) -> tuple[str, str]:
    """The digests of the image's one finished copy in the store (``<image id>`` when uploaded,
    ``<image id>.attempt-<token>`` when an import attempt wrote it)."""
    [name] = [name for name in store_names(server, store, image_id) if not name.endswith(".partial")]
    return file_digests(server.stores[store] / name)


def store_names(server: ImportServer, store: str, image_id: str) -> list[str]:
    """What the store's directory holds for this image (finished copies and unfinished writes)."""
    return sorted(p.name for p in server.stores[store].iterdir() if p.name.startswith(image_id))


def assert_imported(image: dict[str, Any], payload: Payload, stores: set[str]) -> None:
    assert image["status"] == "active", image
    assert set(image["stores"].split(",")) == stores
    assert (image["size"], image["checksum"]) == (payload.size, payload.md5)
    assert (image["os_hash_algo"], image["os_hash_value"]) == ("sha512", payload.sha512)
    assert image["os_glance_importing_to_stores"] == ""
    assert not image.get("os_glance_failed_import")


def image_tasks(gc: Any, image_id: str) -> list[dict[str, Any]]:
    """GET /v2/images/{id}/tasks through glanceclient's HTTP client. (`gc.images.get_associated_image_tasks`
    and `glance image-tasks` first look for v2.12 in /versions, which Glimpse does not advertise yet: see
    docs/glance-compat.md.)"""
    _, body = gc.http_client.get(f"/v2/images/{image_id}/tasks")
    tasks: list[dict[str, Any]] = body["tasks"]
    return tasks


def only_task(gc: Any, image: dict[str, Any], status: str = "success") -> dict[str, Any]:
    """GET /v2/images/{id}/tasks has exactly one task; a finished import dropped its lock, as Glance does."""
    tasks = image_tasks(gc, image["id"])
    assert len(tasks) == 1
    assert "os_glance_import_task" not in image
    task: dict[str, Any] = tasks[0]
    assert (task["type"], task["status"], task["image_id"]) == ("api_image_import", status, image["id"])
    return task


@contextmanager
def tmpfs(target: Path, size: str = "4m") -> Iterator[Callable[[], None]]:
    """A small tmpfs mounted over ``target`` (root only; a failed mount fails the test); yields unmount()."""
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.fail(f"mount -t tmpfs on {target} failed (needs root): {done.stderr.strip()}", pytrace=False)

    def unmount() -> None:
        mounts = Path("/proc/mounts").read_text().splitlines()
        if any(line.split()[1] == str(target) for line in mounts):
            subprocess.run(["umount", str(target)], capture_output=True, check=True)

    try:
        yield unmount
    finally:
        unmount()


def name(kind: str) -> str:
    return f"import-{kind}-{uuid.uuid4().hex[:8]}"


# -- discovery and the API's answers ------------------------------------------------------------------------------
def test_discovery_and_the_import_call(import_server: ImportServer, cli: GlanceCLI) -> None:
    status, _, body = request(import_server, "GET", "/v2/info/import")
    assert status == 200
    assert json.loads(body) == {
        "import-methods": {"description": "Import methods available.", "type": "array", "value": IMPORT_METHODS}
    }
    info = parse_show(cli.run("alpha", "import-info").stdout)
    assert all(method in info["import-methods"] for method in IMPORT_METHODS)
    assert "fast" in parse_show(cli.run("alpha", "stores-info").stdout)["stores"]
    status, _, body = request(import_server, "GET", "/v2/info/stores")
    assert status == 200
    assert [(store["id"], store.get("default", False)) for store in json.loads(body)["stores"]] == [
        ("fast", "true"),  # a string, as Glance has it
        ("cheap", False),
    ]

    status, headers, body = request(
        import_server, "POST", "/v2/images", {"name": name("api"), "disk_format": "raw", "container_format": "bare"}
    )
    assert status == 201
    assert headers["openstack-image-import-methods"] == ",".join(IMPORT_METHODS)
    assert headers["openstack-image-store-ids"] == "fast,cheap"
    image_id = json.loads(body)["id"]

    # Glance answers the import call 202 with an empty body; a store nobody configured is 409 (api-ref)
    path = f"/v2/images/{image_id}/import"
    wrong_store = {"method": {"name": "web-download", "uri": "http://127.0.0.1/x.img"}, "stores": ["nope"]}
    status, _, body = request(import_server, "POST", path, wrong_store)
    assert status == 409, body
    assert b"Store for identifier nope not found" in body
    status, _, body = request(import_server, "POST", path, {"method": {"name": "glance-direct"}})
    assert status == 409, body  # nothing staged
    header = {"X-Image-Meta-Store": "cheap"}  # names the target store when the body has no `stores`
    web_download = {"name": "web-download", "uri": "http://127.0.0.1:9/x.img"}
    for conflicting in ({"stores": ["fast"]}, {"all_stores": True}):
        status, _, body = request(import_server, "POST", path, {"method": web_download, **conflicting}, extra=header)
        assert status == 400, body
        assert b"x-image-meta-store header" in body
    status, _, body = request(
        import_server, "POST", path, {"method": {"name": "web-download", "uri": "http://10.0.0.1/x.img"}}
    )
    assert status == 400, body  # not in allowed_hosts
    status, _, body = request(
        import_server, "POST", path, {"method": {"name": "web-download", "uri": "http://127.0.0.1:9/missing"}}
    )
    assert (status, body) == (202, b"")
    status, _, body = request(import_server, "GET", f"/v2/images/{image_id}/tasks")
    assert status == 200
    [task] = json.loads(body)["tasks"]
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while task["status"] not in ("success", "failure"):
        assert time.monotonic() < deadline, task
        time.sleep(0.1)
        task = json.loads(request(import_server, "GET", f"/v2/tasks/{task['id']}", user="admin")[2])
    assert task["status"] == "failure"
    assert task["message"]
    status, _, body = request(import_server, "GET", f"/v2/images/{image_id}")
    image = json.loads(body)
    assert (image["status"], image["os_glance_failed_import"], image["os_glance_importing_to_stores"]) == (
        "queued",
        "fast",
        "",
    )


# -- glanceclient: the command line -------------------------------------------------------------------------------
def test_glance_direct_with_the_cli(
    import_server: ImportServer, cli: GlanceCLI, glance: Callable[[str], Any], small: Payload, tmp_path: Path
) -> None:
    shown = parse_show(
        cli.run(
            "alpha", "image-create-via-import", "--name", name("gd"), "--disk-format", "raw",
            "--container-format", "bare", "--import-method", "glance-direct", "--file", str(small.path),
        ).stdout
    )  # fmt: skip
    gc = glance("alpha")
    image = settled(gc, shown["id"])
    assert_imported(image, small, {"fast"})
    task = only_task(gc, image)
    assert task["result"] == {"image_id": image["id"]}
    assert stored_digests(import_server, "fast", image["id"]) == (small.md5, small.sha512)
    assert not (import_server.staging / image["id"]).exists()  # the staged copy is gone

    target = tmp_path / "down.img"
    cli.run("alpha", "image-download", "--file", str(target), image["id"])
    assert file_digests(target) == (small.md5, small.sha512)


def test_stage_then_import_into_both_stores_with_the_cli(
    import_server: ImportServer, cli: GlanceCLI, glance: Callable[[str], Any], small: Payload, tmp_path: Path
) -> None:
    created = parse_show(
        cli.run(
            "alpha", "image-create", "--name", name("stage"), "--disk-format", "raw", "--container-format", "bare"
        ).stdout
    )
    image_id = created["id"]
    cli.run("alpha", "image-stage", "--file", str(small.path), image_id)
    gc = glance("alpha")
    assert gc.images.get(image_id)["status"] == "uploading"
    assert file_digests(import_server.staging / image_id) == (small.md5, small.sha512)

    cli.run("alpha", "image-import", "--import-method", "glance-direct", "--stores", "fast,cheap", image_id)
    image = settled(gc, image_id)
    assert_imported(image, small, {"fast", "cheap"})
    for store in ("fast", "cheap"):
        assert stored_digests(import_server, store, image_id) == (small.md5, small.sha512)
    assert only_task(gc, image)["input"]["backend"] == ["fast", "cheap"]

    # drop the copy in `fast`: the image now downloads from `cheap`
    cli.run("admin", "stores-delete", "--store", "fast", image_id)
    assert gc.images.get(image_id)["stores"] == "cheap"
    assert store_names(import_server, "fast", image_id) == []
    target = tmp_path / "down.img"
    cli.run("alpha", "image-download", "--file", str(target), image_id)
    assert file_digests(target) == (small.md5, small.sha512)


def test_web_download_with_the_cli(
    import_server: ImportServer, cli: GlanceCLI, glance: Callable[[str], Any], web: WebServer, small: Payload
) -> None:
    before = web.fetched("small.img")
    shown = parse_show(
        cli.run(
            "alpha", "image-create-via-import", "--name", name("wd"), "--disk-format", "raw",
            "--container-format", "bare", "--import-method", "web-download", "--uri", web.url("small.img"),
        ).stdout
    )  # fmt: skip
    gc = glance("alpha")
    image = settled(gc, shown["id"])
    assert_imported(image, small, {"fast"})
    only_task(gc, image)
    assert web.fetched("small.img") == before + 1
    _, headers = web.requests[-1]
    assert headers.get("accept-encoding") == "identity"
    assert stored_digests(import_server, "fast", image["id"]) == (small.md5, small.sha512)

    # into both stores, all of them required to succeed
    created = gc.images.create(name=name("wd2"), disk_format="raw", container_format="bare")
    cli.run(
        "alpha", "image-import", "--import-method", "web-download", "--uri", web.url("small.img"),
        "--stores", "fast,cheap", "--allow-failure", "False", created["id"],
    )  # fmt: skip
    image = settled(gc, created["id"])
    assert_imported(image, small, {"fast", "cheap"})
    for store in ("fast", "cheap"):
        assert stored_digests(import_server, store, image["id"]) == (small.md5, small.sha512)


def test_copy_image_with_the_cli(
    import_server: ImportServer, cli: GlanceCLI, glance: Callable[[str], Any], small: Payload
) -> None:
    gc = glance("admin")
    created = gc.images.create(name=name("copy"), disk_format="raw", container_format="bare", visibility="public")
    with small.path.open("rb") as data:
        gc.images.upload(created["id"], data, small.size)
    assert gc.images.get(created["id"])["stores"] == "fast"

    # a member may not copy an image it sees (copy_image is admin-only by default)
    denied = cli.run(
        "alpha", "image-import", "--import-method", "copy-image", "--stores", "cheap", created["id"], check=False
    )
    assert denied.returncode != 0
    assert "403 Forbidden" in denied.stderr

    cli.run("admin", "image-import", "--import-method", "copy-image", "--stores", "cheap", created["id"])
    image = settled(gc, created["id"])
    assert_imported(image, small, {"fast", "cheap"})
    assert only_task(gc, image)["input"]["backend"] == ["cheap"]
    for store in ("fast", "cheap"):
        assert stored_digests(import_server, store, image["id"]) == (small.md5, small.sha512)

    # Glance refuses a copy to a store that already holds the image (its error body is HTML-escaped, as webob's)
    again = cli.run(
        "admin", "image-import", "--import-method", "copy-image", "--stores", "cheap", image["id"], check=False
    )
    assert again.returncode != 0
    assert "Image is already present at store 'cheap'" in html.unescape(again.stderr)


# -- glanceclient: the library ------------------------------------------------------------------------------------
def test_glanceclient_library(
    import_server: ImportServer, glance: Callable[[str], Any], web: WebServer, small: Payload
) -> None:
    gc = glance("alpha")
    assert gc.images.get_import_info()["import-methods"]["value"] == IMPORT_METHODS

    # stage + glance-direct into the store the X-Image-Meta-Store header names (`backend=`)
    created = gc.images.create(name=name("lib-gd"), disk_format="raw", container_format="bare")
    with small.path.open("rb") as data:
        gc.images.stage(created["id"], data, small.size)
    gc.images.image_import(created["id"], "glance-direct", backend="cheap")
    image = settled(gc, created["id"])
    assert_imported(image, small, {"cheap"})
    assert only_task(gc, image)["input"]["backend"] == ["cheap"]
    assert store_names(import_server, "fast", image["id"]) == []

    # web-download into every store
    created = gc.images.create(name=name("lib-wd"), disk_format="raw", container_format="bare")
    gc.images.image_import(
        created["id"], "web-download", uri=web.url("small.img"), all_stores=True, allow_failure=False
    )
    image = settled(gc, created["id"])
    assert_imported(image, small, {"fast", "cheap"})
    # allow_failure=False: the client leaves all_stores_must_succeed out of the body (its default is true)
    assert "all_stores_must_succeed" not in only_task(gc, image)["input"]["import_req"]


# -- openstacksdk -------------------------------------------------------------------------------------------------
def test_openstacksdk(import_server: ImportServer, sdk: Any, web: WebServer, small: Payload, tmp_path: Path) -> None:
    conn = sdk
    # the cloud layer's create_image with use_import: create, stage, import glance-direct, wait for active
    with small.path.open("rb") as data:  # given `filename`, openstacksdk never closes the file it opens
        created = conn.create_image(
            name("sdk-gd"), data=data, disk_format="raw", container_format="bare", use_import=True,
            validate_checksum=False, wait=True, timeout=SETTLE_TIMEOUT,
        )  # fmt: skip
    assert created.status == "importing"  # the cloud layer waits only while queued or saving
    image = conn.image.wait_for_status(created, status="active", wait=SETTLE_TIMEOUT, interval=0.1)
    assert (image.status, image.checksum, image.hash_value, image.size) == (
        "active",
        small.md5,
        small.sha512,
        small.size,
    )
    assert image.properties["stores"] == "fast"  # openstacksdk keeps `stores` among the properties
    target = tmp_path / "down.img"
    conn.image.download_image(image, output=str(target))  # verifies os_hash_value while writing
    assert file_digests(target) == (small.md5, small.sha512)
    target.unlink()

    # stage_image, then import_image into the store named by `store=` (openstacksdk sends it in the body's
    # `stores` and in the X-Image-Meta-Store header at once)
    image = conn.image.create_image(name=name("sdk-stage"), disk_format="raw", container_format="bare")
    with small.path.open("rb") as data:
        staged = conn.image.stage_image(image, data=data)
    assert staged.status == "uploading"
    response = conn.image.import_image(image, method="glance-direct", store="cheap")
    assert response.status_code == 202
    conn.image.wait_for_status(image, status="active", wait=SETTLE_TIMEOUT, interval=0.1)
    image = conn.image.get_image(image.id)
    assert (image.properties["stores"], image.checksum) == ("cheap", small.md5)

    # web-download into both stores, then copy-image (admin) is refused: the image is in both already
    image = conn.image.create_image(name=name("sdk-wd"), disk_format="raw", container_format="bare")
    response = conn.image.import_image(image, method="web-download", uri=web.url("small.img"), stores=["fast", "cheap"])
    assert response.status_code == 202
    conn.image.wait_for_status(image, status="active", wait=SETTLE_TIMEOUT, interval=0.1)
    image = conn.image.get_image(image.id)
    assert (sorted(image.properties["stores"].split(",")), image.checksum, image.hash_value) == (
        ["cheap", "fast"],
        small.md5,
        small.sha512,
    )
    for store in ("fast", "cheap"):
        assert stored_digests(import_server, store, image.id) == (small.md5, small.sha512)
    properties = image.properties
    assert properties["os_glance_importing_to_stores"] == ""
    assert properties["os_glance_failed_import"] == ""

    # copy-image (admin) of a glance-direct image into the second store
    source = conn.create_image(
        name("sdk-copy"), data=small.path.read_bytes(), disk_format="raw", container_format="bare",
        validate_checksum=False, wait=True, timeout=SETTLE_TIMEOUT,
    )  # fmt: skip
    status, _, body = request(
        import_server,
        "POST",
        f"/v2/images/{source.id}/import",
        {"method": {"name": "copy-image"}, "stores": ["cheap"]},
        user="admin",
    )
    assert (status, body) == (202, b"")
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while conn.image.get_image(source.id).properties.get("os_glance_importing_to_stores"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert sorted(conn.image.get_image(source.id).properties["stores"].split(",")) == ["cheap", "fast"]
    assert stored_digests(import_server, "cheap", source.id) == (small.md5, small.sha512)


# -- half-way failures: the `cheap` store runs out of space ---------------------------------------------------------
def test_a_store_failing_half_way_with_all_stores_must_succeed_false(
    import_server: ImportServer, cli: GlanceCLI, glance: Callable[[str], Any], big: Payload, tmp_path: Path
) -> None:
    with tmpfs(import_server.stores["cheap"]):
        # glanceclient's --allow-failure defaults to True: all_stores_must_succeed = false
        shown = parse_show(
            cli.run(
                "alpha", "image-create-via-import", "--name", name("half"), "--disk-format", "raw",
                "--container-format", "bare", "--import-method", "glance-direct", "--file", str(big.path),
                "--stores", "fast,cheap",
            ).stdout
        )  # fmt: skip
        gc = glance("alpha")
        image = settled(gc, shown["id"])
        assert image["status"] == "active"
        assert image["stores"] == "fast"
        assert image["os_glance_failed_import"] == "cheap"
        assert image["os_glance_importing_to_stores"] == ""
        assert (image["size"], image["checksum"], image["os_hash_value"]) == (big.size, big.md5, big.sha512)
        task = only_task(gc, image)
        assert task["result"] == {"image_id": image["id"]}  # Glance's result: the failed store is on the image
        assert list(import_server.stores["cheap"].iterdir()) == []  # the partial write is gone
        assert stored_digests(import_server, "fast", image["id"]) == (big.md5, big.sha512)
        target = tmp_path / "down.img"
        cli.run("alpha", "image-download", "--file", str(target), image["id"])
        assert file_digests(target) == (big.md5, big.sha512)


def test_a_store_failing_half_way_with_all_stores_must_succeed(
    import_server: ImportServer, cli: GlanceCLI, glance: Callable[[str], Any], sdk: Any, web: WebServer, big: Payload
) -> None:
    gc = glance("alpha")
    with tmpfs(import_server.stores["cheap"]) as unmount:
        # glance-direct: the image goes back to `uploading`, its staged data kept for another try
        created = gc.images.create(name=name("must-gd"), disk_format="raw", container_format="bare")
        image_id = created["id"]
        cli.run("alpha", "image-stage", "--file", str(big.path), image_id)
        cli.run(
            "alpha", "image-import", "--import-method", "glance-direct", "--stores", "fast,cheap",
            "--allow-failure", "False", image_id,
        )  # fmt: skip
        image = settled(gc, image_id)
        assert image["status"] == "uploading"
        assert "cheap" in image["os_glance_failed_import"].split(",")
        assert image["os_glance_importing_to_stores"] == ""
        assert not image.get("stores")
        assert image["checksum"] is None
        task = only_task(gc, image, "failure")
        assert "no space left" in task["message"].lower()
        assert store_names(import_server, "fast", image_id) == []  # what `fast` had written is deleted too
        assert list(import_server.stores["cheap"].iterdir()) == []
        assert (import_server.staging / image_id).exists()

        # web-download with openstacksdk: the image goes back to `queued`
        wd = sdk.image.create_image(name=name("must-wd"), disk_format="raw", container_format="bare")
        response = sdk.image.import_image(
            wd, method="web-download", uri=web.url("big.img"), stores=["fast", "cheap"], all_stores_must_succeed=True
        )
        assert response.status_code == 202
        image = settled(gc, wd.id)
        assert image["status"] == "queued"
        assert "cheap" in image["os_glance_failed_import"].split(",")
        assert not image.get("stores")
        only_task(gc, image, "failure")
        assert store_names(import_server, "fast", wd.id) == []
        assert list(import_server.stores["cheap"].iterdir()) == []

        # room again: the same glance-direct import succeeds from the staged data, and the failure is forgotten
        unmount()
        gc.images.image_import(image_id, "glance-direct", stores=["fast", "cheap"], allow_failure=False)
        image = settled(gc, image_id)
        assert_imported(image, big, {"fast", "cheap"})
        for store in ("fast", "cheap"):
            assert stored_digests(import_server, store, image_id) == (big.md5, big.sha512)
        assert not (import_server.staging / image_id).exists()
        tasks = image_tasks(gc, image_id)
        assert sorted(task["status"] for task in tasks) == ["failure", "success"]
