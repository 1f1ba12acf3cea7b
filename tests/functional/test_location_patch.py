"""The legacy location operations of image PATCH (``show_multiple_locations``), following the flows of
Tempest's ImageLocationsTest: locations added from a real local web server through the http store, the
status move to active with the store's size, validation_data checked against the image, replace only with
the same URLs, remove only by an admin and never the last, and the 403 when locations are hidden."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.container import Services, build_services
from glimpse.settings import Settings
from tests.conftest import make_client, running_services
from tests.functional.conftest import ADMIN, ALICE, OCTET, PATCH21, plain_error, store_files, web_settings
from tests.webserver import QuietHandler, serving

DATA = os.urandom(64 * 1024 + 3)


@pytest.fixture
def web_server() -> Iterator[str]:
    """Serves DATA at /image.raw and an empty body at /empty.raw; 404 elsewhere."""

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            body = {"/image.raw": DATA, "/empty.raw": b""}.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Handler) as url:
        yield url


def _settings(tmp_path: Path, database_url: str, **options: Any) -> Settings:
    return web_settings(tmp_path, database_url, "local:file,web:http", default_backend="local", **options)


@pytest.fixture
def shown_settings(tmp_path: Path, clean_db: str) -> Settings:
    return _settings(tmp_path, clean_db, show_multiple_locations=True, show_image_direct_url=True)


@pytest.fixture
def shown(shown_settings: Settings) -> Iterator[tuple[TestClient, Services]]:
    with running_services(shown_settings) as app:
        yield app


@pytest.fixture
def c(shown: tuple[TestClient, Services]) -> TestClient:
    return shown[0]


def _patch(client: TestClient, image_id: str, ops: list[dict[str, Any]], who: dict[str, str] | None = None) -> Any:
    return client.patch(f"/v2/images/{image_id}", json=ops, headers={**(ALICE if who is None else who), **PATCH21})


def _create(client: TestClient, **extra: Any) -> dict[str, Any]:
    body = {"disk_format": "raw", "container_format": "bare", **extra}
    response = client.post("/v2/images", json=body, headers=ALICE)
    assert response.status_code == 201, response.text
    image: dict[str, Any] = response.json()
    return image


def _add(url: str, metadata: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"op": "add", "path": "/locations/-", "value": {"url": url, "metadata": metadata or {}, **extra}}


def _located(client: TestClient, web_server: str) -> dict[str, Any]:
    """Tempest's check_set_location: a queued image becomes active from one http location."""
    image = _create(client)
    assert image["status"] == "queued"
    assert image["locations"] == []
    response = _patch(client, image["id"], [_add(f"{web_server}/image.raw", {"foo": "bar"})])
    assert response.status_code == 200, response.text
    shown = client.get(f"/v2/images/{image['id']}", headers=ALICE).json()
    assert [loc["url"] for loc in shown["locations"]] == [f"{web_server}/image.raw"]
    assert shown["locations"][0]["metadata"] == {"foo": "bar", "store": "web"}
    assert shown["direct_url"] == f"{web_server}/image.raw"
    assert shown["status"] == "active"
    assert shown["size"] == len(DATA)
    assert shown["stores"] == "web"
    assert (shown["checksum"], shown["os_hash_algo"], shown["os_hash_value"]) == (None, None, None)
    return shown


def _two_locations(client: TestClient, web_server: str) -> dict[str, Any]:
    image = _located(client, web_server)
    response = _patch(client, image["id"], [_add(f"{web_server}/image.raw#new", {"speed": "88mph"})])
    assert response.status_code == 200, response.text
    shown: dict[str, Any] = response.json()
    assert [loc["url"] for loc in shown["locations"]] == [f"{web_server}/image.raw", f"{web_server}/image.raw#new"]
    assert shown["status"] == "active"
    assert shown["direct_url"] == shown["locations"][0]["url"]
    return shown


# -- adding -------------------------------------------------------------------------------------------------
def test_set_location_makes_a_queued_image_active(c: TestClient, web_server: str) -> None:
    image = _located(c, web_server)
    download = c.get(f"/v2/images/{image['id']}/file", headers=ALICE)
    assert download.status_code == 200
    assert download.content == DATA


def test_set_multiple_locations_and_positions(c: TestClient, web_server: str) -> None:
    image = _two_locations(c, web_server)
    response = _patch(c, image["id"], [{"op": "add", "path": "/locations/0", "value": {
        "url": f"{web_server}/image.raw#first", "metadata": {}}}])  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["locations"][0]["url"] == f"{web_server}/image.raw#first"
    bad = _patch(c, image["id"], [{"op": "add", "path": "/locations/x", "value": {"url": f"{web_server}/image.raw#x",
                                                                                "metadata": {}}}])  # fmt: skip
    assert bad.status_code == 400
    assert bad.text == plain_error("400 Bad Request", "Invalid position for adding a location.")


