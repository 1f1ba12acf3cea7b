"""Image locations end to end with the real clients, as an operator who shows locations runs them: the legacy
operations of image PATCH (add / replace / remove on ``/locations``) from python-glanceclient's command line
(`location-add`, `location-update`, `location-delete`) and from openstacksdk (`update_image` with an image's
`locations`, which the SDK sends as a JSON patch), and the locations API of 2.17 (`POST/GET
/v2/images/{id}/locations`) from `glance add-location`, glanceclient's `get_image_locations` and openstacksdk's
`add_image_location` / `image_locations`.

The server runs Glance's configuration for it (`show_multiple_locations`, `show_image_direct_url`, a writable
file store next to a read-only http store) and reads the locations from a real web server on 127.0.0.1.
Statuses and policy as Glance 33's (the same requests side by side: the `locations` scenario of `make
compat`): a member adds and replaces, only an admin removes and never the last location, listing the 2.17
locations is for admins and services."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import GlanceCLI, GlimpseServer, create_tokens, launch, parse_show, stays_healthy
from tests.serverproc import new_database
from tests.serverproc import server_env as _server_env
from tests.serverproc import stop as _stop
from tests.webserver import serving

pytestmark = pytest.mark.e2e

DATA = os.urandom(2 * 1024 * 1024 + 5)
CONFIG = """\
[DEFAULT]
enabled_backends = local:file, web:http
show_multiple_locations = true
show_image_direct_url = true

[glance_store]
default_backend = local

[local]
filesystem_store_datadir = {local}

[os_glance_staging_store]
filesystem_store_datadir = {staging}

