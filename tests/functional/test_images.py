"""/v2/images and /v2/images/{id}: create, show, delete, property rules, visibility, deactivate/reactivate."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.settings import load_settings
from tests.conftest import running_app
from tests.functional.conftest import ALICE, BOB, CAROL_READER, JSON_ACCEPT, PATCH21, plain_error, race

MakeImage = Callable[..., dict[str, Any]]


def ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {image["id"] for image in response.json()["images"]}


# -- create and show ---------------------------------------------------------------------------------------
def test_create_returns_201_with_defaults_and_links(client: TestClient) -> None:
    response = client.post("/v2/images", json={"name": "cirros"}, headers=ALICE)
    assert response.status_code == 201
    body = response.json()
    image_id = body["id"]
    assert uuid.UUID(image_id)
    assert response.headers["location"].endswith(f"/v2/images/{image_id}")
    assert response.headers["openstack-image-store-ids"] == "local"
    assert body["name"] == "cirros"
    assert body["status"] == "queued"
    assert body["visibility"] == "shared"
    assert body["owner"] == "alpha"
    assert body["protected"] is False
    assert body["os_hidden"] is False
    assert body["min_disk"] == 0
    assert body["min_ram"] == 0
    assert body["size"] is None
    assert body["virtual_size"] is None
    assert body["checksum"] is None
    assert body["os_hash_algo"] is None
    assert body["os_hash_value"] is None
    assert body["disk_format"] is None
    assert body["container_format"] is None
    assert body["tags"] == []
    assert body["self"] == f"/v2/images/{image_id}"
    assert body["file"] == f"/v2/images/{image_id}/file"
    assert body["schema"] == "/v2/schemas/image"
    assert body["created_at"].endswith("Z")
    assert body["updated_at"].endswith("Z")
    assert "stores" not in body
    assert "locations" not in body
    assert "direct_url" not in body
    shown = client.get(f"/v2/images/{image_id}", headers=ALICE)
    assert shown.status_code == 200
    assert shown.json() == body


def test_create_with_everything(client: TestClient) -> None:
    image_id = str(uuid.uuid4())
    body = {
        "id": image_id,
        "name": "full",
        "visibility": "private",
        "protected": True,
        "os_hidden": True,
        "min_disk": 10,
        "min_ram": 512,
        "disk_format": "qcow2",
        "container_format": "bare",
        "tags": ["b", "a"],
        "hw_disk_bus": "scsi",
        "os_distro": "cirros",
    }
    response = client.post("/v2/images", json=body, headers=ALICE)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["id"] == image_id
    for key, value in body.items():
        assert created[key] == (sorted(value) if key == "tags" else value), key


def test_create_with_existing_id_is_409(client: TestClient) -> None:
    image_id = str(uuid.uuid4())
    assert client.post("/v2/images", json={"id": image_id}).status_code == 201
    response = client.post("/v2/images", json={"id": image_id})
    assert response.status_code == 409
    assert response.text == plain_error("409 Conflict", f"Image ID {image_id} already exists!")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "cirros", "disk_format": "qcow2", "container_format": "bare"},
        {"id": "c0ffee00-0000-4000-8000-000000000001", "visibility": "public", "protected": True, "min_disk": 3,
         "min_ram": 512, "tags": ["b", "a", "b"], "os_hidden": True, "hw_disk_bus": "scsi", "owner": "beta"},
        {"name": None, "visibility": "community", "container_format": "ovf", "disk_format": "vmdk"},
    ],
)  # fmt: skip
def test_a_created_image_as_stored_matches_the_image_schema(
    client: TestClient, services: Any, body: dict[str, Any]
) -> None:
    """A create checks its body against the schema, not the image it builds: what it adds (defaults, owner,
    times, status) must match the schema too, as every later update re-checks the whole image."""
    from glimpse.context import RequestContext
    from glimpse.services.images.base import image_document

    response = client.post("/v2/images", json=body)
    assert response.status_code == 201, response.text
    admin = RequestContext(user_id="admin", project_id="admin", roles=frozenset({"admin", "member", "reader"}))
    image = client.portal.call(services.images.get, admin, response.json()["id"])  # type: ignore[union-attr]
    services.schemas.validate_image(image_document(image))
    assert client.patch(f"/v2/images/{image.id}", json=[], headers=PATCH21).status_code == 200


@pytest.mark.parametrize("round_", range(5))
def test_concurrent_creates_with_one_id_give_one_201_and_409s(client: TestClient, round_: int) -> None:
    """The losers of the race meet the primary key and answer Glance's 409 (was a 500)."""
    image_id = str(uuid.uuid4())
    responses = race(10, lambda: client.post("/v2/images", json={"id": image_id, "name": "racer"}))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 9, [r.text for r in responses]
    exists = plain_error("409 Conflict", f"Image ID {image_id} already exists!")
    assert all(r.text == exists for r in responses if r.status_code == 409)
    assert [i["id"] for i in client.get("/v2/images").json()["images"]] == [image_id]


