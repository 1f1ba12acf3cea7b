"""Real storage backends behind a real `glimpse serve`, driven by python-glanceclient: an image uploaded into
S3 (Swift's s3api), copied to Swift and to Ceph RBD with copy-image, served identically from each copy, and
still served by the others when one store's copy is deleted. The servers are scripts/swift-up's and
scripts/ceph-up's (`make backends`)."""

from __future__ import annotations

import hashlib
import io
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import GlimpseServer, create_tokens, launch
from tests.serverproc import new_database, server_env, stop

pytestmark = pytest.mark.e2e

CEPH_CONF = Path(os.environ.get("GLIMPSE_CEPH_HOME", Path.home() / ".cache" / "glimpse-ceph")) / "ceph.conf"
CONFIG = """\
[DEFAULT]
enabled_backends = s3:s3, swift:swift, ceph:rbd

[glance_store]
default_backend = s3

[s3]
store_description = S3 (Swift s3api)
weight = 30
s3_store_host = http://127.0.0.1:8080
s3_store_access_key = glimpse:glimpse
s3_store_secret_key = glimpse-secret
s3_store_bucket = {name}-s3
s3_store_create_bucket_on_put = true
s3_store_large_object_size = 16
s3_store_large_object_chunk_size = 5

[swift]
store_description = Swift
weight = 20
swift_store_auth_address = http://127.0.0.1:8080/auth/v1.0
swift_store_auth_version = 1
swift_store_user = glimpse:glimpse
swift_store_key = glimpse-secret
swift_store_container = {name}-swift
swift_store_create_container_on_put = true
swift_store_large_object_size = 16
swift_store_large_object_chunk_size = 8

[ceph]
store_description = Ceph RBD
weight = 10
rbd_store_ceph_conf = {ceph_conf}
rbd_store_user = admin
rbd_store_pool = images
"""
SIZE = 40 * 1024 * 1024 + 12345  # large enough for S3 multipart and Swift SLO segments


@pytest.fixture(scope="module")
def backend_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GlimpseServer]:
    root = tmp_path_factory.mktemp("e2e-backends")
    home = root / "home"
    home.mkdir()
    config = root / "glimpse.conf"
    # the S3 bucket and the Swift container live in the same Swift account: they need different names
    config.write_text(CONFIG.format(name=f"glimpse-e2e-{uuid.uuid4().hex[:10]}", ceph_conf=CEPH_CONF))
    with new_database(root, prefix="glimpse_e2e_backends") as database_url:
        env = server_env(root / "data", database_url, home)
        state = GlimpseServer(url="", tokens=create_tokens(env, ("admin", "alpha")), log_file=root / "server.log",
                              home=home)  # fmt: skip
        try:
            launch(state, env, config)
            yield state
        finally:
            if state.process is not None:
                stop(state.process)


@pytest.fixture(scope="module")
def glance(backend_server: GlimpseServer) -> Callable[[str], Any]:
    import glanceclient  # type: ignore[import-untyped]

    return lambda user: glanceclient.Client("2", endpoint=backend_server.url, token=backend_server.tokens[user])


def served_by(server: GlimpseServer) -> dict[str, float]:
    """Bytes sent from each store so far (the server's glimpse_store_bytes counter, direction out)."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    return {
        sample.labels["store"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "glimpse_store_bytes_total" and sample.labels["direction"] == "out"
    }


def wait_copied(client: Any, image_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        image: dict[str, Any] = client.images.get(image_id)
        if not image.get("os_glance_importing_to_stores"):
            return image
        assert time.monotonic() < deadline, f"copy-image did not finish: {image}"
        time.sleep(0.2)


def test_stores_detail_shows_every_driver(backend_server: GlimpseServer) -> None:
    response = httpx.get(
        f"{backend_server.url}/v2/info/stores/detail", headers={"X-Auth-Token": backend_server.tokens["admin"]}
    )
    assert response.status_code == 200, response.text
    stores = {store["id"]: store for store in response.json()["stores"]}
    assert {store["type"] for store in stores.values()} == {"s3", "swift", "rbd"}
    assert stores["s3"]["default"] == "true"
    rbd = stores["ceph"]["properties"]
    assert rbd["pool"] == "images"
    assert rbd["chunk_size"] == 8 * 1024 * 1024  # bytes, as Glance 33 reports it
    assert rbd["thin_provisioning"] is False
    assert len(rbd["fsid"]) == 36
    health = httpx.get(f"{backend_server.url}/healthcheck").json()
    assert {name: entry["status"] for name, entry in health["stores"].items()} == {
        "s3": "ok", "swift": "ok", "ceph": "ok"
    }  # fmt: skip


def test_upload_to_s3_copy_to_swift_and_rbd_and_serve_from_each(
    backend_server: GlimpseServer, glance: Callable[[str], Any]
) -> None:
    alpha, admin = glance("alpha"), glance("admin")
    data = os.urandom(SIZE)
    digest = hashlib.sha512(data).hexdigest()
    image = alpha.images.create(name="backends", disk_format="raw", container_format="bare")
    alpha.images.upload(image["id"], io.BytesIO(data), image_size=len(data))
    shown = alpha.images.get(image["id"])
    assert (shown["status"], shown["stores"], shown["os_hash_value"]) == ("active", "s3", digest)

    admin.images.image_import(image["id"], method="copy-image", stores=["swift", "ceph"])
    copied = wait_copied(alpha, image["id"])
    assert sorted(copied["stores"].split(",")) == ["ceph", "s3", "swift"]
    assert "os_glance_failed_import" not in copied or not copied["os_glance_failed_import"]

    # the heaviest copy serves (s3), then each remaining one as the others' copies are deleted
    for store, delete_after in (("s3", "s3"), ("swift", "swift"), ("ceph", None)):
        before = served_by(backend_server).get(store, 0.0)
        body = b"".join(alpha.images.data(image["id"]))
        assert hashlib.sha512(body).hexdigest() == digest, f"{store} served different bytes"
        assert served_by(backend_server)[store] - before == len(data), f"{store} did not serve the download"
        if delete_after is not None:
            admin.images.delete_from_store(delete_after, image["id"])
            left = alpha.images.get(image["id"])["stores"].split(",")
            assert delete_after not in left
            assert left
    # a ranged read comes from the last copy too
    ranged = httpx.get(
        f"{backend_server.url}/v2/images/{image['id']}/file",
        headers={"X-Auth-Token": backend_server.tokens["alpha"], "Range": "bytes=1000-1999"},
    )
    assert ranged.status_code == 206
    assert ranged.content == data[1000:2000]
    alpha.images.delete(image["id"])