def test_the_same_location_twice_is_400(c: TestClient, web_server: str) -> None:
    image = _located(c, web_server)
    response = _patch(c, image["id"], [_add(f"{web_server}/image.raw", {"foo": "bar"})])
    assert response.status_code == 400
    assert "already exists" in response.text


@pytest.mark.parametrize(
    "url",
    ["gopher://info.cern.ch", "file:///etc/passwd", "swift+config://ref1/glance/x", "http://127.0.0.1:1/none"],
)
def test_set_location_bad_url_is_400(c: TestClient, url: str) -> None:
    image = _create(c)
    response = _patch(c, image["id"], [_add(url)])
    assert response.status_code == 400, response.text
    assert response.text.startswith("400 Bad Request\n\nInvalid location")
    assert c.get(f"/v2/images/{image['id']}").json()["status"] == "queued"


def test_location_without_data_or_missing_is_400(c: TestClient, web_server: str) -> None:
    image = _create(c)
    for path in ("/empty.raw", "/missing.raw"):
        response = _patch(c, image["id"], [_add(f"{web_server}{path}")])
        assert response.status_code == 400, response.text
        assert "Invalid location" in response.text


def test_location_needs_the_formats_first(c: TestClient, web_server: str) -> None:
    response = c.post("/v2/images", json={"name": "no formats"}, headers=ALICE)
    image_id = response.json()["id"]
    response = _patch(c, image_id, [_add(f"{web_server}/image.raw")])
    assert response.status_code == 400
    assert response.text == plain_error(
        "400 Bad Request", "Properties disk_format, container_format must be set prior to saving data."
    )
    assert c.get(f"/v2/images/{image_id}").json()["status"] == "queued"


@pytest.mark.parametrize(
    "value",
    [{"url": "http://x"}, {"metadata": {}}, {"url": 5, "metadata": {}}, {"url": "http://x", "metadata": "m"},
     {"url": "u" * 256, "metadata": {}},
     {"url": "http://x", "metadata": {}, "validation_data": {"os_hash_algo": "sha512"}},
     {"url": "http://x", "metadata": {}, "validation_data": {"os_hash_algo": "a", "os_hash_value": "b", "x": 1}}],
)  # fmt: skip
def test_location_value_must_match_the_schema(c: TestClient, value: dict[str, Any]) -> None:
    image = _create(c)
    response = _patch(c, image["id"], [{"op": "add", "path": "/locations/-", "value": value}])
    assert response.status_code == 400
    assert response.text.startswith("400 Bad Request\n\nProvided object does not match schema 'image': ")


def test_add_needs_a_position(c: TestClient, web_server: str) -> None:
    image = _create(c)
    op = {"op": "add", "path": "/locations", "value": [{"url": f"{web_server}/image.raw", "metadata": {}}]}
    response = _patch(c, image["id"], [op])
    assert response.status_code == 400
    assert response.text == plain_error("400 Bad Request", "Invalid JSON pointer for this resource: '/locations'")


def test_add_to_a_deactivated_image_is_409(c: TestClient, web_server: str) -> None:
    image = _located(c, web_server)
    assert c.post(f"/v2/images/{image['id']}/actions/deactivate").status_code == 204
    response = _patch(c, image["id"], [_add(f"{web_server}/image.raw#again")])
    assert response.status_code == 409
    assert response.text == plain_error(
        "409 Conflict", "It's not allowed to add locations if image status is deactivated."
    )


def test_location_quota_is_413(tmp_path: Path, clean_db: str, web_server: str) -> None:
    settings = _settings(
        tmp_path, clean_db, show_multiple_locations=True, show_image_direct_url=True, image_location_quota=1
    )
    services = build_services(settings)
    try:
        with make_client(settings, services) as client:
            image = _located(client, web_server)
            response = _patch(client, image["id"], [_add(f"{web_server}/image.raw#2")])
            assert response.status_code == 413
            assert "Attempted: 2, Maximum: 1" in response.text
    finally:
        services.close()


