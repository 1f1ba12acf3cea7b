"""Metadef namespaces, resource types and schemas over HTTP: every status and error body, as Glance."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.functional.conftest import ALICE, BOB, CAROL_READER, JSON_ACCEPT, plain_error

NS = "/v2/metadefs/namespaces"
STANDARD = {"OS::Glance::Image", "OS::Cinder::Volume", "OS::Nova::Flavor", "OS::Nova::Aggregate", "OS::Nova::Server"}


def make_ns(client: TestClient, name: str, headers: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    response = client.post(NS, json={"namespace": name, **body}, headers=headers or {})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_create_show_and_defaults(client: TestClient) -> None:
    response = client.post(NS, json={"namespace": "Acme::Hw", "display_name": "Hardware", "description": "d"})
    assert response.status_code == 201
    assert response.headers["location"] == "http://testserver/v2/metadefs/namespaces/Acme::Hw"
    body = response.json()
    assert body["visibility"] == "private"
    assert body["protected"] is False
    assert body["owner"] == "admin"
    assert body["self"] == "/v2/metadefs/namespaces/Acme::Hw"
    assert body["schema"] == "/v2/schemas/metadefs/namespace"
    assert body["created_at"].endswith("Z")
    assert body["updated_at"] == body["created_at"]
    shown = client.get(f"{NS}/Acme::Hw").json()
    assert shown["display_name"] == "Hardware"
    assert shown["description"] == "d"
    assert "properties" not in shown
    assert "objects" not in shown
    assert "tags" not in shown


def test_create_with_everything_in_one_request(client: TestClient) -> None:
    body = {
        "namespace": "Acme::All",
        "visibility": "public",
        "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "hw_"}, {"name": "Acme::Thing"}],
        "properties": {"cores": {"title": "Cores", "type": "integer", "minimum": 1}},
        "objects": [{"name": "CPU", "required": ["count"], "properties": {"count": {"title": "N", "type": "integer"}}}],
        "tags": [{"name": "fast"}, {"name": "small"}],
    }
    created = client.post(NS, json=body)
    assert created.status_code == 201, created.text
    assert [a["name"] for a in created.json()["resource_type_associations"]] == ["OS::Glance::Image", "Acme::Thing"]
    shown = client.get(f"{NS}/Acme::All").json()
    assert shown["properties"] == {"cores": {"title": "Cores", "type": "integer", "minimum": 1}}
    assert shown["objects"][0]["name"] == "CPU"
    assert shown["objects"][0]["required"] == ["count"]
    assert sorted(t["name"] for t in shown["tags"]) == ["fast", "small"]
    # an association with an unknown resource type creates it, as Glance does
    names = {r["name"] for r in client.get("/v2/metadefs/resource_types").json()["resource_types"]}
    assert "Acme::Thing" in names
    assert names >= STANDARD


def test_resource_type_prefix_on_namespace_and_property_reads(client: TestClient) -> None:
    make_ns(client, "Acme::Pre", resource_type_associations=[{"name": "OS::Glance::Image", "prefix": "hw_"},
                                                             {"name": "OS::Nova::Flavor", "prefix": "hw:"}],
            properties={"mem": {"title": "Mem", "type": "string"}},
            objects=[{"name": "O", "required": ["mem"],
                      "properties": {"mem": {"title": "M", "type": "string"}}}])  # fmt: skip
    image = client.get(f"{NS}/Acme::Pre", params={"resource_type": "OS::Glance::Image"}).json()
    assert list(image["properties"]) == ["hw_mem"]
    assert list(image["objects"][0]["properties"]) == ["hw_mem"]
    assert image["objects"][0]["required"] == ["hw_mem"]
    flavor = client.get(f"{NS}/Acme::Pre", params={"resource_type": "OS::Nova::Flavor"}).json()
    assert list(flavor["properties"]) == ["hw:mem"]
    # the property list itself is not prefixed (Glance ignores resource_type there)
    listed = client.get(f"{NS}/Acme::Pre/properties", params={"resource_type": "OS::Nova::Flavor"}).json()
    assert list(listed["properties"]) == ["mem"]
    assert list(client.get(f"{NS}/Acme::Pre", params={"resource_type": "OS::Cinder::Volume"}).json()["properties"]) == [
        "mem"
    ]
    shown = client.get(f"{NS}/Acme::Pre/properties/hw_mem", params={"resource_type": "OS::Glance::Image"})
    assert shown.status_code == 200
    assert shown.json()["name"] == "mem"
    wrong = client.get(f"{NS}/Acme::Pre/properties/mem", params={"resource_type": "OS::Glance::Image"})
    assert wrong.status_code == 404
    assert "does not start with the expected resource type association prefix of 'hw_'" in wrong.text


def test_duplicate_namespace_is_409(client: TestClient) -> None:
    make_ns(client, "Acme::Dup")
    response = client.post(NS, json={"namespace": "Acme::Dup"})
    assert response.status_code == 409
    assert response.text == plain_error("409 Conflict", "The metadata definition namespace=Acme::Dup already exists.")


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({}, 400, "'namespace' is a required property"),
        ({"namespace": "x" * 81}, 400, "is too long"),
        ({"namespace": "n", "visibility": "shared"}, 400, "is not one of ['public', 'private']"),
        ({"namespace": "n", "bogus": 1}, 400, "Additional properties are not allowed"),
        ({"namespace": "n", "protected": "yes"}, 400, "is not of type 'boolean'"),
        ({"namespace": "n", "properties": {"p": {"type": "string"}}}, 400, "'title' is a required property"),
        ({"namespace": "n", "properties": {"p": {"title": "t", "type": "str"}}}, 400, "is not one of"),
        ({"namespace": "n", "self": "/x"}, 403, "Attribute 'self' is read-only."),
        ({"namespace": "n", "created_at": "2020"}, 403, "Attribute 'created_at' is read-only."),
        ({"namespace": "n", "tags": [{"name": "a"}, {"name": "A"}]}, 409, "already exists in namespace=n"),
    ],
)
def test_create_refusals(client: TestClient, body: dict[str, Any], status: int, fragment: str) -> None:
    response = client.post(NS, json=body, headers=JSON_ACCEPT)
    assert response.status_code == status, response.text
    assert fragment in response.json()["message"]
    assert client.get(f"{NS}/n").status_code == 404  # nothing half-created


def test_bad_bodies(client: TestClient) -> None:
    assert client.post(NS, content=b"{", headers={"content-type": "application/json"}).status_code == 400
    assert client.post(NS, json=[1]).status_code == 400
    assert client.post(NS, content=b"", headers={"content-type": "application/json"}).status_code == 400
    assert client.post(NS, content=b"[]", headers={"content-type": "text/plain"}).status_code == 400


def test_update_replaces_and_renames(client: TestClient) -> None:
    make_ns(client, "Acme::Old", display_name="Old", visibility="public", protected=True, tags=[{"name": "t"}])
    response = client.put(f"{NS}/Acme::Old", json={"namespace": "Acme::New", "description": "new"})
    assert response.status_code == 200, response.text
    body = response.json()
    # fields left out return to their defaults, as Glance's replace does
    assert body["namespace"] == "Acme::New"
    assert body["visibility"] == "private"
    assert body["protected"] is False
    assert "display_name" not in body
    assert body["description"] == "new"
    assert client.get(f"{NS}/Acme::Old").status_code == 404
    assert client.get(f"{NS}/Acme::New/tags").json()["tags"][0]["name"] == "t"  # what it holds moves with it
    make_ns(client, "Acme::Taken")
    clash = client.put(f"{NS}/Acme::New", json={"namespace": "Acme::Taken"})
    assert clash.status_code == 409
    assert client.put(f"{NS}/Acme::Missing", json={"namespace": "x"}).status_code == 404
    assert client.put(f"{NS}/Acme::New", json={"namespace": "Acme::New", "schema": "x"}).status_code == 403
    assert client.put(f"{NS}/Acme::New", json={"display_name": "no name"}).status_code == 400


def test_protected_namespace_cannot_be_deleted_nor_emptied(client: TestClient) -> None:
    make_ns(client, "Acme::Keep", protected=True, tags=[{"name": "t"}], objects=[{"name": "o"}],
            properties={"p": {"title": "P", "type": "string"}})  # fmt: skip
    response = client.delete(f"{NS}/Acme::Keep")
    assert response.status_code == 403
    assert response.text == plain_error(
        "403 Forbidden", "Metadata definition namespace Acme::Keep is protected and cannot be deleted."
    )
    for kind in ("objects", "properties", "tags"):
        assert client.delete(f"{NS}/Acme::Keep/{kind}").status_code == 403
    assert client.delete(f"{NS}/Acme::Keep/tags/t").status_code == 403
    assert client.delete(f"{NS}/Acme::Keep/objects/o").status_code == 403
    assert client.delete(f"{NS}/Acme::Keep/properties/p").status_code == 403
    client.put(f"{NS}/Acme::Keep", json={"namespace": "Acme::Keep", "protected": False})
    assert client.delete(f"{NS}/Acme::Keep").status_code == 204
    assert client.get(f"{NS}/Acme::Keep").status_code == 404


def test_delete_all_of_a_kind(client: TestClient) -> None:
    make_ns(client, "Acme::Many", tags=[{"name": "a"}], objects=[{"name": "o"}],
            properties={"p": {"title": "P", "type": "string"}})  # fmt: skip
    for kind in ("objects", "properties", "tags"):
        assert client.delete(f"{NS}/Acme::Many/{kind}").status_code == 204
    assert client.get(f"{NS}/Acme::Many/objects").json()["objects"] == []
    assert client.get(f"{NS}/Acme::Many/properties").json()["properties"] == {}
    assert client.get(f"{NS}/Acme::Many/tags").json()["tags"] == []
    assert client.delete(f"{NS}/Acme::Nope/objects").status_code == 404


def test_list_filters_sorting_and_paging(client: TestClient) -> None:
    for i, visibility in enumerate(["public", "private", "public", "private", "public"]):
        make_ns(client, f"Acme::L{i}", visibility=visibility)
    client.post(f"{NS}/Acme::L2/resource_types", json={"name": "OS::Cinder::Volume"})
    listed = client.get(NS, params={"sort_key": "namespace", "sort_dir": "asc"}).json()
    assert [n["namespace"] for n in listed["namespaces"]] == [f"Acme::L{i}" for i in range(5)]
    assert listed["first"] == "/v2/metadefs/namespaces?sort_key=namespace&sort_dir=asc"
    assert listed["schema"] == "/v2/schemas/metadefs/namespaces"
    assert "next" not in listed
    public = client.get(NS, params={"visibility": "public", "sort_key": "namespace", "sort_dir": "asc"}).json()
    assert [n["namespace"] for n in public["namespaces"]] == ["Acme::L0", "Acme::L2", "Acme::L4"]
    volume = client.get(NS, params={"resource_types": "OS::Cinder::Volume,OS::Nova::Server"}).json()
    assert [n["namespace"] for n in volume["namespaces"]] == ["Acme::L2"]
    assert volume["namespaces"][0]["resource_type_associations"][0]["name"] == "OS::Cinder::Volume"
    seen, url = [], f"{NS}?limit=2&sort_key=namespace&sort_dir=desc"
    while url:
        page = client.get(url).json()
        seen += [n["namespace"] for n in page["namespaces"]]
        url = page.get("next")
    assert seen == [f"Acme::L{i}" for i in reversed(range(5))]
    assert client.get(NS, params={"marker": "Acme::Nothing"}).status_code == 404


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sort_dir": "up"}, "Invalid sort direction: up"),
        ({"sort_key": "size"}, "Invalid sort key: size"),
        ({"visibility": "shared"}, "Invalid visibility value: shared"),
        ({"limit": "x"}, "limit param must be an integer"),
        ({"limit": "-1"}, "limit param must be positive"),
    ],
)
def test_list_refusals(client: TestClient, params: dict[str, str], message: str) -> None:
    response = client.get(NS, params=params, headers=JSON_ACCEPT)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_visibility_and_rbac_as_glance(client: TestClient) -> None:
    make_ns(client, "Alpha::Private", owner="alpha")
    make_ns(client, "Beta::Private", owner="beta")
    make_ns(client, "Beta::Public", owner="beta", visibility="public")
    listed = {n["namespace"] for n in client.get(NS, headers=ALICE).json()["namespaces"]}
    assert listed == {"Alpha::Private", "Beta::Public"}
    # reads: own and public ones; another project's private one does not exist
    assert client.get(f"{NS}/Alpha::Private", headers=CAROL_READER).status_code == 200
    assert client.get(f"{NS}/Beta::Public", headers=ALICE).status_code == 200
    hidden = client.get(f"{NS}/Beta::Private", headers=ALICE)
    assert hidden.status_code == 404
    assert hidden.text == plain_error("404 Not Found", "The resource could not be found.")
    objects = client.get(f"{NS}/Beta::Private/objects", headers=ALICE)
    assert objects.text == plain_error("404 Not Found", "Namespace Beta::Private not found")
    missing = client.get(f"{NS}/Nope::Nothing")
    assert missing.text == plain_error("404 Not Found", "Metadata definition namespace=Nope::Nothing was not found.")
    missing = client.post(f"{NS}/Nope::Nothing/objects", json={"name": "o"})
    assert missing.text == plain_error("404 Not Found", "Metadata definition namespace=Nope::Nothing was not found.")
    assert client.delete(f"{NS}/Nope::Nothing").text == plain_error(
        "404 Not Found", "Namespace Nope::Nothing not found"
    )
    # writes are admin-only: 403 on what the caller may see, 404 on what it may not
    for path, expected in (("Alpha::Private", 403), ("Beta::Public", 403), ("Beta::Private", 404)):
        assert client.put(f"{NS}/{path}", json={"namespace": path}, headers=ALICE).status_code == expected
        assert client.delete(f"{NS}/{path}", headers=ALICE).status_code == expected
        assert client.delete(f"{NS}/{path}/tags", headers=ALICE).status_code == expected
        assert client.post(f"{NS}/{path}/resource_types", json={"name": "X"}, headers=ALICE).status_code == expected
        assert client.delete(f"{NS}/{path}/resource_types/OS::Glance::Image", headers=ALICE).status_code == expected
    denied = client.post(NS, json={"namespace": "Alpha::Mine"}, headers=ALICE)
    assert denied.status_code == 403
    assert denied.text == plain_error(
        "403 Forbidden", "You are not authorized to complete add_metadef_namespace action."
    )
    assert client.get(f"{NS}/Beta::Private", headers=BOB).status_code == 200
    # no role at all: not even the list
    assert client.get(NS, headers={"X-Project-Id": "alpha", "X-Roles": "nothing"}).status_code == 403


def test_resource_type_associations(client: TestClient) -> None:
    make_ns(client, "Acme::RT")
    created = client.post(f"{NS}/Acme::RT/resource_types", json={"name": "OS::Nova::Flavor", "prefix": "hw:",
                                                                 "properties_target": "flavor"})  # fmt: skip
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "OS::Nova::Flavor"
    assert body["prefix"] == "hw:"
    assert body["properties_target"] == "flavor"
    again = client.post(f"{NS}/Acme::RT/resource_types", json={"name": "OS::Nova::Flavor"})
    assert again.status_code == 409
    assert "resource-type=OS::Nova::Flavor to namespace=Acme::RT already exists" in again.text
    listed = client.get(f"{NS}/Acme::RT/resource_types").json()["resource_type_associations"]
    assert [a["name"] for a in listed] == ["OS::Nova::Flavor"]
    assert client.post(f"{NS}/Acme::RT/resource_types", json={"prefix": "x"}).status_code == 400
    assert client.post(f"{NS}/Acme::None/resource_types", json={"name": "OS::Nova::Flavor"}).status_code == 404
    missing = client.delete(f"{NS}/Acme::RT/resource_types/OS::Nova::Server")
    assert missing.status_code == 404
    assert missing.text == plain_error("404 Not Found", "Failed to find resource type OS::Nova::Server to delete")
    assert client.delete(f"{NS}/Acme::RT/resource_types/OS::Nova::Flavor").status_code == 204
    assert client.get(f"{NS}/Acme::RT/resource_types").json()["resource_type_associations"] == []


def test_standard_resource_types_exist_and_resource_type_extensions(client: TestClient) -> None:
    listed = client.get("/v2/metadefs/resource_types", headers=CAROL_READER)
    assert listed.status_code == 200
    names = {r["name"] for r in listed.json()["resource_types"]}
    assert names >= STANDARD
    # seeded, never changed: no update time, as Glance shows the ones its loader made
    assert all(set(r) == {"name", "created_at"} for r in listed.json()["resource_types"])
    assert client.post("/v2/metadefs/resource_types", json={"name": "Acme::Box"}, headers=ALICE).status_code == 403
    created = client.post("/v2/metadefs/resource_types", json={"name": "Acme::Box"})
    assert created.status_code == 201
    assert created.json()["name"] == "Acme::Box"
    assert client.post("/v2/metadefs/resource_types", json={"name": "Acme::Box"}).status_code == 409
    assert client.post("/v2/metadefs/resource_types", json={"name": ""}).status_code == 400
    assert client.post("/v2/metadefs/resource_types", json={"name": "a", "x": 1}).status_code == 400
    seeded = client.delete("/v2/metadefs/resource_types/OS::Glance::Image")
    assert seeded.status_code == 403
    assert "seeded-system type" in seeded.text
    make_ns(client, "Acme::UsesBox", resource_type_associations=[{"name": "Acme::Box"}])
    assert client.delete("/v2/metadefs/resource_types/Acme::Box").status_code == 409
    client.delete(f"{NS}/Acme::UsesBox")
    assert client.delete("/v2/metadefs/resource_types/Acme::Box", headers=ALICE).status_code == 403
    assert client.delete("/v2/metadefs/resource_types/Acme::Box").status_code == 204
    assert client.delete("/v2/metadefs/resource_types/Acme::Box").status_code == 404


@pytest.mark.parametrize(
    ("name", "title"),
    [("namespace", "namespace"), ("namespaces", "namespaces"), ("object", "object"), ("objects", "objects"),
     ("property", "property"), ("properties", "properties"), ("tag", "tag"), ("tags", "tags"),
     ("resource_type", "resource_type_association"), ("resource_types", "resource_type_associations")],
)  # fmt: skip
def test_schemas(client: TestClient, name: str, title: str) -> None:
    response = client.get(f"/v2/schemas/metadefs/{name}", headers=CAROL_READER)
    assert response.status_code == 200
    assert response.json()["name"] == title


def test_unknown_schema_and_methods(client: TestClient) -> None:
    assert client.get("/v2/schemas/metadefs/image").status_code == 404
    response = client.patch(f"{NS}/x")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, PUT"
