"""A namespace's objects, properties and tags over HTTP, and the per-project record cap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.settings import load_settings
from tests.conftest import running_app
from tests.functional.conftest import ALICE, BOB, CAROL_READER, JSON_ACCEPT, plain_error
from tests.functional.test_metadefs_namespaces import NS, make_ns

PROP = {"name": "cores", "title": "Cores", "type": "integer", "minimum": 1}


@pytest.fixture
def ns(client: TestClient) -> str:
    make_ns(client, "Acme::C")
    return f"{NS}/Acme::C"


def test_objects_crud(client: TestClient, ns: str) -> None:
    body = {"name": "CPU Limits", "description": "d", "required": ["period"],
            "properties": {"period": {"title": "Period", "type": "integer"}}}  # fmt: skip
    created = client.post(f"{ns}/objects", json=body)
    assert created.status_code == 201, created.text
    obj = created.json()
    assert obj["self"] == "/v2/metadefs/namespaces/Acme::C/objects/CPU%20Limits"
    assert obj["schema"] == "/v2/schemas/metadefs/object"
    assert obj["required"] == ["period"]
    assert obj["created_at"] == obj["updated_at"]
    shown = client.get(f"{ns}/objects/CPU Limits").json()
    assert shown["properties"] == body["properties"]
    assert shown["description"] == "d"
    listed = client.get(f"{ns}/objects").json()
    assert [o["name"] for o in listed["objects"]] == ["CPU Limits"]
    assert listed["schema"] == "v2/schemas/metadefs/objects"
    dup = client.post(f"{ns}/objects", json={"name": "CPU Limits"})
    assert dup.status_code == 409
    assert dup.text == plain_error(
        "409 Conflict", "A metadata definition object with name=CPU Limits already exists in namespace=Acme::C."
    )
    renamed = client.put(f"{ns}/objects/CPU Limits", json={"name": "CPU", "description": "new"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "CPU"
    assert "required" not in renamed.json()
    assert client.get(f"{ns}/objects/CPU Limits").status_code == 404
    client.post(f"{ns}/objects", json={"name": "Other"})
    assert client.put(f"{ns}/objects/Other", json={"name": "CPU"}).status_code == 409
    assert client.put(f"{ns}/objects/Nope", json={"name": "Nope"}).status_code == 404
    assert client.delete(f"{ns}/objects/CPU").status_code == 204
    gone = client.get(f"{ns}/objects/CPU")
    assert gone.status_code == 404
    assert gone.text == plain_error("404 Not Found", "Could not find metadata object CPU")
    assert client.delete(f"{ns}/objects/CPU").status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [({}, 400), ({"name": 1}, 400), ({"name": "o", "required": "x"}, 400), ({"name": "o", "extra": 1}, 400),
     ({"name": "o", "properties": {"p": {"title": "t"}}}, 400), ({"name": "o", "self": "x"}, 403),
     ({"name": "o", "updated_at": "x"}, 403)],
)  # fmt: skip
def test_object_refusals(client: TestClient, ns: str, body: dict[str, Any], status: int) -> None:
    assert client.post(f"{ns}/objects", json=body).status_code == status
    assert client.put(f"{ns}/objects/o", json=body).status_code == status  # the body is judged first, as Glance


def test_properties_crud(client: TestClient, ns: str) -> None:
    created = client.post(f"{ns}/properties", json=PROP)
    assert created.status_code == 201
    assert created.json() == PROP
    assert client.get(f"{ns}/properties/cores").json() == PROP
    # as Glance: a property made through this API keeps its name in the definition
    assert client.get(f"{ns}/properties").json() == {"properties": {"cores": PROP}}
    dup = client.post(f"{ns}/properties", json=PROP)
    assert dup.status_code == 409
    assert "A metadata definition property with name=cores already exists in namespace=Acme::C." in dup.text
    updated = client.put(f"{ns}/properties/cores", json={"name": "vcpus", "title": "vCPUs", "type": "string",
                                                       "enum": ["1", "2"]})  # fmt: skip
    assert updated.status_code == 200
    assert updated.json()["name"] == "vcpus"
    assert updated.json()["enum"] == ["1", "2"]
    assert client.get(f"{ns}/properties/cores").status_code == 404
    assert client.put(f"{ns}/properties/nope", json=PROP).status_code == 404
    client.post(f"{ns}/properties", json=PROP)
    assert client.put(f"{ns}/properties/cores", json={**PROP, "name": "vcpus"}).status_code == 409
    assert client.delete(f"{ns}/properties/cores").status_code == 204
    missing = client.delete(f"{ns}/properties/cores")
    assert missing.status_code == 404
    assert missing.text == plain_error("404 Not Found", "Could not find property cores")


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [({"title": "t", "type": "string"}, 400, "'name' is a required property"),
     ({"name": "p", "type": "string"}, 400, "'title' is a required property"),
     ({"name": "p", "title": "t", "type": "text"}, 400, "is not one of"),
     ({"name": "p", "title": "t", "type": "string", "maxLength": -1}, 400, "less than the minimum"),
     ({"name": "p", "title": "t", "type": "string", "color": "red"}, 400, "Additional properties"),
     ({"name": "p", "title": "t", "type": "string", "schema": "x"}, 403, "Attribute 'schema' is read-only.")],
)  # fmt: skip
def test_property_refusals(client: TestClient, ns: str, body: dict[str, Any], status: int, fragment: str) -> None:
    response = client.post(f"{ns}/properties", json=body, headers=JSON_ACCEPT)
    assert response.status_code == status
    assert fragment in response.json()["message"]


def test_tags_single_bulk_append_rename(client: TestClient, ns: str) -> None:
    one = client.post(f"{ns}/tags/alpha")
    assert one.status_code == 201
    assert one.json()["name"] == "alpha"
    assert "created_at" in one.json()
    dup = client.post(f"{ns}/tags/ALPHA")
    assert dup.status_code == 409
    assert dup.text == plain_error(
        "409 Conflict",
        "A metadata tag with name=ALPHA already exists in namespace=Acme::C. "
        "(Please note that metadata tag names are case insensitive).",
    )
    bulk = client.post(f"{ns}/tags", json={"tags": [{"name": "t1"}, {"name": "t2"}]})
    assert bulk.status_code == 201
    assert bulk.json() == {"tags": [{"name": "t1"}, {"name": "t2"}]}
    # without X-Openstack-Append the bulk create replaces every tag
    assert sorted(t["name"] for t in client.get(f"{ns}/tags").json()["tags"]) == ["t1", "t2"]
    appended = client.post(f"{ns}/tags", json={"tags": [{"name": "t3"}]}, headers={"X-Openstack-Append": "True"})
    assert appended.status_code == 201
    assert sorted(t["name"] for t in client.get(f"{ns}/tags").json()["tags"]) == ["t1", "t2", "t3"]
    clash = client.post(f"{ns}/tags", json={"tags": [{"name": "T1"}]}, headers={"X-Openstack-Append": "true"})
    assert clash.status_code == 409
    twice = client.post(f"{ns}/tags", json={"tags": [{"name": "x"}, {"name": "X"}]})
    assert twice.status_code == 409
    assert sorted(t["name"] for t in client.get(f"{ns}/tags").json()["tags"]) == ["t1", "t2", "t3"]  # untouched
    assert client.post(f"{ns}/tags", json={"tags": "t"}).status_code == 400
    assert client.post(f"{ns}/tags", json={"tags": [{"nom": "t"}]}).status_code == 400
    renamed = client.put(f"{ns}/tags/t1", json={"name": "one"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "one"
    assert client.put(f"{ns}/tags/t2", json={"name": "ONE"}).status_code == 409
    assert client.put(f"{ns}/tags/t2", json={"name": "T2"}).status_code == 200  # its own name in another case
    assert client.put(f"{ns}/tags/gone", json={"name": "x"}).status_code == 404
    assert client.put(f"{ns}/tags/t3", json={}).status_code == 400
    assert client.get(f"{ns}/tags/one").json()["name"] == "one"
    assert client.delete(f"{ns}/tags/one").status_code == 204
    missing = client.get(f"{ns}/tags/one")
    assert missing.status_code == 404
    assert missing.text == plain_error("404 Not Found", "Could not find metadata tag one")


def test_tag_listing_sort_limit_marker(client: TestClient, ns: str) -> None:
    client.post(f"{ns}/tags", json={"tags": [{"name": n} for n in ("b", "c", "a")]})
    names = [t["name"] for t in client.get(f"{ns}/tags", params={"sort_key": "name", "sort_dir": "asc"}).json()["tags"]]
    assert names == ["a", "b", "c"]
    page = client.get(f"{ns}/tags", params={"sort_key": "name", "sort_dir": "asc", "limit": 1, "marker": "a"})
    assert [t["name"] for t in page.json()["tags"]] == ["b"]
    assert client.get(f"{ns}/tags", params={"marker": "zzz"}).status_code == 404
    assert client.get(f"{ns}/tags", params={"sort_key": "size"}).status_code == 400


def test_contents_rbac_as_glance(client: TestClient) -> None:
    specs = {"Beta::Private": "private", "Beta::Public": "public"}
    for name, visibility in specs.items():
        make_ns(client, name, owner="beta", visibility=visibility, tags=[{"name": "t"}], objects=[{"name": "o"}],
                properties={"p": {"title": "P", "type": "string"}})  # fmt: skip
    for name, visibility in specs.items():
        base = f"{NS}/{name}"
        read = 200 if visibility == "public" else 404
        write = 403 if visibility == "public" else 404
        for path in ("objects", "objects/o", "properties", "properties/p", "tags", "tags/t", "resource_types"):
            assert client.get(f"{base}/{path}", headers=ALICE).status_code == read, path
            assert client.get(f"{base}/{path}", headers=BOB).status_code == 200, path
        for headers in (ALICE, CAROL_READER):
            assert client.post(f"{base}/objects", json={"name": "n"}, headers=headers).status_code == write
            assert client.put(f"{base}/objects/o", json={"name": "o"}, headers=headers).status_code == write
            assert client.delete(f"{base}/objects/o", headers=headers).status_code == write
            assert client.post(f"{base}/properties", json={**PROP, "name": "n"}, headers=headers).status_code == write
            assert client.put(f"{base}/properties/p", json={**PROP, "name": "p"}, headers=headers).status_code == write
            assert client.delete(f"{base}/properties/p", headers=headers).status_code == write
            assert client.post(f"{base}/tags/n", headers=headers).status_code == write
            assert client.post(f"{base}/tags", json={"tags": [{"name": "n"}]}, headers=headers).status_code == write
            assert client.put(f"{base}/tags/t", json={"name": "u"}, headers=headers).status_code == write
            assert client.delete(f"{base}/tags/t", headers=headers).status_code == write
            assert client.delete(f"{base}/objects", headers=headers).status_code == write
            assert client.delete(f"{base}/properties", headers=headers).status_code == write
        # the owner project's own member may not write either: writes are admin-only
        assert client.post(f"{base}/objects", json={"name": "n"}, headers=BOB).status_code == 403
    assert client.get(f"{NS}/Beta::Private/objects/o").status_code == 200  # the admin sees everything


def test_records_per_project_cap(tmp_path: Path, clean_db: str) -> None:
    settings = load_settings(env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth",
                             metadef_records_per_project=3)  # fmt: skip
    with running_app(settings) as client:
        too_many = client.post(NS, json={"namespace": "Big", "tags": [{"name": str(i)} for i in range(4)]})
        assert too_many.status_code == 413
        assert "Maximum number of metadef records exceeded for project admin: the limit is 3" in too_many.text
        assert client.get(f"{NS}/Big").status_code == 404
        make_ns(client, "Small", tags=[{"name": "a"}], objects=[{"name": "o"}])
        assert client.post(f"{NS}/Small/properties", json=PROP).status_code == 201
        assert client.post(f"{NS}/Small/tags/b").status_code == 413
        assert client.post(f"{NS}/Small/objects", json={"name": "p"}).status_code == 413
        # another project's namespaces count apart
        make_ns(client, "Theirs", owner="beta", tags=[{"name": "a"}, {"name": "b"}, {"name": "c"}])
        # replacing tags frees what they held first
        assert client.post(f"{NS}/Small/tags", json={"tags": [{"name": "x"}]}).status_code == 201
        assert client.delete(f"{NS}/Small/objects/o").status_code == 204
        assert client.post(f"{NS}/Small/tags/y").status_code == 201


def test_names_longer_than_glance_allows_are_400(client: TestClient, ns: str) -> None:
    long = "x" * 81
    assert client.post(f"{ns}/objects", json={"name": long}).status_code == 400
    assert client.post(f"{ns}/properties", json={**PROP, "name": long}).status_code == 400
    assert client.post(f"{ns}/tags/{long}").status_code == 400
    assert client.post(f"{ns}/tags", json={"tags": [{"name": long}]}).status_code == 400
    assert client.post(f"{ns}/tags/{'x' * 80}").status_code == 201
    bulk = client.post(f"{ns}/tags", json={"tags": "x"}, headers=JSON_ACCEPT)
    assert bulk.json()["message"] == "Provided object does not match schema 'tags': 'x' is not of type 'array'"


def test_object_shapes_and_order_as_glance(client: TestClient, ns: str) -> None:
    created = client.post(f"{ns}/objects", json={"name": "first"}).json()
    assert "properties" not in created  # a create or a replace answers with what the request gave
    assert "required" not in created
    client.post(f"{ns}/objects", json={"name": "second", "required": ["a"]})
    shown = client.get(f"{ns}/objects/first").json()
    assert shown["properties"] == {}  # a read always has both
    assert shown["required"] == []
    assert [o["name"] for o in client.get(f"{ns}/objects").json()["objects"]] == ["first", "second"]
    newest = client.get(f"{ns}/objects", params={"sort_dir": "desc"}).json()["objects"]
    assert [o["name"] for o in newest] == ["second", "first"]
    replaced = client.put(f"{ns}/objects/first", json={"name": "first", "description": "d"}).json()
    assert "properties" not in replaced
    assert replaced["description"] == "d"
