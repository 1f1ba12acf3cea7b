"""Glance's secure-RBAC answers for administrators, as glance-tempest-plugin's ImageProjectAdminTests expects
them: a project admin may do everything to every project's images and memberships; a system-scoped admin
(every image rule is project-scoped) is refused, with 404 wherever an image is named (``get_image`` fails
too, so its existence is not revealed) and 403 for create and list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.functional.conftest import OCTET, PATCH21

PROJECT_ADMIN = {"X-User-Id": "root", "X-Project-Id": "admin-project", "X-Roles": "admin,member,reader"}
SYSTEM_ADMIN = {"X-User-Id": "sysroot", "X-Roles": "admin,member,reader", "OpenStack-System-Scope": "all"}
OTHER = {"X-User-Id": "olga", "X-Project-Id": "other", "X-Roles": "member,reader"}
MEMBER_PROJECT = {"X-User-Id": "mo", "X-Project-Id": "member-project", "X-Roles": "member,reader"}
RENAME = [{"op": "replace", "path": "/name", "value": "renamed"}]

MakeImage = Callable[..., dict[str, Any]]


def image_of(client: TestClient, headers: dict[str, str], visibility: str, data: bytes | None = None) -> str:
    """An image owned by the project of ``headers`` (created by an admin: only admins make public images)."""
    body = {
        "name": "rbac", "disk_format": "raw", "container_format": "bare", "visibility": visibility,
        "owner": headers["X-Project-Id"],
    }  # fmt: skip
    response = client.post("/v2/images", json=body, headers={})
    assert response.status_code == 201, response.text
    image_id: str = response.json()["id"]
    if data is not None:
        assert client.put(f"/v2/images/{image_id}/file", content=data, headers={**OCTET, **headers}).status_code == 204
    return image_id


def patch(client: TestClient, image_id: str, headers: dict[str, str]) -> int:
    return client.patch(f"/v2/images/{image_id}", json=RENAME, headers={**PATCH21, **headers}).status_code


@pytest.mark.parametrize("visibility", ["private", "shared", "community", "public"])
def test_project_admin_works_on_other_projects_images(client: TestClient, visibility: str) -> None:
    image_id = image_of(client, OTHER, visibility)
    assert client.get(f"/v2/images/{image_id}", headers=PROJECT_ADMIN).status_code == 200
    assert patch(client, image_id, PROJECT_ADMIN) == 200
    put = client.put(f"/v2/images/{image_id}/file", content=b"admin data", headers={**OCTET, **PROJECT_ADMIN})
    assert put.status_code == 204
    assert client.get(f"/v2/images/{image_id}/file", headers=PROJECT_ADMIN).content == b"admin data"
    assert client.post(f"/v2/images/{image_id}/actions/deactivate", headers=PROJECT_ADMIN).status_code == 204
    assert client.post(f"/v2/images/{image_id}/actions/reactivate", headers=PROJECT_ADMIN).status_code == 204
    assert client.delete(f"/v2/images/{image_id}", headers=PROJECT_ADMIN).status_code == 204


def test_project_admin_downloads_a_queued_image_as_204(client: TestClient) -> None:
    image_id = image_of(client, OTHER, "private")
    assert client.get(f"/v2/images/{image_id}/file", headers=PROJECT_ADMIN).status_code == 204


def test_project_admin_manages_other_projects_members(client: TestClient) -> None:
    image_id = image_of(client, OTHER, "shared")
    added = client.post(f"/v2/images/{image_id}/members", json={"member": "member-project"}, headers=OTHER)
    assert added.status_code == 200
    members = client.get(f"/v2/images/{image_id}/members", headers=PROJECT_ADMIN)
    assert members.status_code == 200
    assert [m["member_id"] for m in members.json()["members"]] == ["member-project"]
    member_url = f"/v2/images/{image_id}/members/member-project"
    assert client.get(member_url, headers=PROJECT_ADMIN).status_code == 200
    for status in ("accepted", "rejected"):
        response = client.put(member_url, json={"status": status}, headers=PROJECT_ADMIN)
        assert response.status_code == 200
        assert response.json()["status"] == status
    assert client.delete(member_url, headers=PROJECT_ADMIN).status_code == 204
    extra = client.post(f"/v2/images/{image_id}/members", json={"member": "third"}, headers=PROJECT_ADMIN)
    assert extra.status_code == 200


def test_system_admin_is_refused_create_and_list_with_403(client: TestClient) -> None:
    body = {"name": "sys", "disk_format": "raw", "container_format": "bare", "visibility": "public"}
    assert client.post("/v2/images", json=body, headers=SYSTEM_ADMIN).status_code == 403
    assert client.get("/v2/images", headers=SYSTEM_ADMIN).status_code == 403


@pytest.mark.parametrize("visibility", ["private", "shared", "community", "public"])
def test_system_admin_gets_404_on_every_image_operation(client: TestClient, visibility: str) -> None:
    image_id = image_of(client, OTHER, visibility, data=b"system admin may not see this")
    url = f"/v2/images/{image_id}"
    assert client.get(url, headers=SYSTEM_ADMIN).status_code == 404
    assert patch(client, image_id, SYSTEM_ADMIN) == 404
    assert client.get(f"{url}/file", headers=SYSTEM_ADMIN).status_code == 404
    assert client.post(f"{url}/actions/deactivate", headers=SYSTEM_ADMIN).status_code == 404
    assert client.put(f"{url}/tags/t1", headers=SYSTEM_ADMIN).status_code == 404
    assert client.delete(url, headers=SYSTEM_ADMIN).status_code == 404
    queued = image_of(client, OTHER, visibility)
    put = client.put(f"/v2/images/{queued}/file", content=b"x", headers={**OCTET, **SYSTEM_ADMIN})
    assert put.status_code == 404
    assert client.post(f"/v2/images/{image_id}/actions/deactivate", headers=OTHER).status_code == 204
    assert client.post(f"{url}/actions/reactivate", headers=SYSTEM_ADMIN).status_code == 404
    assert client.get(url, headers=OTHER).json()["status"] == "deactivated"  # nothing changed


def test_system_admin_gets_404_on_members(client: TestClient) -> None:
    image_id = image_of(client, OTHER, "shared")
    assert (
        client.post(f"/v2/images/{image_id}/members", json={"member": "member-project"}, headers=OTHER).status_code
        == 200
    )
    member_url = f"/v2/images/{image_id}/members/member-project"
    assert client.get(f"/v2/images/{image_id}/members", headers=SYSTEM_ADMIN).status_code == 404
    assert client.get(member_url, headers=SYSTEM_ADMIN).status_code == 404
    assert client.put(member_url, json={"status": "rejected"}, headers=SYSTEM_ADMIN).status_code == 404
    assert client.delete(member_url, headers=SYSTEM_ADMIN).status_code == 404
    added = client.post(f"/v2/images/{image_id}/members", json={"member": "x"}, headers=SYSTEM_ADMIN)
    assert added.status_code == 404
    assert client.get(member_url, headers=OTHER).json()["status"] == "pending"


def test_a_visible_image_the_caller_may_not_change_is_403(client: TestClient) -> None:
    """Where get_image passes but the operation's rule does not, Glance answers 403."""
    image_id = image_of(client, OTHER, "public", data=b"public data")
    assert patch(client, image_id, MEMBER_PROJECT) == 403
    assert client.delete(f"/v2/images/{image_id}", headers=MEMBER_PROJECT).status_code == 403
    assert client.post(f"/v2/images/{image_id}/actions/deactivate", headers=MEMBER_PROJECT).status_code == 403
    assert client.put(f"/v2/images/{image_id}/tags/t1", headers=MEMBER_PROJECT).status_code == 403


def test_member_project_sees_and_answers_only_its_own_membership(client: TestClient) -> None:
    image_id = image_of(client, OTHER, "shared")
    for member in ("member-project", "third"):
        response = client.post(f"/v2/images/{image_id}/members", json={"member": member}, headers=OTHER)
        assert response.status_code == 200
    listed = client.get(f"/v2/images/{image_id}/members", headers=MEMBER_PROJECT).json()["members"]
    assert [m["member_id"] for m in listed] == ["member-project"]
    own = client.put(
        f"/v2/images/{image_id}/members/member-project", json={"status": "accepted"}, headers=MEMBER_PROJECT
    )
    assert own.status_code == 200
    theirs = client.put(f"/v2/images/{image_id}/members/third", json={"status": "accepted"}, headers=MEMBER_PROJECT)
    assert theirs.status_code == 404
    # the owner may not answer for a member: modify_member is the member's (403)
    owner = client.put(f"/v2/images/{image_id}/members/third", json={"status": "accepted"}, headers=OTHER)
    assert owner.status_code == 403
