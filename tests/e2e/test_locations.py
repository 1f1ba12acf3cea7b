"""The locations API (2.17) on a real `glimpse serve`, driven by openstacksdk's image proxy
(`add_image_location`, `image_locations`): a file placed in the server's filesystem store becomes an image's
data through a location_import task, checked against validation_data; the refusals a client sees."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openstack import exceptions

from tests.e2e.conftest import GlimpseServer

pytestmark = pytest.mark.e2e

Sdk = Callable[[str], Any]
DATA = os.urandom(6 * 1024 * 1024 + 3)  # more than one 4 MiB block of the server's pipeline


def _store_dir(server: GlimpseServer) -> Path:
    """The directory of the server's default filesystem store (`local`, under its data directory)."""
    directory = server.home.parent / "data" / "stores" / "local"
    assert directory.is_dir()
    return directory


def _settle(conn: Any, image_id: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        image = conn.image.get_image(image_id)
        if image.status != "importing":
            return image
        assert time.monotonic() < deadline, f"the location import did not settle: {image.status}"
        time.sleep(0.1)


def test_add_a_file_location_with_openstacksdk(server: GlimpseServer, sdk: Sdk, unique: str, tmp_path: Path) -> None:
    conn, admin = sdk("alpha"), sdk("admin")
    path = _store_dir(server) / f"located-{unique}.img"
    path.write_bytes(DATA)
    image = conn.image.create_image(name=f"loc-{unique}", disk_format="raw", container_format="bare")
    assert image.status == "queued"
    validation = {"os_hash_algo": "sha256", "os_hash_value": hashlib.sha256(DATA).hexdigest()}
    conn.image.add_image_location(image, path.as_uri(), validation_data=validation)
    active = _settle(conn, image.id)
    assert active.status == "active"
    assert active.size == len(DATA)
    assert active.checksum == hashlib.md5(DATA, usedforsecurity=False).hexdigest()
    assert (active.hash_algo, active.hash_value) == ("sha256", validation["os_hash_value"])
    assert active.properties["stores"] == "local"

    target = tmp_path / "down.img"
    conn.image.download_image(active, output=str(target))  # the SDK verifies the hash while writing
    assert target.read_bytes() == DATA

    # listing locations is for services (and admins, through service_api)
    with pytest.raises(exceptions.ForbiddenException):
        list(conn.image.image_locations(image))
    locations = list(admin.image.image_locations(image))
    assert [(loc.url, loc.metadata) for loc in locations] == [(path.as_uri(), {"store": "local"})]

    # a second location for an active image: 409
    with pytest.raises(exceptions.ConflictException):
        conn.image.add_image_location(image, path.as_uri())
    conn.image.delete_image(image)


def test_wrong_validation_data_leaves_the_image_queued(server: GlimpseServer, sdk: Sdk, unique: str) -> None:
    conn = sdk("alpha")
    path = _store_dir(server) / f"mismatch-{unique}.img"
    path.write_bytes(b"not what the caller said" * 1000)
    image = conn.image.create_image(name=f"loc-bad-{unique}", disk_format="raw", container_format="bare")
    wrong = {"os_hash_algo": "sha512", "os_hash_value": hashlib.sha512(b"other").hexdigest()}
    conn.image.add_image_location(image, path.as_uri(), validation_data=wrong)
    assert _settle(conn, image.id).status == "queued"
    tasks = conn.image.get(f"/images/{image.id}/tasks").json()["tasks"]
    assert [(task["type"], task["status"]) for task in tasks] == [("location_import", "failure")]
    assert "does not match validation_data" in tasks[0]["message"]
    conn.image.delete_image(image)
    path.unlink()


def test_locations_outside_the_stores_are_refused(server: GlimpseServer, sdk: Sdk, unique: str) -> None:
    conn, beta = sdk("alpha"), sdk("beta")
    image = conn.image.create_image(name=f"loc-refused-{unique}", disk_format="raw", container_format="bare")
    with pytest.raises(exceptions.BadRequestException, match="not a file in the directory"):
        conn.image.add_image_location(image, "file:///etc/passwd")
    with pytest.raises(exceptions.BadRequestException, match="store of type http"):
        conn.image.add_image_location(image, "http://127.0.0.1/image.raw")
    with pytest.raises(exceptions.NotFoundException):  # another project's private image
        beta.image.add_image_location(image.id, (_store_dir(server) / "x.img").as_uri())
    assert conn.image.get_image(image.id).status == "queued"
    conn.image.delete_image(image)