# -- validation data ----------------------------------------------------------------------------------------
def _hashed(client: TestClient, web_server: str) -> dict[str, Any]:
    image = _create(client)
    validation = {"checksum": "1" * 32, "os_hash_value": "deadbeef" * 16, "os_hash_algo": "sha512"}
    response = _patch(client, image["id"], [_add(f"{web_server}/image.raw", validation_data=validation)])
    assert response.status_code == 200, response.text
    shown: dict[str, Any] = client.get(f"/v2/images/{image['id']}", headers=ALICE).json()
    assert (shown["checksum"], shown["os_hash_value"], shown["os_hash_algo"]) == (
        "1" * 32, "deadbeef" * 16, "sha512")  # fmt: skip
    assert shown["status"] == "active"
    assert "validation_data" not in shown["locations"][0]
    return shown


def test_set_location_with_hash(c: TestClient, web_server: str) -> None:
    _hashed(c, web_server)


def test_set_location_with_hash_second_matching(c: TestClient, web_server: str) -> None:
    image = _hashed(c, web_server)
    same = {key: image[key] for key in ("checksum", "os_hash_value", "os_hash_algo")}
    response = _patch(c, image["id"], [_add(f"{web_server}/image.raw#new", validation_data=same)])
    assert response.status_code == 200, response.text
    assert len(response.json()["locations"]) == 2
    assert all("validation_data" not in loc for loc in response.json()["locations"])


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("checksum", "2" * 32, "checksum is already set with a different value"),
        ("os_hash_value", "beefdead" * 16, "os_hash_value is already set with a different value"),
        ("os_hash_algo", "sha256", "os_hash_algo is already set with a different value"),
    ],
)
def test_set_location_with_hash_not_matching(
    c: TestClient, web_server: str, key: str, value: str, message: str
) -> None:
    image = _hashed(c, web_server)
    validation = {name: image[name] for name in ("checksum", "os_hash_value", "os_hash_algo")}
    validation[key] = value
    response = _patch(c, image["id"], [_add(f"{web_server}/image.raw#new", validation_data=validation)])
    assert response.status_code == 409
    assert response.text == plain_error("409 Conflict", message)
    assert len(c.get(f"/v2/images/{image['id']}").json()["locations"]) == 1


@pytest.mark.parametrize(
    ("validation", "message"),
    [
        ({"os_hash_algo": "sha256", "os_hash_value": "ab" * 32}, "os_hash_algo must be sha512, not sha256"),
        ({"os_hash_algo": "sha512", "os_hash_value": "zz" * 64}, "is not a valid hexadecimal value"),
        ({"os_hash_algo": "sha512", "os_hash_value": "ab" * 10}, "is not the correct size for sha512"),
        ({"checksum": "g" * 32, "os_hash_algo": "sha512", "os_hash_value": "ab" * 64}, "is not a valid hexadecimal"),
    ],
)
def test_new_hash_values_are_checked(c: TestClient, web_server: str, validation: dict[str, str], message: str) -> None:
    image = _create(c)
    response = _patch(c, image["id"], [_add(f"{web_server}/image.raw", validation_data=validation)])
    assert response.status_code == 409, response.text
    assert message in response.text
    assert c.get(f"/v2/images/{image['id']}").json()["status"] == "queued"


def test_conflicting_values_in_one_request_are_409(c: TestClient, web_server: str) -> None:
    image = _create(c)
    one = {"os_hash_algo": "sha512", "os_hash_value": "ab" * 64}
    two = {"os_hash_algo": "sha512", "os_hash_value": "cd" * 64}
    value = [
        {"url": f"{web_server}/image.raw", "metadata": {}, "validation_data": one},
        {"url": f"{web_server}/image.raw#2", "metadata": {}, "validation_data": two},
    ]
    response = _patch(c, image["id"], [{"op": "replace", "path": "/locations", "value": value}])
    assert response.status_code == 409
    assert response.text == plain_error("409 Conflict", "Conflicting values for os_hash_value")


# -- replacing ----------------------------------------------------------------------------------------------
def test_replace_location(c: TestClient, web_server: str) -> None:
    image = _two_locations(c, web_server)
    original = image["locations"]
    assert _patch(c, image["id"], [{"op": "replace", "path": "/locations", "value": original}]).status_code == 200
    original[0]["metadata"]["date"] = "2015-10-15"
    response = _patch(c, image["id"], [{"op": "replace", "path": "/locations", "value": original}])
    assert response.status_code == 200, response.text
    dropping = _patch(c, image["id"], [{"op": "replace", "path": "/locations", "value": [original[0]]}])
    assert dropping.status_code == 400
    assert "Original locations is not empty" in dropping.text
    swapped = [original[0], {"url": f"{web_server}/image.raw#new3", "metadata": original[1]["metadata"]}]
    assert _patch(c, image["id"], [{"op": "replace", "path": "/locations", "value": swapped}]).status_code == 400
    shown = c.get(f"/v2/images/{image['id']}", headers=ALICE).json()
    assert shown["locations"] == original


