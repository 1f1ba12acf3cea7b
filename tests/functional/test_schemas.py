"""/v2/schemas/*: the JSON Schemas the server publishes and validates with."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft4Validator
from starlette.testclient import TestClient

from tests.functional.conftest import ALICE, plain_error

CORE = {
    "id", "name", "status", "visibility", "protected", "os_hidden", "checksum", "os_hash_algo", "os_hash_value",
    "owner", "size", "virtual_size", "container_format", "disk_format", "created_at", "updated_at", "tags",
    "direct_url", "min_ram", "min_disk", "self", "file", "stores", "schema", "locations",
}  # fmt: skip
READ_ONLY = {
    "status", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size", "created_at", "updated_at",
    "direct_url", "self", "file", "stores", "schema",
}  # fmt: skip


def schema(client: TestClient, name: str) -> dict[str, Any]:
    response = client.get(f"/v2/schemas/{name}", headers=ALICE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def test_image_schema(client: TestClient) -> None:
    body = schema(client, "image")
    assert body["name"] == "image"
    assert set(body["properties"]) == CORE
    assert body["additionalProperties"] == {"type": "string"}
    assert {link["rel"]: link["href"] for link in body["links"]} == {
        "self": "{self}",
        "enclosure": "{file}",
        "describedby": "{schema}",
    }
    for name in READ_ONLY:
        assert body["properties"][name].get("readOnly") is True, name
    properties = body["properties"]
    assert properties["visibility"]["enum"] == ["public", "community", "shared", "private"]
    assert set(properties["status"]["enum"]) == {
        "queued", "saving", "active", "killed", "deleted", "pending_delete", "deactivated", "uploading", "importing",
    }  # fmt: skip
    assert properties["disk_format"]["enum"] == [
        None, "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
    ]  # fmt: skip
    assert properties["container_format"]["enum"] == [
        None, "ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed",
    ]  # fmt: skip
    assert properties["min_ram"]["minimum"] == 0
    assert properties["name"]["maxLength"] == 255
    Draft4Validator.check_schema(body)


def test_images_schema(client: TestClient) -> None:
    body = schema(client, "images")
    assert body["name"] == "images"
    assert body["properties"]["images"]["items"] == schema(client, "image")
    assert {"schema", "first", "next"} <= set(body["properties"])
    assert {link["rel"] for link in body["links"]} == {"first", "next", "describedby"}
    Draft4Validator.check_schema(body)


def test_member_schemas(client: TestClient) -> None:
    member = schema(client, "member")
    assert member["name"] == "member"
    assert set(member["properties"]) == {"created_at", "image_id", "member_id", "status", "updated_at", "schema"}
    assert member["properties"]["status"]["enum"] == ["pending", "accepted", "rejected"]
    members = schema(client, "members")
    assert members["name"] == "members"
    assert members["properties"]["members"]["items"] == member
    Draft4Validator.check_schema(member)
    Draft4Validator.check_schema(members)


def test_served_images_validate_against_the_schema(client: TestClient) -> None:
    created = client.post(
        "/v2/images",
        json={"name": "x", "disk_format": "raw", "container_format": "bare", "tags": ["t"], "extra": "v"},
    ).json()
    client.put(f"/v2/images/{created['id']}/file", content=b"abc", headers={"content-type": "application/octet-stream"})
    Draft4Validator(schema(client, "image")).validate(client.get(f"/v2/images/{created['id']}").json())
    Draft4Validator(schema(client, "images")).validate(client.get("/v2/images").json())
    member = client.post(f"/v2/images/{created['id']}/members", json={"member": "m"}).json()
    Draft4Validator(schema(client, "member")).validate(member)
    Draft4Validator(schema(client, "members")).validate(client.get(f"/v2/images/{created['id']}/members").json())


TASK_KEYS = {
    "id", "type", "status", "input", "result", "owner", "message", "image_id", "request_id", "user_id", "expires_at",
    "created_at", "updated_at", "self", "schema",
}  # fmt: skip


def test_task_schemas(client: TestClient) -> None:
    """Glance's keys; like Glance's member schemas, served without additionalProperties (its minimal form)."""
    task = schema(client, "task")
    assert set(task) == {"name", "properties"}
    assert task["name"] == "task"
    assert set(task["properties"]) == TASK_KEYS
    assert task["properties"]["status"]["enum"] == ["pending", "processing", "success", "failure"]
    assert task["properties"]["type"]["enum"] == ["import", "api_image_import", "location_import"]
    tasks = schema(client, "tasks")
    assert set(tasks) == {"name", "properties", "links"}
    assert set(tasks["properties"]) == {"tasks", "schema"}
    assert set(tasks["properties"]["tasks"]["items"]["properties"]) == TASK_KEYS - {"input", "result", "message"}
    assert tasks["links"] == [{"rel": "describedby", "href": "{schema}"}]
    member = schema(client, "member")
    assert set(member) == {"name", "properties"}
    assert set(schema(client, "members")["properties"]) == {"members", "schema"}
    for name in ("task", "tasks", "member", "members"):
        Draft4Validator.check_schema(schema(client, name))


def test_served_tasks_validate_against_the_schema(client: TestClient) -> None:
    created = client.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"}).json()
    staged = client.put(
        f"/v2/images/{created['id']}/stage", content=b"abc", headers={"content-type": "application/octet-stream"}
    )
    assert staged.status_code == 204, staged.text
    started = client.post(f"/v2/images/{created['id']}/import", json={"method": {"name": "glance-direct"}})
    assert started.status_code == 202, started.text
    tasks = client.get(f"/v2/images/{created['id']}/tasks").json()["tasks"]
    assert tasks
    Draft4Validator(schema(client, "task")).validate(client.get(f"/v2/tasks/{tasks[0]['id']}").json())
    Draft4Validator(schema(client, "tasks")).validate(client.get("/v2/tasks").json())


@pytest.mark.parametrize("name", ["nothing", "metadefs"])
def test_unknown_schema_is_404(client: TestClient, name: str) -> None:
    response = client.get(f"/v2/schemas/{name}")
    assert response.status_code == 404
    assert response.text == plain_error("404 Not Found", f"Schema {name} not found")
