"""Uploads, glance-direct imports and deletes through HAProxy, spread over two nodes, stay consistent: every
node sees every image's final state and serves its bytes, and HAProxy's counters show both nodes served. Once
into the shared filesystem store, once into the shared Swift (3 MiB images: static large objects there)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import glanceclient  # type: ignore[import-untyped]
import pytest
from glanceclient.exc import HTTPNotFound  # type: ignore[import-untyped]

from tests.cluster.cluster import Cluster
from tests.contract.backends import swift as swift_backend
from tests.serverproc import backend

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        backend() != "postgresql",
        reason="several nodes share a PostgreSQL server: GLIMPSE_TEST_DB=postgresql runs this",
    ),
]

SIZE = 3 << 20  # not a multiple of the 4 MiB block, so the short last block's path is crossed too


@pytest.mark.parametrize("store", ["shared", "swift"])
def test_uploads_imports_and_deletes_over_two_nodes(cluster: Cluster, glance: Callable[[str], Any], store: str) -> None:
    batch = uuid.uuid4().hex[:8]
    data = {index: os.urandom(SIZE - index) for index in range(12)}
    before = cluster.requests_per_node()

    def one(index: int) -> str:
        client = glance("alpha")  # a client (and a keep-alive connection) per thread, as separate users have
        image = client.images.create(
            name=f"cl-{batch}-{index}", disk_format="raw", container_format="bare", cluster_batch=batch
        )
        if index % 2 == 0:
            client.images.upload(image["id"], io.BytesIO(data[index]), image_size=len(data[index]), backend=store)
        else:
            client.images.stage(image["id"], io.BytesIO(data[index]), image_size=len(data[index]))
            client.images.image_import(image["id"], method="glance-direct", stores=[store])
        return str(image["id"])

    with ThreadPoolExecutor(4) as pool:
        ids = dict(zip(data, pool.map(one, data), strict=True))
    client = glance("alpha")
    deadline = time.monotonic() + 60
    for index, image_id in ids.items():  # the imports finish on the separate worker
        while (status := client.images.get(image_id)["status"]) != "active":
            assert status in ("importing", "queued", "uploading"), f"image {index}: {status}"
            assert time.monotonic() < deadline, f"image {index} ({image_id}) still {status}"
            time.sleep(0.1)
    deleted = {index for index in ids if index % 3 == 0}  # uploaded and imported ones
    for index in deleted:
        client.images.delete(ids[index])

    # every node, asked directly, sees every image's final state and serves the same bytes
    for node in cluster.servers():
        direct = glanceclient.Client("2", endpoint=node.url, token=cluster.tokens["alpha"])
        listed = {image["id"] for image in direct.images.list(filters={"cluster_batch": batch})}
        assert listed == {ids[index] for index in ids if index not in deleted}, node.name
        for index, image_id in ids.items():
            if index in deleted:
                with pytest.raises(HTTPNotFound):
                    direct.images.get(image_id)
                continue
            image = direct.images.get(image_id)
            assert image["status"] == "active", (node.name, index)
            assert image["size"] == len(data[index])
            assert image["os_hash_value"] == hashlib.sha512(data[index]).hexdigest()
            assert image["stores"] == store
        kept = next(index for index in ids if index not in deleted)
        assert b"".join(direct.images.data(ids[kept])) == data[kept], node.name

    # the store holds exactly the kept images' data, nothing of the deleted ones, no unfinished write
    kept_ids = sorted(ids[index] for index in ids if index not in deleted)
    if store == "shared":
        names = [path.name for path in cluster.store.iterdir()]
        assert not [name for name in names if name.endswith(".partial")]
        assert sorted(image_of(name) for name in names) == kept_ids
    else:
        assert_swift_holds(cluster, kept_ids, batch_ids=set(ids.values()))
    assert not list(cluster.staging.iterdir()), "the staged data outlived its imports"

    # both nodes served the requests through HAProxy, and the imports ran on the separate workers
    served = {name: count - before.get(name, 0) for name, count in cluster.requests_per_node().items()}
    assert len(served) == 2, served
    assert min(served.values()) >= sum(served.values()) // 3, served
    workers_log = "".join(worker.log_text() for worker in cluster.task_workers())
    assert sum(f"image {ids[index]}) claimed" in workers_log for index in ids if index % 2) == 6
    for node in cluster.servers():
        assert "Traceback" not in node.log_text(), node.log_tail()


def assert_swift_holds(cluster: Cluster, kept: list[str], batch_ids: set[str]) -> None:
    """Of ``batch_ids``, the cluster's Swift container holds exactly the manifests of ``kept``, and its segments
    container exactly the segments those manifests name (nothing of a deleted image, no unfinished write)."""
    objects = cluster.swift_objects()
    container, segments = cluster.swift_container, f"{cluster.swift_container}_segments"
    manifests = [name for name in objects[container] if image_of(name) in batch_ids]
    assert sorted(image_of(name) for name in manifests) == kept
    named = set()
    conn = swift_backend.admin_connection()
    try:
        for name in manifests:
            manifest = json.loads(conn.get_object(container, name, query_string="multipart-manifest=get")[1])
            assert len(manifest) >= 2, f"{name} is not a static large object"
            named |= {str(part["name"]).removeprefix(f"/{segments}/") for part in manifest}
    finally:
        conn.close()
    assert {name for name in objects[segments] if image_of(name.split("/")[0]) in batch_ids} == named


def image_of(name: str) -> str:
    """The image a stored object's name is of: an upload stores ``<image id>``, an import attempt
    ``<image id>.attempt-<token>``."""
    return name.partition(".attempt-")[0]