def test_id_of_a_deleted_image_is_not_reused(client: TestClient) -> None:
    image_id = str(uuid.uuid4())
    assert client.post("/v2/images", json={"id": image_id}).status_code == 201
    assert client.delete(f"/v2/images/{image_id}").status_code == 204
    assert client.post("/v2/images", json={"id": image_id}).status_code == 409


def test_create_with_invalid_id_is_400(client: TestClient) -> None:
    response = client.post("/v2/images", json={"id": "not-a-uuid"})
    assert response.status_code == 400
    assert response.text.startswith("400 Bad Request\n\nProvided object does not match schema 'image': ")


@pytest.mark.parametrize(
    "attribute", ["status", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value", "created_at",
                  "updated_at", "self", "file", "schema", "direct_url", "stores"]
)  # fmt: skip
def test_create_with_read_only_attribute_is_403(client: TestClient, attribute: str) -> None:
    response = client.post("/v2/images", json={"name": "x", attribute: "v"}, headers=ALICE)
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", f"Attribute '{attribute}' is read-only.")
    assert client.get("/v2/images", headers=ALICE).json()["images"] == []


@pytest.mark.parametrize("attribute", ["location", "deleted", "deleted_at"])
def test_create_with_reserved_attribute_is_403(client: TestClient, attribute: str) -> None:
    response = client.post("/v2/images", json={"name": "x", attribute: "v"}, headers=ALICE)
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", f"Attribute '{attribute}' is reserved.")


@pytest.mark.parametrize("attribute", ["os_glance_import_task", "os_glance_foo", "os_glance"])
def test_create_with_os_glance_namespace_is_403(client: TestClient, attribute: str) -> None:
    response = client.post("/v2/images", json={"name": "x", attribute: "v"}, headers=ALICE)
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", f"Attribute '{attribute}' is reserved.")


def test_extra_property_key_length(client: TestClient) -> None:
    ok = client.post("/v2/images", json={"k" * 255: "v"})
    assert ok.status_code == 201
    assert ok.json()["k" * 255] == "v"
    too_long = client.post("/v2/images", json={"k" * 256: "v"})
    assert too_long.status_code == 400
    assert too_long.text.startswith("400 Bad Request\n\n")


def test_extra_property_value_length(client: TestClient) -> None:
    ok = client.post("/v2/images", json={"big": "v" * 65535})
    assert ok.status_code == 201
    assert client.get(f"/v2/images/{ok.json()['id']}").json()["big"] == "v" * 65535
    too_long = client.post("/v2/images", json={"big": "v" * 65536})
    assert too_long.status_code == 400
    assert too_long.text.startswith("400 Bad Request\n\n")


@pytest.mark.parametrize("value", [1, 1.5, True, None, ["a"], {"a": "b"}])
def test_extra_property_must_be_a_string(client: TestClient, value: object) -> None:
    response = client.post("/v2/images", json={"prop": value})
    assert response.status_code == 400
    assert response.text.startswith("400 Bad Request\n\nProvided object does not match schema 'image': ")


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("min_disk", -1),
        ("min_ram", -1),
        ("min_disk", "10"),
        ("min_ram", 1.5),
        ("min_disk", 2147483648),
        ("min_ram", None),
        ("protected", "yes"),
        ("os_hidden", "true"),
        ("visibility", "everyone"),
        ("name", "n" * 256),
        ("tags", "not-a-list"),
        ("tags", ["t" * 256]),
        ("disk_format", "floppy"),
        ("container_format", "tarball"),
    ],
)
def test_create_with_invalid_core_value_is_400(client: TestClient, attribute: str, value: object) -> None:
    response = client.post("/v2/images", json={attribute: value}, headers=JSON_ACCEPT)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "400 Bad Request"
    assert body["message"].startswith("Provided object does not match schema 'image': ")


