"""/schemas and /schemas/{type}: Glare's JSON-schema shapes, valid Draft 4 schemas."""

from __future__ import annotations

import jsonschema
from starlette.testclient import TestClient

from tests.functional.artifacts.conftest import ALL_TYPES, USER1


def test_every_enabled_type_and_all(client: TestClient) -> None:
    response = client.get("/schemas", headers=USER1)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/schema+json; charset=UTF-8"
    schemas = response.json()["schemas"]
    assert sorted(schemas) == sorted([*ALL_TYPES, "all"])
    for name, schema in schemas.items():
        jsonschema.Draft4Validator.check_schema(schema)
        assert schema["name"] == name
        assert schema["title"] == f"Artifact type {name} of version 1.0"
        assert schema["required"] == ["name"]


def test_one_type_shows_its_field_kinds(client: TestClient) -> None:
    response = client.get("/schemas/sample_artifact", headers=USER1)
    assert response.status_code == 200
    props = response.json()["schemas"]["sample_artifact"]["properties"]
    assert props["blob"]["glareType"] == "Blob"
    assert props["blob"]["type"] == ["object", "null"]
    assert props["dict_of_blobs"]["glareType"] == "BlobDict"
    assert props["list_of_links"]["glareType"] == "LinkList"
    assert props["int_validators"]["minimum"] == 10
    assert props["int_validators"]["maximum"] == 20
    assert props["list_validators"]["maxItems"] == 3
    assert props["list_validators"]["uniqueItems"] is True
    assert props["dict_validators"]["additionalProperties"] is False
    assert props["dict_validators"]["properties"]["abc"] == {"type": ["string", "null"], "maxLength": 255}
    assert props["status"]["enum"] == ["drafted", "active", "deactivated", "deleted"]
    assert props["id"]["readOnly"] is True
    assert props["id"]["type"] == "string"
    assert props["metadata_attribute"]["metadata"] == {"metadata1": "value1", "metadata2": "blahblahblah"}
    assert props["tags"]["items"]["pattern"] == "^[^,/]+$"


def test_unknown_type_is_404_in_glare_body(client: TestClient) -> None:
    response = client.get("/schemas/nope", headers=USER1)
    assert response.status_code == 404
    assert response.json()["error"] == {"message": "Artifact type nope does not exist", "type": "NotFound"}


def test_other_methods_are_405(client: TestClient) -> None:
    response = client.post("/schemas", headers=USER1)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