[import_filtering_opts]
allowed_hosts = 127.0.0.1
allowed_ports =
"""


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Located:
    server: GlimpseServer
    web: str  # http://127.0.0.1:PORT serving a.raw and b.raw (the same bytes, DATA)

    def url(self, name: str) -> str:
        return f"{self.web}/{name}"

    def glance(self, user: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(HOME=str(self.server.home), XDG_CACHE_HOME=str(self.server.home / ".cache"), COLUMNS="300")
        return GlanceCLI(self.server, env).run(user, *args, check=check)

    def create(self, user: str, name: str) -> dict[str, str]:
        formats = ("--disk-format", "raw", "--container-format", "bare")
        return parse_show(self.glance(user, "image-create", "--name", name, *formats).stdout)

    def sdk(self, user: str) -> Any:
        import openstack.connection

        return openstack.connection.Connection(
            auth_type="admin_token",
            auth={"endpoint": self.server.url, "token": self.server.tokens[user]},
            image_endpoint_override=self.server.url,
        )

    def glance_lib(self, user: str) -> Any:
        import glanceclient  # type: ignore[import-untyped]

        return glanceclient.Client("2", endpoint=self.server.url, token=self.server.tokens[user])


@pytest.fixture(scope="module")
def located(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Located]:
    root = tmp_path_factory.mktemp("e2e-locations")
    files = root / "web"
    files.mkdir()
    for name in ("a.raw", "b.raw"):
        (files / name).write_bytes(DATA)
    config = root / "glimpse.conf"
    config.write_text(CONFIG.format(local=root / "local", staging=root / "staging"))
    data_dir, home = root / "data", root / "home"
    home.mkdir()
    with (
        serving(functools.partial(_Files, directory=str(files))) as web,  # type: ignore[arg-type]
        new_database(root, prefix="glimpse_e2e_locations") as database_url,
    ):
        env = _server_env(data_dir, database_url, home)
        state = GlimpseServer(url="", tokens=create_tokens(env, ("admin", "alpha")), log_file=root / "server.log",
                              home=home)  # fmt: skip
        try:
            launch(state, env, config)
            with stays_healthy(state):
                yield Located(state, web)
        finally:
            if state.process is not None:
                _stop(state.process)


def _locations(image: dict[str, str]) -> list[dict[str, Any]]:
    """The `locations` row of a `glance image-show` table (a JSON list)."""
    shown: list[dict[str, Any]] = json.loads(image["locations"])
    return shown


def _settled(conn: Any, image_id: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        image = conn.image.get_image(image_id)
        if image.status not in ("queued", "importing") or time.monotonic() > deadline:
            return image
        time.sleep(0.2)


def test_legacy_location_operations_with_the_glance_cli(located: Located, unique: str, tmp_path: Path) -> None:
    a, b = located.url("a.raw"), located.url("b.raw")
    created = located.create("alpha", f"loc-cli-{unique}")
    image_id = created["id"]
    assert created["status"] == "queued"

    # add: the queued image becomes active with the size the http store reports
    added = parse_show(located.glance("alpha", "location-add", "--url", a, "--metadata", '{"zone": "one"}',
                                      image_id).stdout)  # fmt: skip
    assert added["status"] == "active"
    assert added["size"] == str(len(DATA))
    assert added["direct_url"] == a
    assert [(loc["url"], loc["metadata"]) for loc in _locations(added)] == [(a, {"zone": "one", "store": "web"})]
    second = parse_show(located.glance("alpha", "location-add", "--url", b, image_id).stdout)
    assert [loc["url"] for loc in _locations(second)] == [a, b]
    again = located.glance("alpha", "location-add", "--url", b, image_id, check=False)
    assert again.returncode != 0
    assert "400" in again.stderr

    # replace (location-update sends the whole list with new metadata for one URL)
    updated = parse_show(located.glance("alpha", "location-update", "--url", b, "--metadata", '{"zone": "two"}',
                                        image_id).stdout)  # fmt: skip
    assert [(loc["url"], loc["metadata"]["zone"]) for loc in _locations(updated) if loc["url"] == b] == [(b, "two")]

    # remove: admin only (delete_image_location), and never the last location
    refused = located.glance("alpha", "location-delete", "--url", a, image_id, check=False)
    assert refused.returncode != 0
    assert "403" in refused.stderr
    located.glance("admin", "location-delete", "--url", a, image_id)
    shown = parse_show(located.glance("alpha", "image-show", image_id).stdout)
    assert [loc["url"] for loc in _locations(shown)] == [b]
    assert shown["direct_url"] == b
    last = located.glance("admin", "location-delete", "--url", b, image_id, check=False)
    assert last.returncode != 0
    assert "Cannot remove last location in the image" in last.stderr

    # the data is read through the remaining location
    target = tmp_path / "down.raw"
    located.glance("alpha", "image-download", "--file", str(target), image_id)
    assert target.read_bytes() == DATA
    located.glance("alpha", "image-delete", image_id)


def test_the_locations_api_with_the_glance_cli_and_library(located: Located, unique: str) -> None:
    a = located.url("a.raw")
    image_id = located.create("alpha", f"loc-api-{unique}")["id"]
    validation = json.dumps({"os_hash_algo": "sha256", "os_hash_value": hashlib.sha256(DATA).hexdigest()})
    located.glance("alpha", "add-location", "--url", a, "--validation-data", validation, image_id)
    image = _settled(located.sdk("alpha"), image_id)
    assert image.status == "active"
    assert (image.hash_algo, image.hash_value) == ("sha256", hashlib.sha256(DATA).hexdigest())
    assert image.checksum == hashlib.md5(DATA, usedforsecurity=False).hexdigest()

    locations = located.glance_lib("admin").images.get_image_locations(image_id)
    assert [(loc["url"], loc["metadata"]) for loc in locations] == [(a, {"store": "web"})]
    from glanceclient import exc  # type: ignore[import-untyped]

    with pytest.raises(exc.HTTPForbidden):  # fetch_image_location: admins and services
        located.glance_lib("alpha").images.get_image_locations(image_id)
    # an image that has its data takes no further location through this API: 409
    again = located.glance("alpha", "add-location", "--url", a, image_id, check=False)
    assert again.returncode != 0
    assert "409" in again.stderr
    located.glance("alpha", "image-delete", image_id)


def test_locations_with_openstacksdk(located: Located, unique: str) -> None:
    from openstack import exceptions

    a, b = located.url("a.raw"), located.url("b.raw")
    conn, admin = located.sdk("alpha"), located.sdk("admin")

    # legacy: the SDK diffs the image's `locations` and sends add / remove operations in a JSON patch
    image = conn.image.create_image(name=f"loc-sdk-{unique}", disk_format="raw", container_format="bare")
    assert (image.status, image.locations) == ("queued", [])
    image = conn.image.update_image(image, locations=[{"url": a, "metadata": {}}])
    assert image.status == "active"
    assert image.size == len(DATA)
    image = conn.image.update_image(image, locations=[*image.locations, {"url": b, "metadata": {"k": "v"}}])
    assert [(loc["url"], loc["metadata"]) for loc in image.locations] == [
        (a, {"store": "web"}), (b, {"k": "v", "store": "web"})
    ]  # fmt: skip
    with pytest.raises(exceptions.ForbiddenException):  # a member may not remove a location
        conn.image.update_image(image, locations=image.locations[1:])
    as_admin = admin.image.get_image(image.id)
    trimmed = admin.image.update_image(as_admin, locations=as_admin.locations[1:])
    assert [loc["url"] for loc in trimmed.locations] == [b]
    with pytest.raises(exceptions.ForbiddenException):  # never the last location
        admin.image.update_image(trimmed, locations=[])
    assert [loc["url"] for loc in conn.image.get_image(image.id).locations] == [b]
    assert conn.image.download_image(image.id).content == DATA  # checked against nothing but the bytes
    conn.image.delete_image(image)

    # the 2.17 locations API
    queued = conn.image.create_image(name=f"loc-sdk-api-{unique}", disk_format="raw", container_format="bare")
    conn.image.add_image_location(queued, a)
    active = _settled(conn, queued.id)
    assert active.status == "active"
    assert active.hash_value == hashlib.sha512(DATA).hexdigest()  # do_secure_hash: the task read the data
    assert [loc.url for loc in admin.image.image_locations(queued)] == [a]
    with pytest.raises(exceptions.ForbiddenException):
        list(conn.image.image_locations(queued))
    with pytest.raises(exceptions.ConflictException):
        conn.image.add_image_location(queued, b)
    conn.image.delete_image(queued)