def test_replace_on_a_queued_image_sets_the_locations(c: TestClient, web_server: str) -> None:
    image = _create(c)
    value = [{"url": f"{web_server}/image.raw", "metadata": {"a": "b"}}]
    response = _patch(c, image["id"], [{"op": "replace", "path": "/locations", "value": value}])
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active"
    assert response.json()["size"] == len(DATA)


def test_replace_with_an_empty_list_is_403(c: TestClient, web_server: str) -> None:
    image = _located(c, web_server)
    response = _patch(c, image["id"], [{"op": "replace", "path": "/locations", "value": []}])
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", "Cannot set locations to empty list.")


# -- removing -----------------------------------------------------------------------------------------------
def test_remove_is_for_admins_and_never_the_last(c: TestClient, web_server: str) -> None:
    image = _two_locations(c, web_server)
    by_member = _patch(c, image["id"], [{"op": "remove", "path": "/locations/1"}])
    assert by_member.status_code == 403
    bad = _patch(c, image["id"], [{"op": "remove", "path": "/locations/2"}], ADMIN)
    assert bad.text == plain_error("400 Bad Request", "Invalid position for removing a location.")
    response = _patch(c, image["id"], [{"op": "remove", "path": "/locations/0"}], ADMIN)
    assert response.status_code == 200, response.text
    assert [loc["url"] for loc in response.json()["locations"]] == [f"{web_server}/image.raw#new"]
    last = _patch(c, image["id"], [{"op": "remove", "path": "/locations/-"}], ADMIN)
    assert last.status_code == 403
    assert last.text == plain_error("403 Forbidden", "Cannot remove last location in the image.")


def test_remove_deletes_the_data_of_a_writable_store(c: TestClient, shown_settings: Settings, web_server: str) -> None:
    image = _create(c)
    assert c.put(f"/v2/images/{image['id']}/file", content=DATA, headers={**ALICE, **OCTET}).status_code == 204
    assert len(store_files(shown_settings, "local")) == 1
    assert _patch(c, image["id"], [_add(f"{web_server}/image.raw")]).status_code == 200
    response = _patch(c, image["id"], [{"op": "remove", "path": "/locations/0"}], ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["stores"] == "web"
    assert store_files(shown_settings, "local") == []
    assert c.get(f"/v2/images/{image['id']}/file", headers=ALICE).content == DATA


def test_remove_from_a_queued_image_is_409(c: TestClient) -> None:
    image = _create(c)
    response = _patch(c, image["id"], [{"op": "remove", "path": "/locations/0"}], ADMIN)
    assert response.status_code == 409
    assert response.text == plain_error(
        "409 Conflict", "It's not allowed to remove locations if image status is queued."
    )


# -- hidden locations (the default) -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("op", "verb"),
    [
        ({"op": "add", "path": "/locations/-", "value": {"url": "http://127.0.0.1/x", "metadata": {}}}, "add"),
        ({"op": "replace", "path": "/locations", "value": [{"url": "http://127.0.0.1/x", "metadata": {}}]}, "update"),
        ({"op": "remove", "path": "/locations/0"}, "remove"),
    ],
)
def test_hidden_locations_are_403(client: TestClient, make_image: Any, op: dict[str, Any], verb: str) -> None:
    image = make_image(ALICE)
    response = _patch(client, image["id"], [op], ADMIN)
    assert response.status_code == 403
    assert response.text == plain_error(
        "403 Forbidden", f"It's not allowed to {verb} locations if locations are invisible."
    )
    shown = client.get(f"/v2/images/{image['id']}").json()
    assert "locations" not in shown
    assert "direct_url" not in shown


def test_a_reader_cannot_set_locations(c: TestClient, web_server: str) -> None:
    image = _create(c)
    reader = {"X-User-Id": "carol", "X-Project-Id": "alpha", "X-Roles": "reader"}
    response = _patch(c, image["id"], [_add(f"{web_server}/image.raw")], reader)
    assert response.status_code == 403
    assert c.get(f"/v2/images/{image['id']}").json()["status"] == "queued"


def test_create_with_locations_is_403(c: TestClient, web_server: str) -> None:
    for locations in ([], [{"url": f"{web_server}/image.raw", "metadata": {}}]):
        response = c.post("/v2/images", json={"locations": locations}, headers=ALICE)
        assert response.status_code == 403
        assert response.text == plain_error("403 Forbidden", "Attribute 'locations' is reserved.")
