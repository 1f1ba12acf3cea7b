"""/v2/images/{id}/members: sharing an image with other projects."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.settings import load_settings
from tests.conftest import running_app
from tests.functional.conftest import ALICE, BOB, CAROL_READER, JSON_ACCEPT, plain_error, race

MakeImage = Callable[..., dict[str, Any]]
GAMMA = {"X-User-Id": "gina", "X-Project-Id": "gamma", "X-Roles": "member,reader"}


@pytest.fixture
def shared(make_image: MakeImage) -> dict[str, Any]:
    return make_image(ALICE, visibility="shared")


def add_member(client: TestClient, image_id: str, member: str, headers: dict[str, str] | None = None) -> Any:
    return client.post(
        f"/v2/images/{image_id}/members", json={"member": member}, headers=ALICE if headers is None else headers
    )


def set_status(client: TestClient, image_id: str, member: str, status: Any, headers: dict[str, str]) -> Any:
    return client.put(f"/v2/images/{image_id}/members/{member}", json={"status": status}, headers=headers)


# -- create ----------------------------------------------------------------------------------------------------
def test_create_member(client: TestClient, shared: dict[str, Any]) -> None:
    response = add_member(client, shared["id"], "beta")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"created_at", "image_id", "member_id", "schema", "status", "updated_at"}
    assert body["image_id"] == shared["id"]
    assert body["member_id"] == "beta"
    assert body["status"] == "pending"
    assert body["schema"] == "/v2/schemas/member"
    assert body["created_at"].endswith("Z")


@pytest.mark.parametrize("visibility", ["private", "public", "community"])
def test_create_member_on_non_shared_image_is_403(client: TestClient, make_image: MakeImage, visibility: str) -> None:
    image = make_image(visibility=visibility)
    response = add_member(client, image["id"], "beta", {})
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", f"Not allowed to create members for image {image['id']}.")


def test_duplicate_member_is_409(client: TestClient, shared: dict[str, Any]) -> None:
    assert add_member(client, shared["id"], "beta").status_code == 200
    response = add_member(client, shared["id"], "beta")
    assert response.status_code == 409
    assert response.text == plain_error("409 Conflict", f"Member beta is duplicated for image {shared['id']}")


@pytest.mark.parametrize("round_", range(5))
def test_concurrent_adds_of_one_member_give_one_200_and_409s(
    client: TestClient, make_image: MakeImage, round_: int
) -> None:
    """The duplicate check and the insert are not atomic: the losers of the race meet the unique key (was a 500)."""
    image = make_image(ALICE, visibility="shared")
    responses = race(10, lambda: add_member(client, image["id"], "beta"))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 9, [r.text for r in responses]
    duplicated = plain_error("409 Conflict", f"Member beta is duplicated for image {image['id']}")
    assert all(r.text == duplicated for r in responses if r.status_code == 409)
    members = client.get(f"/v2/images/{image['id']}/members", headers=ALICE).json()["members"]
    assert [m["member_id"] for m in members] == ["beta"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Member to be added not specified"),
        ({"other": "beta"}, "Member to be added not specified"),
        ({"member": ""}, "Member can't be empty"),
        ({"member": None}, "Member can't be empty"),
        ({"member": 5}, 'Expected a member in the form: {"member": "image_id"}'),  # Glance 33: a 500
    ],
)
def test_create_member_with_bad_body_is_400(
    client: TestClient, shared: dict[str, Any], body: dict[str, Any], message: str
) -> None:
    response = client.post(f"/v2/images/{shared['id']}/members", json=body, headers=ALICE)
    assert response.status_code == 400
    assert response.text == plain_error("400 Bad Request", message)
    # Glance reads the body before it looks for the image
    missing = "00000000-0000-0000-0000-000000000000"
    assert client.post(f"/v2/images/{missing}/members", json=body, headers=ALICE).status_code == 400


def test_only_the_owner_may_add_members(client: TestClient, shared: dict[str, Any]) -> None:
    assert add_member(client, shared["id"], "beta").status_code == 200
    # a member can see the image but not share it further
    response = add_member(client, shared["id"], "gamma", BOB)
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", "You are not authorized to complete add_member action.")
    assert add_member(client, shared["id"], "gamma", CAROL_READER).status_code == 403
    # a stranger does not even see it
    assert add_member(client, shared["id"], "gamma", GAMMA).status_code == 404
    # the admin may
    assert add_member(client, shared["id"], "gamma", {}).status_code == 200


def test_member_on_unknown_image_is_404(client: TestClient) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    not_found = plain_error("404 Not Found", f"Image {missing} not found.")  # Glance's words here
    assert add_member(client, missing, "beta", {}).text == not_found
    assert client.get(f"/v2/images/{missing}/members").text == not_found
    assert client.get(f"/v2/images/{missing}/members/beta").text == not_found
    assert set_status(client, missing, "beta", "accepted", {}).text == not_found
    assert client.delete(f"/v2/images/{missing}/members/beta").text == not_found


@pytest.fixture
def quota_client(tmp_path: Path, clean_db: str) -> Iterator[TestClient]:
    settings = load_settings(
        env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth", image_member_quota=1
    )
    with running_app(settings) as test_client:
        yield test_client


def test_member_quota_is_413(quota_client: TestClient) -> None:
    image = quota_client.post("/v2/images", json={"visibility": "shared"}).json()
    assert add_member(quota_client, image["id"], "beta", {}).status_code == 200
    response = add_member(quota_client, image["id"], "gamma", {})
    assert response.status_code == 413
    assert response.text.startswith("413 Request Entity Too Large\n\n")


# -- list and show ---------------------------------------------------------------------------------------------
def test_list_members(client: TestClient, shared: dict[str, Any]) -> None:
    assert add_member(client, shared["id"], "beta").status_code == 200
    assert add_member(client, shared["id"], "gamma").status_code == 200
    response = client.get(f"/v2/images/{shared['id']}/members", headers=ALICE)
    assert response.status_code == 200
    body = response.json()
    assert body["schema"] == "/v2/schemas/members"
    assert {m["member_id"] for m in body["members"]} == {"beta", "gamma"}
    # a member sees only its own membership
    mine = client.get(f"/v2/images/{shared['id']}/members", headers=BOB).json()["members"]
    assert [m["member_id"] for m in mine] == ["beta"]
    # the admin sees all
    assert len(client.get(f"/v2/images/{shared['id']}/members").json()["members"]) == 2


def test_list_members_of_non_member_is_404(client: TestClient, shared: dict[str, Any]) -> None:
    response = client.get(f"/v2/images/{shared['id']}/members", headers=BOB)
    assert response.status_code == 404


def test_list_members_of_non_shared_image_is_403(client: TestClient, make_image: MakeImage) -> None:
    image = make_image(ALICE, visibility="private")
    response = client.get(f"/v2/images/{image['id']}/members", headers=ALICE)
    assert response.status_code == 403
    message = f"Not allowed to list members for image {image['id']}: Only shared images have members."
    assert response.text == plain_error("403 Forbidden", message)


def test_show_member(client: TestClient, shared: dict[str, Any]) -> None:
    created = add_member(client, shared["id"], "beta").json()
    for headers in (ALICE, BOB, CAROL_READER, {}):
        response = client.get(f"/v2/images/{shared['id']}/members/beta", headers=headers)
        assert response.status_code == 200, headers
        assert response.json() == created


def test_show_member_hides_what_the_caller_may_not_see(client: TestClient, shared: dict[str, Any]) -> None:
    assert add_member(client, shared["id"], "beta").status_code == 200
    assert add_member(client, shared["id"], "gamma").status_code == 200
    # gamma may see the image, but not beta's membership
    response = client.get(f"/v2/images/{shared['id']}/members/beta", headers=GAMMA)
    assert response.status_code == 404
    assert response.text.startswith("404 Not Found\n\n")
    missing = client.get(f"/v2/images/{shared['id']}/members/delta", headers=ALICE)
    assert missing.status_code == 404


def test_show_member_of_non_shared_image_is_404(client: TestClient, shared: dict[str, Any]) -> None:
    assert add_member(client, shared["id"], "beta").status_code == 200
    to_private = [{"op": "replace", "path": "/visibility", "value": "private"}]
    patch = {"content-type": "application/openstack-images-v2.1-json-patch"}
    assert client.patch(f"/v2/images/{shared['id']}", json=to_private, headers={**ALICE, **patch}).status_code == 200
    response = client.get(f"/v2/images/{shared['id']}/members/beta", headers=ALICE)
    assert response.status_code == 404


# -- update status ---------------------------------------------------------------------------------------------
def test_member_sets_its_status(client: TestClient, shared: dict[str, Any]) -> None:
    created = add_member(client, shared["id"], "beta").json()
    for status in ("accepted", "rejected", "pending", "accepted"):
        response = set_status(client, shared["id"], "beta", status, BOB)
        assert response.status_code == 200
        assert response.json()["status"] == status
        assert response.json()["created_at"] == created["created_at"]
    shown = client.get(f"/v2/images/{shared['id']}/members/beta", headers=BOB).json()
    assert shown["status"] == "accepted"


def test_owner_cannot_set_member_status(client: TestClient, shared: dict[str, Any]) -> None:
    assert add_member(client, shared["id"], "beta").status_code == 200
    response = set_status(client, shared["id"], "beta", "accepted", ALICE)
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", "You are not authorized to complete modify_member action.")
    assert client.get(f"/v2/images/{shared['id']}/members/beta", headers=ALICE).json()["status"] == "pending"


def test_other_member_cannot_set_status(client: TestClient, shared: dict[str, Any]) -> None:
    assert add_member(client, shared["id"], "beta").status_code == 200
    assert add_member(client, shared["id"], "gamma").status_code == 200
    # as Glance: a member project finds only its own membership, so another's is 404
    response = set_status(client, shared["id"], "beta", "accepted", GAMMA)
    assert response.status_code == 404
    assert response.text == plain_error(
        "404 Not Found", f"beta not found in the member list of the image {shared['id']}."
    )


def test_admin_may_set_member_status(client: TestClient, shared: dict[str, Any]) -> None:
    assert add_member(client, shared["id"], "beta").status_code == 200
    response = set_status(client, shared["id"], "beta", "rejected", {})
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"


@pytest.mark.parametrize("status", ["ACCEPTED", "maybe", "", None, 1])
def test_bad_member_status_is_400(client: TestClient, shared: dict[str, Any], status: Any) -> None:
    assert add_member(client, shared["id"], "beta").status_code == 200
    response = set_status(client, shared["id"], "beta", status, {**BOB, **JSON_ACCEPT})
    assert response.status_code == 400
    assert response.json()["code"] == "400 Bad Request"
    assert response.json()["message"] == 'Incorrect request: Status must be "pending", "accepted" or "rejected".'
    assert client.get(f"/v2/images/{shared['id']}/members/beta", headers=BOB).json()["status"] == "pending"


def test_status_missing_from_the_body_is_400(client: TestClient, shared: dict[str, Any]) -> None:
    assert add_member(client, shared["id"], "beta").status_code == 200
    response = client.put(f"/v2/images/{shared['id']}/members/beta", json={"state": "accepted"}, headers=BOB)
    assert response.text == plain_error("400 Bad Request", "Status not specified")


def test_status_of_missing_member_is_404(client: TestClient, shared: dict[str, Any]) -> None:
    response = set_status(client, shared["id"], "beta", "accepted", {})
    assert response.status_code == 404


def test_status_change_on_non_shared_image_is_403(client: TestClient, shared: dict[str, Any]) -> None:
    assert add_member(client, shared["id"], "beta").status_code == 200
    to_community = [{"op": "replace", "path": "/visibility", "value": "community"}]
    patch = {"content-type": "application/openstack-images-v2.1-json-patch"}
    assert client.patch(f"/v2/images/{shared['id']}", json=to_community, headers={**ALICE, **patch}).status_code == 200
    response = set_status(client, shared["id"], "beta", "accepted", BOB)
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", f"Not allowed to update members for image {shared['id']}.")


# -- delete ----------------------------------------------------------------------------------------------------
def test_owner_deletes_member(client: TestClient, shared: dict[str, Any]) -> None:
    assert add_member(client, shared["id"], "beta").status_code == 200
    assert set_status(client, shared["id"], "beta", "accepted", BOB).status_code == 200
    assert client.get(f"/v2/images/{shared['id']}", headers=BOB).status_code == 200
    response = client.delete(f"/v2/images/{shared['id']}/members/beta", headers=ALICE)
    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers  # unlike Glance's other 204s, its member delete names none
    assert client.get(f"/v2/images/{shared['id']}", headers=BOB).status_code == 404
    assert client.get(f"/v2/images/{shared['id']}/members", headers=ALICE).json()["members"] == []
    assert client.delete(f"/v2/images/{shared['id']}/members/beta", headers=ALICE).status_code == 404


def test_member_cannot_delete_membership(client: TestClient, shared: dict[str, Any]) -> None:
    assert add_member(client, shared["id"], "beta").status_code == 200
    response = client.delete(f"/v2/images/{shared['id']}/members/beta", headers=BOB)
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", "You are not authorized to complete delete_member action.")
    assert client.delete(f"/v2/images/{shared['id']}/members/beta", headers=CAROL_READER).status_code == 403


def test_delete_member_on_non_shared_image_is_403(client: TestClient, shared: dict[str, Any]) -> None:
    assert add_member(client, shared["id"], "beta").status_code == 200
    to_private = [{"op": "replace", "path": "/visibility", "value": "private"}]
    patch = {"content-type": "application/openstack-images-v2.1-json-patch"}
    assert client.patch(f"/v2/images/{shared['id']}", json=to_private, headers={**ALICE, **patch}).status_code == 200
    response = client.delete(f"/v2/images/{shared['id']}/members/beta", headers=ALICE)
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", f"Not allowed to delete members for image {shared['id']}.")


def test_deleting_the_image_removes_memberships(client: TestClient, shared: dict[str, Any]) -> None:
    assert add_member(client, shared["id"], "beta").status_code == 200
    assert client.delete(f"/v2/images/{shared['id']}", headers=ALICE).status_code == 204
    assert client.get(f"/v2/images/{shared['id']}/members/beta").status_code == 404
    assert client.get("/v2/images?member_status=all", headers=BOB).json()["images"] == []
