"""What the server tests share: the real Nova of scripts/nova-up (the session fixture ``nova``, tests/conftest.py)
and the image endpoint it checks images with.

Nova looks a new server's image up in the image service of the booting person's Keystone catalog, in RegionOne:
http://127.0.0.1:9292 (scripts/keystone_accounts.py). So a test that boots a server serves its own Glimpse there,
and holds the machine-wide lock ``image-endpoint`` while it does: the other pass of `make test` (and any other run
on this machine) waits for its turn instead of having Nova look its images up in the wrong Glimpse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.heat import KEYSTONE_CONFIG
from tests.serverproc import answers_root, machine_lock, new_database, server_env, spawn, stop, wait_for_root

IMAGE_ENDPOINT_PORT = 9292  # the `image` endpoint of Keystone's catalog (scripts/keystone_accounts.py)
FLAVOR = "glimpse.tiny"  # scripts/nova_accounts.py
IMAGE_BYTES = b"\0" * 65536  # a raw disk: the fake driver never reads it, Nova checks only the image's record


@contextmanager
def image_endpoint(home: Path, prefix: str) -> Iterator[str]:
    """A `glimpse serve` with Keystone sign-in (and the artifacts API) on the catalog's image endpoint, this test
    run's alone while it lasts; its URL on ``localhost`` (a secure context for the dashboard's cookie)."""
    with machine_lock("image-endpoint"):
        if answers_root(IMAGE_ENDPOINT_PORT) is not None:
            pytest.fail(f"something already serves 127.0.0.1:{IMAGE_ENDPOINT_PORT} (a `make run`?): the server "
                        "tests serve the catalog's image endpoint there", pytrace=False)  # fmt: skip
        config = home / "glimpse.conf"
        config.write_text(KEYSTONE_CONFIG)
        with new_database(home, prefix) as database_url:
            process = spawn(IMAGE_ENDPOINT_PORT, server_env(home / "data", database_url, home), home / "server.log",
                            config=config)  # fmt: skip
            try:
                status = wait_for_root(process, IMAGE_ENDPOINT_PORT)
                assert status == 300, (home / "server.log").read_text()[-3000:]
                yield f"http://localhost:{IMAGE_ENDPOINT_PORT}"
            finally:
                stop(process)


def raw_image(url: str, token: str, name: str, **properties: str) -> str:
    """An active raw image with a little data, made through the image API as a client makes one; its id."""
    with httpx.Client(base_url=f"{url}/v2", headers={"X-Auth-Token": token}, timeout=30) as api:
        body = {"name": name, "disk_format": "raw", "container_format": "bare", **properties}
        created = api.post("/images", json=body)
        assert created.status_code == 201, created.text
        image_id: str = created.json()["id"]
        uploaded = api.put(f"/images/{image_id}/file", content=IMAGE_BYTES,
                           headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        assert uploaded.status_code == 204, uploaded.text
        return image_id
