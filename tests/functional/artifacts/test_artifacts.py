"""Create, show, JSON-patch update and delete; the lifecycle, visibility and uniqueness rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.functional.artifacts.conftest import (
    ACTIVATE,
    ADMIN,
    ANONYMOUS,
    PUBLISH,
    USER1,
    USER2,
    Api,
    replace,
)

URL = "/artifacts/sample_artifact"


def test_create_fills_defaults_and_shows_every_field(api: Api) -> None:
    created = api.create({"name": "a", "version": "1.2", "int1": "5", "tags": ["x", "x", "y"], "bool1": "yes"})
    assert created["version"] == "1.2.0"
    assert created["int1"] == 5
    assert created["bool1"] is True
    assert created["tags"] == ["x", "y"]
    assert created["status"] == "drafted"
    assert created["visibility"] == "private"
    assert created["owner"] == "p1"
    assert created["list_of_str"] == []
    assert created["dict_of_str"] == {}
    assert created["dict_validators"] is None
    assert created["blob"] is None
    assert created["dict_of_blobs"] == {}
    assert created["system_attribute"] == "default"
    assert created["display_type_name"] == "Sample Artifact"
    assert created["__some_meta_information__"] == "A"
    assert api.get(f"{URL}/{created['id']}") == created


def test_create_refusals(api: Api) -> None:
    api.create({"version": "1"}, 400)
    api.create({"name": "a", "status": "active"}, 400)
    api.create({"name": "a", "visibility": "public"}, 400)
    api.create({"name": "a", "system_attribute": "x"}, 403)
    api.create({"name": "a", "blob": {"url": None}}, 400)
    api.create({"name": "a", "nope": 1}, 400)
    api.create({"name": "a", "int_validators": 5}, 400)
    api.create({"name": "a", "string_validators": "zz"}, 400)
    api.create({"name": "a", "list_validators": ["a", "a"]}, 400)
    api.create({"name": "a", "dict_validators": {"zzz": "1"}}, 400)
    api.create({"name": "a", "version": "x.y"}, 400)
    api.create({"name": "a", "link1": "/artifacts/sample_artifact/00000000-0000-4000-8000-000000000000"}, 400)
    api.create({"name": "a"}, 403, user=ANONYMOUS)
    api.create({"name": "a"}, 403, kind="all")
    api.create({"name": "a"}, 404, kind="nope")
    bad = api.client.post(f"{URL}", content=b"[1]", headers={**USER1, "content-type": "application/json"})
    assert bad.status_code == 400
    wrong = api.client.post(f"{URL}", content=b"{}", headers={**USER1, "content-type": "text/plain"})
    assert wrong.status_code == 415


def test_name_and_version_unique_per_owner_and_among_public(api: Api, active: Callable[..., dict[str, Any]]) -> None:
    first = api.create({"name": "a", "version": "1.0.0"})
    api.create({"name": "a", "version": "1"}, 409)
    api.create({"name": "a", "version": "1"}, user=USER2)  # another project's scope
    api.create({"name": "a", "version": "2"})
    renamed = api.create({"name": "b", "version": "1"})
    api.patch(f"{URL}/{renamed['id']}", [replace("/name", "a")], 409)
    # publishing takes the public scope: a public a-1.0.0 exists, so another project's cannot be published
    api.patch(f"{URL}/{first['id']}", [replace("/string_required", "s"), *ACTIVATE])
    api.patch(f"{URL}/{first['id']}", PUBLISH, user=ADMIN)
    other = api.create({"name": "a", "version": "1", "string_required": "s"}, 409, user=USER2)
    assert "already exists" in other["error"]["message"]


def test_lifecycle(api: Api) -> None:
    created = api.create({"name": "a", "int1": 1})
    url = f"{URL}/{created['id']}"
    api.patch(url, ACTIVATE, 403)  # string_required is required on activation
    active = api.patch(url, [replace("/string_required", "s"), *ACTIVATE])
    assert active["status"] == "active"
    assert active["activated_at"] is not None
    api.patch(url, [replace("/int1", 2)], 403)  # immutable once active
    assert api.patch(url, [replace("/string_mutable", "m")])["string_mutable"] == "m"
    api.patch(url, [replace("/status", "drafted")], 403)
    api.patch(url, [replace("/status", "deactivated")], 403)  # deactivation is admin's
    assert api.patch(url, [replace("/status", "deactivated")], user=ADMIN)["status"] == "deactivated"
    api.patch(url, [replace("/string_mutable", "n")], 403)  # nothing changes while deactivated
    api.get(url)
    api.patch(url, ACTIVATE, 403)  # reactivation is admin's too
    assert api.patch(url, ACTIVATE, user=ADMIN)["status"] == "active"
    api.patch(url, [replace("/status", "deleted")], 403)
    api.patch(url, [replace("/status", "bogus")], 400)


def test_patch_refusals(api: Api) -> None:
    created = api.create({"name": "a", "list_of_str": ["a"]})
    url = f"{URL}/{created['id']}"
    api.patch(url, [{"op": "remove", "path": "/name"}], 400)
    api.patch(url, [replace("/blob", None)], 400)
    api.patch(url, [replace("/nope", 1)], 400)
    api.patch(url, [replace("/id", "x")], 403)
    api.patch(url, [{"op": "bogus", "path": "/name"}], 400)
    api.patch(url, [replace("/visibility", "public")], 403)  # only an active artifact is published
    response = api.client.patch(url, json=[], headers=USER1)
    assert response.status_code == 415
    # list and dict operations inside a field
    changed = api.patch(
        url,
        [{"op": "add", "path": "/list_of_str/-", "value": "b"}, {"op": "add", "path": "/dict_of_int/k", "value": "3"}],
    )
    assert changed["list_of_str"] == ["a", "b"]
    assert changed["dict_of_int"] == {"k": 3}
    removed = api.patch(url, [{"op": "remove", "path": "/list_of_str/0"}, {"op": "remove", "path": "/dict_of_int/k"}])
    assert removed["list_of_str"] == ["b"]
    assert removed["dict_of_int"] == {}


def test_visibility_and_access(api: Api, active: Callable[..., dict[str, Any]]) -> None:
    artifact = active(name="a")
    url = f"{URL}/{artifact['id']}"
    api.get(url, 404, user=USER2)
    api.get(url, user=ADMIN)
    api.patch(url, PUBLISH, 403)  # publishing is admin's
    api.patch(url, PUBLISH, user=ADMIN)
    assert api.get(url, user=USER2)["visibility"] == "public"
    api.patch(url, [replace("/string_mutable", "x")], 403, user=USER2)  # visible, not another project's to change
    api.patch(url, [replace("/string_mutable", "x")], 403)  # update_public: admins only
    api.patch(url, [replace("/visibility", "private")], 403, user=ADMIN)
    api.delete(url, 403)  # delete_public: admins only
    api.delete(url, user=ADMIN)
    api.get(url, 404, user=ADMIN)


def test_links_to_visible_artifacts(api: Api) -> None:
    target = api.create({"name": "t"})
    link = f"/artifacts/sample_artifact/{target['id']}"
    created = api.create({"name": "a", "link1": link, "list_of_links": [link], "dict_of_links": {"k": link}})
    assert created["link1"] == link
    assert created["list_of_links"] == [link]
    api.create({"name": "b", "link1": link}, 400, user=USER2)  # USER2 cannot see the target
    api.create({"name": "c", "link1": "ftp://example.org/x"}, 400)
    api.create({"name": "d", "link1": "/artifacts/sample_artifact"}, 400)


def test_delete(api: Api) -> None:
    created = api.create({"name": "a"})
    url = f"{URL}/{created['id']}"
    api.delete(url, 404, user=USER2)  # not visible to another project
    api.delete(url)
    api.get(url, 404)
    api.delete(url, 404)
    api.delete(f"/artifacts/all/{created['id']}", 403)


def test_null_resets_a_field_to_its_default(api: Api) -> None:
    created = api.create({"name": "a", "bool1": True, "int1": 3, "list_of_str": ["x"], "dict_of_int": {"a": 1}})
    url = f"{URL}/{created['id']}"
    for path, expected in (("/bool1", False), ("/int1", None), ("/list_of_str", []), ("/dict_of_int", {})):
        assert api.patch(url, [replace(path, None)])[path[1:]] == expected
    api.patch(url, [replace("/name", None)], 400)
    api.patch(url, [replace("/id", None)], 403)
    assert api.patch(url, [replace("/bool1", 2.1)])["bool1"] is False  # only "true" words are true
    assert api.patch(url, [replace("/bool1", 1)])["bool1"] is True
    response = api.client.delete(url, headers=USER1)
    assert response.status_code == 204
    assert response.headers["content-type"].startswith("text/html")  # as webob: clients parse no JSON here