def test_min_disk_and_min_ram_bounds(client: TestClient) -> None:
    response = client.post("/v2/images", json={"min_disk": 0, "min_ram": 2147483647})
    assert response.status_code == 201
    assert response.json()["min_ram"] == 2147483647


@pytest.mark.parametrize(
    "disk_format", ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]
)
def test_default_disk_formats(client: TestClient, disk_format: str) -> None:
    assert client.post("/v2/images", json={"disk_format": disk_format}).status_code == 201


@pytest.mark.parametrize("container_format", ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"])
def test_default_container_formats(client: TestClient, container_format: str) -> None:
    assert client.post("/v2/images", json={"container_format": container_format}).status_code == 201


@pytest.fixture
def custom_formats_client(tmp_path: Path, clean_db: str) -> Iterator[TestClient]:
    ini = tmp_path / "glimpse.conf"
    ini.write_text("[image_format]\ndisk_formats = raw, gpt\ncontainer_formats = bare, box\n")
    settings = load_settings(config_file=ini, env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth")
    with running_app(settings) as test_client:
        yield test_client


def test_formats_are_configurable(custom_formats_client: TestClient) -> None:
    client = custom_formats_client
    assert client.post("/v2/images", json={"disk_format": "gpt", "container_format": "box"}).status_code == 201
    assert client.post("/v2/images", json={"disk_format": "qcow2"}).status_code == 400
    assert client.post("/v2/images", json={"container_format": "ovf"}).status_code == 400
    schema = client.get("/v2/schemas/image").json()
    assert schema["properties"]["disk_format"]["enum"] == [None, "raw", "gpt"]
    assert schema["properties"]["container_format"]["enum"] == [None, "bare", "box"]


def test_show_unknown_image_is_404(client: TestClient) -> None:
    missing = str(uuid.uuid4())
    response = client.get(f"/v2/images/{missing}")
    assert response.status_code == 404
    assert response.text == plain_error("404 Not Found", f"No image found with ID {missing}")


# -- ownership ---------------------------------------------------------------------------------------------
def test_member_cannot_create_for_another_owner(client: TestClient) -> None:
    response = client.post("/v2/images", json={"owner": "beta"}, headers=ALICE)
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", "You are not authorized to complete add_image action.")


def test_admin_can_create_for_another_owner(client: TestClient) -> None:
    response = client.post("/v2/images", json={"owner": "beta", "visibility": "private"})
    assert response.status_code == 201
    assert response.json()["owner"] == "beta"
    assert client.get(f"/v2/images/{response.json()['id']}", headers=BOB).status_code == 200


def test_reader_cannot_create(client: TestClient) -> None:
    response = client.post("/v2/images", json={"name": "x"}, headers=CAROL_READER)
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", "You are not authorized to complete add_image action.")


# -- visibility on create ----------------------------------------------------------------------------------
def test_publicize_on_create_requires_admin(client: TestClient) -> None:
    response = client.post("/v2/images", json={"visibility": "public"}, headers=ALICE)
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", "You are not authorized to complete publicize_image action.")
    admin = client.post("/v2/images", json={"visibility": "public"})
    assert admin.status_code == 201
    assert admin.json()["visibility"] == "public"


@pytest.mark.parametrize("visibility", ["private", "shared", "community"])
def test_member_may_create_non_public(client: TestClient, visibility: str) -> None:
    response = client.post("/v2/images", json={"visibility": visibility}, headers=ALICE)
    assert response.status_code == 201
    assert response.json()["visibility"] == visibility


def test_private_image_of_another_project(client: TestClient, make_image: MakeImage) -> None:
    image = make_image(ALICE, visibility="private")
    path = f"/v2/images/{image['id']}"
    assert client.get(path, headers=ALICE).status_code == 200
    missing = plain_error("404 Not Found", f"No image found with ID {image['id']}")
    show = client.get(path, headers=BOB)
    assert (show.status_code, show.text) == (404, missing)
    patch = client.patch(path, json=[{"op": "replace", "path": "/name", "value": "x"}], headers={**BOB, **PATCH21})
    assert (patch.status_code, patch.text) == (404, missing)
    delete = client.delete(path, headers=BOB)
    assert (delete.status_code, delete.text) == (404, missing)
    download = client.get(f"{path}/file", headers=BOB)
    assert (download.status_code, download.text) == (404, missing)
    assert image["id"] not in ids(client.get("/v2/images", headers=BOB))
    assert image["id"] not in ids(client.get("/v2/images?visibility=private", headers=BOB))
    # the admin sees everything
    assert client.get(path).status_code == 200
    assert image["id"] in ids(client.get("/v2/images"))


def test_public_image_of_another_project(client: TestClient, active_image: Callable[..., dict[str, Any]]) -> None:
    image = active_image(b"public-bytes", visibility="public")
    path = f"/v2/images/{image['id']}"
    assert client.get(path, headers=BOB).status_code == 200
    assert image["id"] in ids(client.get("/v2/images", headers=BOB))
    assert client.get(f"{path}/file", headers=BOB).content == b"public-bytes"
    patch = client.patch(path, json=[{"op": "replace", "path": "/name", "value": "x"}], headers={**BOB, **PATCH21})
    assert patch.status_code == 403
    assert patch.text == plain_error("403 Forbidden", "You are not authorized to complete modify_image action.")
    delete = client.delete(path, headers=BOB)
    assert delete.status_code == 403
    assert delete.text == plain_error("403 Forbidden", "You are not authorized to complete delete_image action.")
    assert client.get(path).json()["name"] is None


def test_community_image_is_readable_but_not_listed_by_default(
    client: TestClient, active_image: Callable[..., dict[str, Any]]
) -> None:
    image = active_image(b"community-bytes", ALICE, visibility="community")
    path = f"/v2/images/{image['id']}"
    assert client.get(path, headers=BOB).status_code == 200
    assert client.get(f"{path}/file", headers=BOB).content == b"community-bytes"
    assert image["id"] not in ids(client.get("/v2/images", headers=BOB))
    assert image["id"] in ids(client.get("/v2/images?visibility=community", headers=BOB))
    assert (
        client.patch(
            path, json=[{"op": "replace", "path": "/name", "value": "x"}], headers={**BOB, **PATCH21}
        ).status_code
        == 403
    )
    assert client.delete(path, headers=BOB).status_code == 403


def test_shared_image_visible_to_members_only(client: TestClient, make_image: MakeImage) -> None:
    image = make_image(ALICE, visibility="shared")
    path = f"/v2/images/{image['id']}"
    assert client.get(path, headers=BOB).status_code == 404
    assert client.post(f"{path}/members", json={"member": "beta"}, headers=ALICE).status_code == 200
    # a pending member can show the image, but it is not in its default list
    assert client.get(path, headers=BOB).status_code == 200
    assert image["id"] not in ids(client.get("/v2/images", headers=BOB))
    assert image["id"] in ids(client.get("/v2/images?member_status=pending", headers=BOB))
    assert client.put(f"{path}/members/beta", json={"status": "accepted"}, headers=BOB).status_code == 200
    assert image["id"] in ids(client.get("/v2/images", headers=BOB))
    assert image["id"] in ids(client.get("/v2/images?visibility=shared", headers=BOB))
    assert client.put(f"{path}/members/beta", json={"status": "rejected"}, headers=BOB).status_code == 200
    assert image["id"] not in ids(client.get("/v2/images", headers=BOB))
    assert image["id"] in ids(client.get("/v2/images?member_status=rejected", headers=BOB))
    assert image["id"] in ids(client.get("/v2/images?member_status=all", headers=BOB))
    # a member still may not modify or delete it
    assert client.delete(path, headers=BOB).status_code == 403


# -- delete ------------------------------------------------------------------------------------------------
def test_delete_image(client: TestClient, make_image: MakeImage) -> None:
    image = make_image(ALICE)
    response = client.delete(f"/v2/images/{image['id']}", headers=ALICE)
    assert response.status_code == 204
    assert response.content == b""
    assert client.get(f"/v2/images/{image['id']}", headers=ALICE).status_code == 404
    assert client.delete(f"/v2/images/{image['id']}", headers=ALICE).status_code == 404
    assert image["id"] not in ids(client.get("/v2/images"))


def test_delete_removes_data(client: TestClient, settings: Any, active_image: Callable[..., dict[str, Any]]) -> None:
    from tests.functional.conftest import store_files

    image = active_image(b"to be removed")
    assert len(store_files(settings)) == 1
    assert client.delete(f"/v2/images/{image['id']}").status_code == 204
    assert store_files(settings) == []


def test_protected_image_cannot_be_deleted(client: TestClient, make_image: MakeImage) -> None:
    image = make_image(ALICE, protected=True)
    path = f"/v2/images/{image['id']}"
    response = client.delete(path, headers=ALICE)
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", f"Image {image['id']} is protected and cannot be deleted.")
    # the admin cannot either, until protection is lifted
    assert client.delete(path).status_code == 403
    unprotect = client.patch(path, json=[{"op": "replace", "path": "/protected", "value": False}], headers=PATCH21)
    assert unprotect.status_code == 200
    assert client.delete(path, headers=ALICE).status_code == 204


def test_reader_cannot_delete(client: TestClient, make_image: MakeImage) -> None:
    image = make_image(ALICE)
    response = client.delete(f"/v2/images/{image['id']}", headers=CAROL_READER)
    assert response.status_code == 403


# -- os_hidden ---------------------------------------------------------------------------------------------
def test_hidden_image_not_in_default_list(client: TestClient, make_image: MakeImage) -> None:
    hidden = make_image(os_hidden=True)
    shown = make_image()
    assert ids(client.get("/v2/images")) == {shown["id"]}
    assert ids(client.get("/v2/images?os_hidden=true")) == {hidden["id"]}
    assert ids(client.get("/v2/images?os_hidden=false")) == {shown["id"]}
    assert client.get(f"/v2/images/{hidden['id']}").status_code == 200
    bad = client.get("/v2/images?os_hidden=maybe")
    assert bad.status_code == 400


# -- deactivate / reactivate -------------------------------------------------------------------------------
def test_deactivate_and_reactivate(client: TestClient, active_image: Callable[..., dict[str, Any]]) -> None:
    image = active_image(b"data", ALICE)
    path = f"/v2/images/{image['id']}"
    response = client.post(f"{path}/actions/deactivate", headers=ALICE)
    assert response.status_code == 204
    assert response.content == b""
    assert client.get(path, headers=ALICE).json()["status"] == "deactivated"
    # deactivating again is a no-op
    assert client.post(f"{path}/actions/deactivate", headers=ALICE).status_code == 204
    download = client.get(f"{path}/file", headers=ALICE)
    assert download.status_code == 403
    assert download.text == plain_error(
        "403 Forbidden", "The requested image has been deactivated. Image data download is forbidden."
    )
    # the admin may still download
    admin = client.get(f"{path}/file")
    assert admin.status_code == 200
    assert admin.content == b"data"
    assert client.post(f"{path}/actions/reactivate", headers=ALICE).status_code == 204
    assert client.get(path, headers=ALICE).json()["status"] == "active"
    assert client.post(f"{path}/actions/reactivate", headers=ALICE).status_code == 204
    assert client.get(f"{path}/file", headers=ALICE).content == b"data"


def test_deactivate_queued_image_is_403(client: TestClient, make_image: MakeImage) -> None:
    image = make_image(ALICE)
    path = f"/v2/images/{image['id']}"
    response = client.post(f"{path}/actions/deactivate", headers=ALICE)
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", "Not allowed to deactivate image in status 'queued'")
    response = client.post(f"{path}/actions/reactivate", headers=ALICE)
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", "Not allowed to reactivate image in status 'queued'")
    assert client.get(path).json()["status"] == "queued"


def test_deactivate_needs_the_owner(client: TestClient, active_image: Callable[..., dict[str, Any]]) -> None:
    image = active_image(b"data", visibility="public")
    response = client.post(f"/v2/images/{image['id']}/actions/deactivate", headers=BOB)
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", "You are not authorized to complete deactivate action.")
    missing = client.post(f"/v2/images/{uuid.uuid4()}/actions/deactivate")
    assert missing.status_code == 404


def test_deactivated_image_cannot_be_uploaded_to(
    client: TestClient, active_image: Callable[..., dict[str, Any]]
) -> None:
    image = active_image(b"data")
    assert client.post(f"/v2/images/{image['id']}/actions/deactivate").status_code == 204
    response = client.put(
        f"/v2/images/{image['id']}/file", content=b"more", headers={"content-type": "application/octet-stream"}
    )
    assert response.status_code == 409
