"""The locations API (2.17) in-process: POST /v2/images/{id}/locations with file:// URLs inside a filesystem
store and http:// URLs served by a real local web server through the http store, the location_import task
(size, checksum, multihash, validation_data, format safety, quota), the store and SSRF checks, the policy
rules, GET /v2/images/{id}/locations, and downloads (whole and ranged) of data living on a web server."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.container import Services
from glimpse.settings import Settings
from tests.conftest import running_services
from tests.functional.conftest import ALICE, BOB, OCTET, web_settings
from tests.functional.test_quotas import set_limits
from tests.webserver import QuietHandler, serving

DATA = os.urandom(3 * 1024 * 1024 + 17)
SERVICE = {"X-User-Id": "nova", "X-Project-Id": "alpha", "X-Roles": "service"}


@pytest.fixture
def web_server() -> Iterator[str]:
    """Serves DATA at /image.raw (written in uneven pieces) and at /chunked.raw (no Content-Length), 404
    elsewhere."""

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            if self.path not in ("/image.raw", "/chunked.raw"):
                self.send_error(404)
                return
            self.send_response(200)
            if self.path == "/image.raw":
                self.send_header("Content-Length", str(len(DATA)))
            self.end_headers()
            view = memoryview(DATA)
            for start in range(0, len(DATA), 100_003):
                self.wfile.write(view[start : start + 100_003])

    with serving(Handler) as url:
        yield url


@pytest.fixture
def loc_settings(tmp_path: Path, clean_db: str) -> Settings:
    return web_settings(tmp_path, clean_db, "local:file,web:http", default_backend="local", task_heartbeat_interval=0.2)


@pytest.fixture
def loc(loc_settings: Settings) -> Iterator[tuple[TestClient, Services]]:
    with running_services(loc_settings) as app:
        yield app


@pytest.fixture
def datadir(loc_settings: Settings, loc: tuple[TestClient, Services]) -> Path:
    return Path(loc_settings.stores["local"].options.filesystem_store_datadir)


def _create(client: TestClient, headers: dict[str, str] | None = None, **extra: Any) -> str:
    body = {"name": "located", "disk_format": "raw", "container_format": "bare", **extra}
    response = client.post("/v2/images", json=body, headers=headers or ALICE)
    assert response.status_code == 201, response.text
    image_id: str = response.json()["id"]
    return image_id


def _add(client: TestClient, image_id: str, url: str, headers: dict[str, str] | None = None, **body: Any) -> Any:
    return client.post(f"/v2/images/{image_id}/locations", json={"url": url, **body}, headers=headers or ALICE)


def _settle(client: TestClient, image_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        image: dict[str, Any] = client.get(f"/v2/images/{image_id}").json()  # as the admin
        if image["status"] != "importing":
            return image
        if time.monotonic() > deadline:
            raise AssertionError(f"the location import did not settle: {image}")
        time.sleep(0.05)


def _task(client: TestClient, image_id: str) -> dict[str, Any]:
    tasks = client.get(f"/v2/images/{image_id}/tasks").json()["tasks"]
    assert len(tasks) == 1
    assert tasks[0]["type"] == "location_import"
    task: dict[str, Any] = tasks[0]
    return task


def _external(datadir: Path, name: str = "external.img", data: bytes = DATA) -> str:
    path = datadir / name
    path.write_bytes(data)
    return path.as_uri()


# -- file:// locations --------------------------------------------------------------------------------------
def test_file_location_in_the_store_makes_the_image_active(loc: tuple[TestClient, Services], datadir: Path) -> None:
    client, _ = loc
    image_id = _create(client)
    url = _external(datadir)
    response = _add(client, image_id, url)
    assert response.status_code == 202, response.text
    assert response.content == b""
    image = _settle(client, image_id)
    assert image["status"] == "active", image
    assert image["size"] == len(DATA)
    assert image["virtual_size"] == len(DATA)
    assert image["checksum"] == hashlib.md5(DATA, usedforsecurity=False).hexdigest()
    assert (image["os_hash_algo"], image["os_hash_value"]) == ("sha512", hashlib.sha512(DATA).hexdigest())
    assert image["stores"] == "local"
    task = _task(client, image_id)
    assert task["status"] == "success", task
    assert task["input"]["url"] == url
    assert client.get(f"/v2/images/{image_id}/file", headers=ALICE).content == DATA
    listed = client.get(f"/v2/images/{image_id}/locations", headers=SERVICE)
    assert listed.status_code == 200
    assert listed.json() == [{"url": url, "metadata": {"store": "local"}}]


def test_matching_validation_data_sets_the_hash_algorithm(loc: tuple[TestClient, Services], datadir: Path) -> None:
    client, _ = loc
    image_id = _create(client)
    digest = hashlib.sha256(DATA).hexdigest().upper()  # hex digits in either case
    validation = {"os_hash_algo": "sha256", "os_hash_value": digest}
    assert _add(client, image_id, _external(datadir), validation_data=validation).status_code == 202
    image = _settle(client, image_id)
    assert image["status"] == "active", image
    assert (image["os_hash_algo"], image["os_hash_value"]) == ("sha256", digest.lower())


def test_wrong_validation_data_fails_the_task_and_requeues(loc: tuple[TestClient, Services], datadir: Path) -> None:
    client, _ = loc
    image_id = _create(client)
    wrong = hashlib.sha512(b"something else").hexdigest()
    response = _add(
        client, image_id, _external(datadir), validation_data={"os_hash_algo": "sha512", "os_hash_value": wrong}
    )
    assert response.status_code == 202
    image = _settle(client, image_id)
    assert image["status"] == "queued"
    assert image["checksum"] is None
    assert image["size"] is None
    assert client.get(f"/v2/images/{image_id}/locations", headers=SERVICE).json() == []
    task = _task(client, image_id)
    assert task["status"] == "failure"
    assert "does not match validation_data" in task["message"]
    assert wrong in task["message"]
    # the data at the location stays, and the image can get a location again
    assert (datadir / "external.img").read_bytes() == DATA
    assert _add(client, image_id, _external(datadir)).status_code == 202
    assert _settle(client, image_id)["status"] == "active"


def test_missing_file_fails_the_task(loc: tuple[TestClient, Services], datadir: Path) -> None:
    client, _ = loc
    image_id = _create(client)
    assert _add(client, image_id, (datadir / "nothing-here.img").as_uri()).status_code == 202
    assert _settle(client, image_id)["status"] == "queued"
    task = _task(client, image_id)
    assert task["status"] == "failure"
    assert "missing" in task["message"]


def test_unsafe_data_is_refused(loc: tuple[TestClient, Services], datadir: Path) -> None:
    client, _ = loc
    image_id = _create(client, disk_format="qcow2")  # the data is not qcow2
    assert _add(client, image_id, _external(datadir)).status_code == 202
    assert _settle(client, image_id)["status"] == "queued"
    task = _task(client, image_id)
    assert task["status"] == "failure"
    assert "qcow2" in task["message"]


def test_a_mislabelled_location_is_kept_when_the_format_match_is_off(
    tmp_path: Path, clean_db: str, web_server: str
) -> None:
    """Tempest's LocationImportTest labels the raw data of its http_image `qcow2`: Glance 33 never inspects a
    location's data; Glimpse does, and refuses the mismatch unless `[image_format] require_image_format_match`
    is false (then only unsafe data is refused, as for uploads)."""
    settings = web_settings(tmp_path, clean_db, "local:file,web:http", default_backend="local",
                            task_heartbeat_interval=0.2, require_image_format_match=False)  # fmt: skip
    with running_services(settings) as (client, _):
        image_id = _create(client, disk_format="qcow2")
        assert _add(client, image_id, f"{web_server}/image.raw").status_code == 202
        image = _settle(client, image_id)
        assert image["status"] == "active", _task(client, image_id)
        assert image["os_hash_value"] == hashlib.sha512(DATA).hexdigest()
        assert image["virtual_size"] is None  # as Glance records a mismatch: no virtual size


def test_quota_counts_the_data_read(loc: tuple[TestClient, Services], datadir: Path) -> None:
    client, services = loc
    set_limits(services, "alpha", image_size_total=1)  # MiB; DATA is 3 MiB
    image_id = _create(client)
    assert _add(client, image_id, _external(datadir)).status_code == 202
    assert _settle(client, image_id)["status"] == "queued"
    task = _task(client, image_id)
    assert task["status"] == "failure"
    assert "image_size_total" in task["message"]
    usage = client.get("/v2/info/usage", headers=ALICE).json()["usage"]
    assert usage["image_size_total"]["usage"] == 0  # nothing stays reserved
    assert usage["image_count_uploading"]["usage"] == 0


@pytest.mark.parametrize(
    "where",
    ["outside", "dotdot", "symlink", "subdir", "host"],
)
def test_file_location_outside_the_store_is_400(
    loc: tuple[TestClient, Services], datadir: Path, tmp_path: Path, where: str
) -> None:
    client, _ = loc
    secret = tmp_path / "secret.img"
    secret.write_bytes(b"not image data")
    if where == "outside":
        url = secret.as_uri()
    elif where == "dotdot":
        url = f"{datadir.as_uri()}/../../../secret.img"
    elif where == "symlink":
        (datadir / "link.img").symlink_to(secret)
        url = (datadir / "link.img").as_uri()
    elif where == "subdir":
        (datadir / "sub").mkdir()
        url = _external(datadir / "sub")
    else:
        url = "file://elsewhere" + str(datadir / "x.img")
    image_id = _create(client)
    response = _add(client, image_id, url)
    assert response.status_code == 400, response.text
    assert "not a file in the directory of a configured filesystem store" in response.text
    assert client.get(f"/v2/images/{image_id}", headers=ALICE).json()["status"] == "queued"
    assert client.get(f"/v2/images/{image_id}/tasks", headers=ALICE).json()["tasks"] == []


def test_data_of_another_image_cannot_be_claimed(
    loc: tuple[TestClient, Services], datadir: Path, loc_settings: Settings
) -> None:
    client, _ = loc
    victim = _create(client)
    assert client.put(f"/v2/images/{victim}/file", content=b"alice's secret", headers={**OCTET, **ALICE}).status_code
    victim_url = (datadir / victim).as_uri()
    assert (datadir / victim).read_bytes() == b"alice's secret"
    thief = _create(client, BOB)
    response = _add(client, thief, victim_url, BOB)
    assert response.status_code == 400
    assert "another image" in response.text
    # also once the victim is deleted, and for a location another image uses
    shared = _create(client)
    assert _add(client, shared, _external(datadir, "shared.img")).status_code == 202
    assert _settle(client, shared)["status"] == "active"
    second = _create(client, BOB)
    response = _add(client, second, (datadir / "shared.img").as_uri(), BOB)
    assert response.status_code == 400
    assert "another image" in response.text
    assert client.delete(f"/v2/images/{victim}", headers=ALICE).status_code == 204
    (datadir / victim).write_bytes(b"left behind")  # as if removing it had failed
    assert _add(client, thief, victim_url, BOB).status_code == 400


def test_unknown_scheme_is_400(loc: tuple[TestClient, Services]) -> None:
    client, _ = loc
    image_id = _create(client)
    response = _add(client, image_id, "swift+https://user:key@swift.example.com/v1/container/obj")
    assert response.status_code == 400
    assert "does not belong to any configured store" in response.text
    assert "key" not in response.text  # credentials are never echoed
    assert _add(client, image_id, "no scheme at all").status_code == 400


# -- http:// locations --------------------------------------------------------------------------------------
def test_http_location_serves_downloads_from_the_web(loc: tuple[TestClient, Services], web_server: str) -> None:
    client, _ = loc
    image_id = _create(client)
    url = f"{web_server}/image.raw"
    assert _add(client, image_id, url).status_code == 202
    image = _settle(client, image_id)
    assert image["status"] == "active", _task(client, image_id)
    assert image["stores"] == "web"
    assert image["size"] == len(DATA)
    assert image["os_hash_value"] == hashlib.sha512(DATA).hexdigest()
    assert client.get(f"/v2/images/{image_id}/locations", headers=SERVICE).json() == [
        {"url": url, "metadata": {"store": "web"}}
    ]
    whole = client.get(f"/v2/images/{image_id}/file", headers=ALICE)
    assert whole.status_code == 200
    assert whole.content == DATA
    assert whole.headers["content-md5"] == hashlib.md5(DATA, usedforsecurity=False).hexdigest()
    for header, start, end in (
        ("bytes=100-199", 100, 200),
        ("bytes=100003-300000", 100003, 300001),  # starts exactly on a chunk of the server's
        (f"bytes={len(DATA) - 10}-", len(DATA) - 10, len(DATA)),
        ("bytes=-5", len(DATA) - 5, len(DATA)),
    ):
        ranged = client.get(f"/v2/images/{image_id}/file", headers={**ALICE, "Range": header})
        assert ranged.status_code == 206, header
        assert ranged.content == DATA[start:end], header
        assert ranged.headers["content-range"] == f"bytes {start}-{end - 1}/{len(DATA)}"
    # deleting the image leaves the web server's data alone (there is no way to remove it)
    assert client.delete(f"/v2/images/{image_id}", headers=ALICE).status_code == 204


def test_http_location_without_content_length(loc: tuple[TestClient, Services], web_server: str) -> None:
    client, _ = loc
    image_id = _create(client)
    assert _add(client, image_id, f"{web_server}/chunked.raw").status_code == 202
    assert _settle(client, image_id)["status"] == "active"
    assert client.get(f"/v2/images/{image_id}/file", headers=ALICE).content == DATA


def test_http_location_may_be_shared_by_images(loc: tuple[TestClient, Services], web_server: str) -> None:
    client, _ = loc
    first, second = _create(client), _create(client, BOB)
    assert _add(client, first, f"{web_server}/image.raw").status_code == 202
    assert _settle(client, first)["status"] == "active"
    assert _add(client, second, f"{web_server}/image.raw", BOB).status_code == 202
    assert _settle(client, second)["status"] == "active"
    assert client.get(f"/v2/images/{second}/file", headers=BOB).content == DATA


def test_http_location_that_is_gone_fails_the_task(loc: tuple[TestClient, Services], web_server: str) -> None:
    client, _ = loc
    image_id = _create(client)
    assert _add(client, image_id, f"{web_server}/gone.raw").status_code == 202
    assert _settle(client, image_id)["status"] == "queued"
    task = _task(client, image_id)
    assert task["status"] == "failure"
    assert "404" in task["message"]


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://10.1.2.3/image.raw", "allowed_hosts"),
        ("http://169.254.169.254/latest/meta-data", "allowed_hosts"),
        ("ftp://127.0.0.1/image.raw", "does not belong to any configured store"),
    ],
)
def test_http_location_passes_the_web_download_filter(loc: tuple[TestClient, Services], url: str, rule: str) -> None:
    client, _ = loc
    image_id = _create(client)
    response = _add(client, image_id, url)
    assert response.status_code == 400
    assert rule in response.text


def test_http_location_needs_an_http_store(client: TestClient) -> None:
    image_id = _create(client)
    response = _add(client, image_id, "http://127.0.0.1/image.raw")
    assert response.status_code == 400
    assert "store of type http" in response.text


def test_http_store_is_read_only(loc: tuple[TestClient, Services], web_server: str) -> None:
    client, _ = loc
    stores = client.get("/v2/info/stores").json()["stores"]
    assert stores == [{"id": "local", "default": "true"}, {"id": "web", "read-only": "true"}]
    image_id = _create(client)
    upload = client.put(
        f"/v2/images/{image_id}/file", content=b"x", headers={**OCTET, **ALICE, "X-Image-Meta-Store": "web"}
    )
    assert upload.status_code == 400
    assert "read-only" in upload.text
    assert client.get(f"/v2/images/{image_id}", headers=ALICE).json()["status"] == "queued"
    web_download = {"method": {"name": "web-download", "uri": f"{web_server}/image.raw"}}
    refused = client.post(f"/v2/images/{image_id}/import", json={**web_download, "stores": ["web"]}, headers=ALICE)
    assert refused.status_code == 409
    everywhere = client.post(f"/v2/images/{image_id}/import", json={**web_download, "all_stores": True}, headers=ALICE)
    assert everywhere.status_code == 202
    image = _settle(client, image_id)
    assert image["status"] == "active"
    assert image["stores"] == "local"


# -- statuses, duplicates, bodies -----------------------------------------------------------------------------
def test_only_a_queued_image_gets_a_location(loc: tuple[TestClient, Services], datadir: Path) -> None:
    client, _ = loc
    image_id = _create(client)
    url = _external(datadir)
    assert _add(client, image_id, url).status_code == 202
    assert _settle(client, image_id)["status"] == "active"
    duplicate = _add(client, image_id, url)
    assert duplicate.status_code == 409
    assert "It's not allowed to add locations if image status is active." in duplicate.text  # Glance's words
    other = _add(client, image_id, _external(datadir, "other.img"))
    assert other.status_code == 409
    assert "active" in other.text
    assert len(client.get(f"/v2/images/{image_id}/tasks", headers=ALICE).json()["tasks"]) == 1


def test_an_importing_image_gets_no_second_location(loc: tuple[TestClient, Services], datadir: Path) -> None:
    client, _ = loc
    image_id = _create(client)
    staged = client.put(f"/v2/images/{image_id}/stage", content=b"staged", headers={**OCTET, **ALICE})
    assert staged.status_code == 204
    response = _add(client, image_id, _external(datadir))
    assert response.status_code == 409
    assert "uploading" in response.text


def test_unknown_image_is_404(loc: tuple[TestClient, Services], datadir: Path) -> None:
    client, _ = loc
    missing = "00000000-0000-4000-8000-000000000000"
    assert _add(client, missing, _external(datadir)).status_code == 404
    assert client.get(f"/v2/images/{missing}/locations", headers=SERVICE).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": ""},
        {"url": 5},
        {"url": "file:///x", "extra": 1},
        {"url": "file:///" + "x" * 300},
        {"url": "file:///x", "validation_data": "sha512"},
        {"url": "file:///x", "validation_data": {"os_hash_algo": "sha512"}},
        {"url": "file:///x", "validation_data": {"os_hash_value": "ab" * 64}},
        {"url": "file:///x", "validation_data": {"os_hash_algo": "sha999", "os_hash_value": "ab" * 64}},
        {"url": "file:///x", "validation_data": {"os_hash_algo": "sha512", "os_hash_value": "ab" * 32}},
        {"url": "file:///x", "validation_data": {"os_hash_algo": "sha256", "os_hash_value": "zz" * 32}},
        {"url": "file:///x", "validation_data": {"os_hash_algo": "sha256", "os_hash_value": "ab" * 32, "x": 1}},
    ],
)
def test_bad_bodies_are_400(loc: tuple[TestClient, Services], body: dict[str, Any]) -> None:
    client, _ = loc
    image_id = _create(client)
    response = client.post(f"/v2/images/{image_id}/locations", json=body, headers=ALICE)
    assert response.status_code == 400, response.text
    assert client.post(f"/v2/images/{image_id}/locations", content=b"[]", headers=ALICE).status_code == 400


def test_a_json_list_body_is_400(loc: tuple[TestClient, Services]) -> None:
    client, _ = loc
    image_id = _create(client)
    response = client.post(
        f"/v2/images/{image_id}/locations", content=b"[]", headers={**ALICE, "content-type": "application/json"}
    )
    assert response.status_code == 400


# -- policy ---------------------------------------------------------------------------------------------------
def test_listing_locations_is_for_services(loc: tuple[TestClient, Services], datadir: Path) -> None:
    client, _ = loc
    image_id = _create(client)
    assert _add(client, image_id, _external(datadir)).status_code == 202
    _settle(client, image_id)
    assert client.get(f"/v2/images/{image_id}/locations", headers=ALICE).status_code == 403
    assert client.get(f"/v2/images/{image_id}/locations").status_code == 200  # service_api accepts admins
    assert client.get(f"/v2/images/{image_id}/locations", headers=SERVICE).status_code == 200
    service_token = {**ALICE, "X-Service-Roles": "service"}  # a user's token with a service token
    assert client.get(f"/v2/images/{image_id}/locations", headers=service_token).status_code == 200
    assert client.post(f"/v2/images/{image_id}/locations", headers=ALICE).status_code in (400, 415)


def test_other_projects_cannot_add_locations(loc: tuple[TestClient, Services], datadir: Path) -> None:
    client, _ = loc
    private = _create(client)
    assert _add(client, private, _external(datadir), BOB).status_code == 404
    shared = _create(client, visibility="shared")
    member = client.post(f"/v2/images/{shared}/members", json={"member": "beta"}, headers=ALICE)
    assert member.status_code == 200
    assert client.get(f"/v2/images/{shared}", headers=BOB).status_code == 200
    assert _add(client, shared, _external(datadir), BOB).status_code == 403
    reader = {"X-User-Id": "carol", "X-Project-Id": "alpha", "X-Roles": "reader"}
    assert _add(client, shared, _external(datadir), reader).status_code == 403
    assert client.get(f"/v2/images/{shared}", headers=ALICE).json()["status"] == "queued"
    # a service may add a location to any image it can see
    assert _add(client, shared, _external(datadir), SERVICE).status_code == 202
    assert _settle(client, shared)["status"] == "active"
