"""PATCH /v2/images/{id}: JSON patch 2.1 and the deprecated 2.0 dialect."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from glimpse.container import Services
from glimpse.db.models import ImageRow
from tests.functional.conftest import ALICE, BOB, CAROL_READER, JSON_ACCEPT, PATCH20, PATCH21, plain_error

MakeImage = Callable[..., dict[str, Any]]


@pytest.fixture
def image(make_image: MakeImage) -> dict[str, Any]:
    return make_image(ALICE, name="original", os_distro="cirros")


def patch(
    client: TestClient,
    image_id: str,
    ops: list[dict[str, Any]],
    headers: dict[str, str] | None = None,
    dialect: dict[str, str] = PATCH21,
) -> Any:
    who = ALICE if headers is None else headers
    return client.patch(f"/v2/images/{image_id}", json=ops, headers={**who, **dialect})


# -- extra properties, 2.1 -----------------------------------------------------------------------------------
def test_add_replace_remove_extra_property(client: TestClient, image: dict[str, Any]) -> None:
    response = patch(client, image["id"], [{"op": "add", "path": "/hw_disk_bus", "value": "scsi"}])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["hw_disk_bus"] == "scsi"
    response = patch(client, image["id"], [{"op": "replace", "path": "/hw_disk_bus", "value": "virtio"}])
    assert response.status_code == 200
    assert response.json()["hw_disk_bus"] == "virtio"
    response = patch(client, image["id"], [{"op": "remove", "path": "/hw_disk_bus"}])
    assert response.status_code == 200
    assert "hw_disk_bus" not in response.json()
    assert "hw_disk_bus" not in client.get(f"/v2/images/{image['id']}").json()


def test_add_existing_extra_property_overwrites(client: TestClient, image: dict[str, Any]) -> None:
    response = patch(client, image["id"], [{"op": "add", "path": "/os_distro", "value": "ubuntu"}])
    assert response.status_code == 200
    assert response.json()["os_distro"] == "ubuntu"


def test_replace_missing_extra_property_is_409(client: TestClient, image: dict[str, Any]) -> None:
    response = patch(client, image["id"], [{"op": "replace", "path": "/missing", "value": "v"}])
    assert response.status_code == 409
    assert response.text == plain_error("409 Conflict", "Property missing does not exist.")


def test_remove_missing_extra_property_is_409(client: TestClient, image: dict[str, Any]) -> None:
    response = patch(client, image["id"], [{"op": "remove", "path": "/missing"}])
    assert response.status_code == 409
    assert response.text == plain_error("409 Conflict", "Property missing does not exist.")


def test_failed_patch_changes_nothing(client: TestClient, image: dict[str, Any]) -> None:
    ops = [
        {"op": "replace", "path": "/name", "value": "changed"},
        {"op": "add", "path": "/new", "value": "v"},
        {"op": "remove", "path": "/missing"},
    ]
    assert patch(client, image["id"], ops).status_code == 409
    shown = client.get(f"/v2/images/{image['id']}").json()
    assert shown["name"] == "original"
    assert "new" not in shown


def test_operations_apply_in_order(client: TestClient, image: dict[str, Any]) -> None:
    ops = [
        {"op": "add", "path": "/a", "value": "1"},
        {"op": "replace", "path": "/a", "value": "2"},
        {"op": "add", "path": "/b", "value": "3"},
        {"op": "remove", "path": "/b"},
    ]
    body = patch(client, image["id"], ops).json()
    assert body["a"] == "2"
    assert "b" not in body


def test_extra_property_limits_on_patch(client: TestClient, image: dict[str, Any]) -> None:
    assert patch(client, image["id"], [{"op": "add", "path": "/" + "k" * 255, "value": "v"}]).status_code == 200
    too_long_key = patch(client, image["id"], [{"op": "add", "path": "/" + "k" * 256, "value": "v"}])
    assert too_long_key.status_code == 400
    assert patch(client, image["id"], [{"op": "add", "path": "/big", "value": "v" * 65535}]).status_code == 200
    too_long_value = patch(client, image["id"], [{"op": "add", "path": "/big2", "value": "v" * 65536}])
    assert too_long_value.status_code == 400
    not_string = patch(client, image["id"], [{"op": "add", "path": "/num", "value": 5}])
    assert not_string.status_code == 400


def test_escaped_json_pointer(client: TestClient, image: dict[str, Any]) -> None:
    body = patch(client, image["id"], [{"op": "add", "path": "/a~1b~0c", "value": "v"}]).json()
    assert body["a/b~c"] == "v"


# -- core attributes -----------------------------------------------------------------------------------------
def test_replace_core_attributes(client: TestClient, image: dict[str, Any]) -> None:
    ops = [
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "replace", "path": "/min_disk", "value": 5},
        {"op": "replace", "path": "/min_ram", "value": 256},
        {"op": "replace", "path": "/disk_format", "value": "qcow2"},
        {"op": "replace", "path": "/container_format", "value": "ovf"},
        {"op": "replace", "path": "/protected", "value": True},
        {"op": "replace", "path": "/os_hidden", "value": True},
        {"op": "add", "path": "/name", "value": "added-name"},
    ]
    response = patch(client, image["id"], ops)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "added-name"
    assert (body["min_disk"], body["min_ram"]) == (5, 256)
    assert (body["disk_format"], body["container_format"]) == ("qcow2", "ovf")
    assert body["protected"] is True
    assert body["os_hidden"] is True


def test_updated_at_moves(client: TestClient, services: Services, image: dict[str, Any]) -> None:
    old = datetime(2020, 1, 1)
    services.db.run_sync(
        lambda s: s.execute(
            sa.update(ImageRow).where(ImageRow.id == image["id"]).values(created_at=old, updated_at=old)
        )
    )
    body = patch(client, image["id"], [{"op": "replace", "path": "/name", "value": "x"}]).json()
    assert body["created_at"] == "2020-01-01T00:00:00Z"
    assert body["updated_at"] > "2020-01-01T00:00:00Z"
    assert body["updated_at"] >= image["updated_at"]


def test_name_may_be_null(client: TestClient, image: dict[str, Any]) -> None:
    body = patch(client, image["id"], [{"op": "replace", "path": "/name", "value": None}]).json()
    assert body["name"] is None


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("/min_disk", -1),
        ("/min_ram", "512"),
        ("/min_ram", 2147483648),
        ("/protected", "true"),
        ("/os_hidden", 1),
        ("/disk_format", "floppy"),
        ("/container_format", "tarball"),
        ("/name", "n" * 256),
        ("/visibility", "everyone"),
        ("/tags", "a,b"),
    ],
)
def test_invalid_core_value_is_400(client: TestClient, image: dict[str, Any], path: str, value: object) -> None:
    response = patch(client, image["id"], [{"op": "replace", "path": path, "value": value}], {**ALICE, **JSON_ACCEPT})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "400 Bad Request"
    assert response.json()["message"].startswith("Provided object does not match schema 'image': ")


@pytest.mark.parametrize("name", ["name", "min_disk", "disk_format", "visibility", "protected"])
def test_removing_a_core_attribute_is_403(client: TestClient, image: dict[str, Any], name: str) -> None:
    response = patch(client, image["id"], [{"op": "remove", "path": f"/{name}"}])
    assert response.status_code == 403
    assert response.text.startswith("403 Forbidden\n\n")


@pytest.mark.parametrize(
    "name", ["id", "status", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value", "created_at",
             "updated_at", "self", "file", "schema", "direct_url", "stores"]
)  # fmt: skip
@pytest.mark.parametrize("op", ["add", "replace", "remove"])
def test_read_only_attribute_is_403(client: TestClient, image: dict[str, Any], name: str, op: str) -> None:
    operation: dict[str, Any] = {"op": op, "path": f"/{name}"}
    if op != "remove":
        operation["value"] = "v"
    response = patch(client, image["id"], [operation])
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", f"Attribute '{name}' is read-only.")


@pytest.mark.parametrize("name", ["location", "deleted", "deleted_at"])
@pytest.mark.parametrize("op", ["add", "replace", "remove"])
def test_reserved_attribute_is_403(client: TestClient, image: dict[str, Any], name: str, op: str) -> None:
    operation: dict[str, Any] = {"op": op, "path": f"/{name}"}
    if op != "remove":
        operation["value"] = "v"
    response = patch(client, image["id"], [operation])
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", f"Attribute '{name}' is reserved.")


def test_os_glance_namespace_is_403(client: TestClient, image: dict[str, Any]) -> None:
    response = patch(client, image["id"], [{"op": "add", "path": "/os_glance_foo", "value": "v"}])
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", "Attribute 'os_glance_foo' is reserved.")


def test_locations_are_not_patchable_when_hidden(client: TestClient, image: dict[str, Any]) -> None:
    response = patch(
        client, image["id"], [{"op": "add", "path": "/locations/-", "value": {"url": "x", "metadata": {}}}]
    )
    assert response.status_code == 403


# -- tags ----------------------------------------------------------------------------------------------------
def test_replace_tags(client: TestClient, image: dict[str, Any]) -> None:
    body = patch(client, image["id"], [{"op": "replace", "path": "/tags", "value": ["z", "a", "a"]}]).json()
    assert body["tags"] == ["a", "z"]
    body = patch(client, image["id"], [{"op": "add", "path": "/tags", "value": ["only"]}]).json()
    assert body["tags"] == ["only"]
    body = patch(client, image["id"], [{"op": "replace", "path": "/tags", "value": []}]).json()
    assert body["tags"] == []


# -- visibility ----------------------------------------------------------------------------------------------
def test_publicize_requires_admin(client: TestClient, image: dict[str, Any]) -> None:
    response = patch(client, image["id"], [{"op": "replace", "path": "/visibility", "value": "public"}])
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", "You are not authorized to complete publicize_image action.")
    assert client.get(f"/v2/images/{image['id']}").json()["visibility"] == "shared"
    admin = patch(client, image["id"], [{"op": "replace", "path": "/visibility", "value": "public"}], {})
    assert admin.status_code == 200
    assert admin.json()["visibility"] == "public"
    # once public, the owner may still patch other things, and take it back to private
    assert patch(client, image["id"], [{"op": "replace", "path": "/name", "value": "n"}]).status_code == 200
    back = patch(client, image["id"], [{"op": "replace", "path": "/visibility", "value": "private"}])
    assert back.status_code == 200
    assert back.json()["visibility"] == "private"


@pytest.mark.parametrize("visibility", ["private", "shared", "community"])
def test_owner_may_change_to_non_public(client: TestClient, image: dict[str, Any], visibility: str) -> None:
    response = patch(client, image["id"], [{"op": "replace", "path": "/visibility", "value": visibility}])
    assert response.status_code == 200
    assert response.json()["visibility"] == visibility


def test_owner_change_requires_admin(client: TestClient, image: dict[str, Any]) -> None:
    response = patch(client, image["id"], [{"op": "replace", "path": "/owner", "value": "beta"}])
    assert response.status_code == 403
    same = patch(client, image["id"], [{"op": "replace", "path": "/owner", "value": "alpha"}])
    assert same.status_code == 200
    admin = patch(client, image["id"], [{"op": "replace", "path": "/owner", "value": "beta"}], {})
    assert admin.status_code == 200
    assert admin.json()["owner"] == "beta"


# -- who may patch -------------------------------------------------------------------------------------------
def test_reader_and_other_project_cannot_patch(client: TestClient, make_image: MakeImage) -> None:
    image = make_image(ALICE, visibility="community")
    ops = [{"op": "replace", "path": "/name", "value": "x"}]
    reader = patch(client, image["id"], ops, CAROL_READER)
    assert reader.status_code == 403
    assert reader.text == plain_error("403 Forbidden", "You are not authorized to complete modify_image action.")
    assert patch(client, image["id"], ops, BOB).status_code == 403


def test_patch_unknown_image_is_404(client: TestClient) -> None:
    response = patch(client, "00000000-0000-0000-0000-000000000000", [])
    assert response.status_code == 404


# -- malformed patches ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        {"op": "replace", "path": "/name", "value": "x"},
        [{"op": "move", "path": "/name", "value": "x"}],
        [{"op": "test", "path": "/name", "value": "x"}],
        [{"path": "/name", "value": "x"}],
        [{"op": "replace", "path": "/name"}],
        [{"op": "add", "path": "/name"}],
        [{"op": "replace", "path": "name", "value": "x"}],
        [{"op": "replace", "path": "/", "value": "x"}],
        [{"op": "replace", "path": "/a/b", "value": "x"}],
        [{"op": "replace", "path": "/a~2", "value": "x"}],
        [{"op": "replace", "value": "x"}],
        ["replace"],
    ],
)
def test_malformed_patch_is_400(client: TestClient, image: dict[str, Any], body: object) -> None:
    response = client.patch(f"/v2/images/{image['id']}", json=body, headers={**ALICE, **PATCH21})
    assert response.status_code == 400, response.text
    assert response.text.startswith("400 Bad Request\n\n")


def test_empty_patch_is_a_no_op(client: TestClient, image: dict[str, Any]) -> None:
    response = patch(client, image["id"], [])
    assert response.status_code == 200
    assert response.json()["name"] == "original"


# -- the deprecated 2.0 dialect ------------------------------------------------------------------------------
def test_v20_dialect(client: TestClient, image: dict[str, Any]) -> None:
    body = patch(client, image["id"], [{"add": "/color", "value": "red"}], dialect=PATCH20).json()
    assert body["color"] == "red"
    body = patch(client, image["id"], [{"replace": "/color", "value": "blue"}], dialect=PATCH20).json()
    assert body["color"] == "blue"
    body = patch(client, image["id"], [{"replace": "/name", "value": "v20"}], dialect=PATCH20).json()
    assert body["name"] == "v20"
    body = patch(client, image["id"], [{"replace": "/tags", "value": ["x"]}], dialect=PATCH20).json()
    assert body["tags"] == ["x"]
    response = patch(client, image["id"], [{"remove": "/color"}], dialect=PATCH20)
    assert response.status_code == 200
    assert "color" not in response.json()


def test_v20_dialect_errors(client: TestClient, image: dict[str, Any]) -> None:
    missing = patch(client, image["id"], [{"replace": "/missing", "value": "v"}], dialect=PATCH20)
    assert missing.status_code == 409
    assert missing.text == plain_error("409 Conflict", "Property missing does not exist.")
    assert patch(client, image["id"], [{"remove": "/missing"}], dialect=PATCH20).status_code == 409
    assert patch(client, image["id"], [{"replace": "/status", "value": "active"}], dialect=PATCH20).status_code == 403
    public = patch(client, image["id"], [{"replace": "/visibility", "value": "public"}], dialect=PATCH20)
    assert public.status_code == 403
    two_ops = patch(client, image["id"], [{"add": "/a", "replace": "/b", "value": "v"}], dialect=PATCH20)
    assert two_ops.status_code == 400
    # the 2.1 form is not understood by the 2.0 dialect
    assert patch(client, image["id"], [{"op": "add", "path": "/a", "value": "v"}], dialect=PATCH20).status_code == 400


# -- formats of an image with data ---------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "value"), [("disk_format", "qcow2"), ("container_format", "ovf"),
                                             ("disk_format", "raw"), ("container_format", "bare")])  # fmt: skip
@pytest.mark.parametrize("op", ["add", "replace"])
def test_formats_of_an_active_image_are_403(
    client: TestClient, active_image: Callable[..., dict[str, Any]], name: str, value: str, op: str
) -> None:
    """As Glance: only a queued (or importing) image may change its formats, even to the same value."""
    image = active_image(headers=ALICE)
    response = patch(client, image["id"], [{"op": op, "path": f"/{name}", "value": value}])
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", f"Attribute {name} can be only replaced for a queued image.")
    shown = client.get(f"/v2/images/{image['id']}").json()
    assert (shown["disk_format"], shown["container_format"]) == ("raw", "bare")
