"""Property protections through the API, in both of Glance's file formats."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.container import Services
from glimpse.context import RequestContext
from glimpse.settings import Settings, load_settings
from tests.functional.conftest import ADMIN, ALICE, CAROL_READER, PATCH21

MakeImage = Callable[..., dict[str, Any]]
# a user of project alpha whose request a service (e.g. compute) forwards with its own service token
ALICE_VIA_SERVICE = {**ALICE, "X-Service-Roles": "service"}

ROLES = """
[^x_hw_]
create = admin,service
read = @
update = admin,service
delete = admin,service

[^x_secret_]
create = admin
read = admin
update = admin
delete = admin

[^x_ro_]
create = admin
read = reader
update = admin
delete = admin

[.*]
create = member
read = reader
update = member
delete = member
"""
POLICIES = """
[^x_hw_]
create = service_or_admin
read = @
update = service_or_admin
delete = service_or_admin

[^x_secret_]
create = admins
read = admins
update = admins
delete = admins

[^x_ro_]
create = admins
read = readers
update = admins
delete = admins

[.*]
create = members
read = readers
update = members
delete = members
"""
POLICY_FILE = """
"service_or_admin": "role:admin or role:service"
"admins": "role:admin"
"readers": "role:reader"
"members": "role:member"
"""


@pytest.fixture(params=["roles", "policies"])
def settings(request: pytest.FixtureRequest, tmp_path: Path, clean_db: str) -> Settings:
    protections = tmp_path / "property-protections.conf"
    options: dict[str, Any] = {
        "property_protection_file": protections,
        "property_protection_rule_format": request.param,
    }
    if request.param == "roles":
        protections.write_text(ROLES)
    else:
        protections.write_text(POLICIES)
        (tmp_path / "policy.yaml").write_text(POLICY_FILE)
        options["policy_file"] = tmp_path / "policy.yaml"
    return load_settings(env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth", **options)


def patch(client: TestClient, image_id: str, ops: list[dict[str, Any]], headers: dict[str, str]) -> Any:
    return client.patch(f"/v2/images/{image_id}", json=ops, headers={**PATCH21, **headers})


@pytest.fixture
def alphas_image(make_image: MakeImage) -> dict[str, Any]:
    """An image of project alpha, made by the admin with a hidden, a read-only and a service property."""
    return make_image(
        ADMIN, owner="alpha", x_secret_key="k-1", x_ro_tier="gold", x_hw_firmware="uefi", x_team="blue"
    )


def test_creating_a_property_the_caller_may_not_create_is_403(client: TestClient) -> None:
    body = {"disk_format": "raw", "container_format": "bare", "x_hw_firmware": "uefi"}
    response = client.post("/v2/images", json=body, headers=ALICE)
    assert response.status_code == 403
    assert "x_hw_firmware" in response.text
    assert client.get("/v2/images", headers=ALICE).json()["images"] == []
    created = client.post("/v2/images", json={"x_team": "blue"}, headers=ALICE)
    assert created.status_code == 201
    assert created.json()["x_team"] == "blue"


def test_a_service_token_writes_what_its_user_cannot(client: TestClient) -> None:
    created = client.post("/v2/images", json={"x_hw_firmware": "uefi"}, headers=ALICE_VIA_SERVICE)
    assert created.status_code == 201, created.text
    image_id = created.json()["id"]
    assert created.json()["x_hw_firmware"] == "uefi"
    replace = [{"op": "replace", "path": "/x_hw_firmware", "value": "bios"}]
    assert patch(client, image_id, replace, ALICE).status_code == 403
    updated = patch(client, image_id, replace, ALICE_VIA_SERVICE)
    assert updated.status_code == 200
    assert updated.json()["x_hw_firmware"] == "bios"
    assert client.get(f"/v2/images/{image_id}", headers=ALICE).json()["x_hw_firmware"] == "bios"  # read = @
    remove = [{"op": "remove", "path": "/x_hw_firmware"}]
    assert patch(client, image_id, remove, ALICE).status_code == 403
    assert patch(client, image_id, remove, ALICE_VIA_SERVICE).status_code == 200


def test_a_property_the_caller_may_not_read_is_absent_everywhere(
    client: TestClient, alphas_image: dict[str, Any]
) -> None:
    image_id = alphas_image["id"]
    assert alphas_image["x_secret_key"] == "k-1"  # the admin sees it
    for headers in (ALICE, CAROL_READER):
        shown = client.get(f"/v2/images/{image_id}", headers=headers).json()
        assert "x_secret_key" not in shown
        assert shown["x_ro_tier"] == "gold"
        assert shown["x_team"] == "blue"
        listed = client.get("/v2/images", headers=headers).json()["images"]
        assert [image["id"] for image in listed] == [image_id]
        assert "x_secret_key" not in listed[0]
    updated = patch(client, image_id, [{"op": "add", "path": "/x_note", "value": "n"}], ALICE)
    assert updated.status_code == 200, updated.text
    assert "x_secret_key" not in updated.json()
    # hidden from Alice, not lost by her update
    assert client.get(f"/v2/images/{image_id}", headers=ADMIN).json()["x_secret_key"] == "k-1"


def test_filtering_on_a_property_the_caller_may_not_read_finds_nothing(
    client: TestClient, alphas_image: dict[str, Any]
) -> None:
    assert client.get("/v2/images?x_secret_key=k-1", headers=ALICE).json()["images"] == []
    assert [i["id"] for i in client.get("/v2/images?x_secret_key=k-1", headers=ADMIN).json()["images"]] == [
        alphas_image["id"]
    ]
    assert len(client.get("/v2/images?x_team=blue", headers=ALICE).json()["images"]) == 1


@pytest.mark.parametrize(
    "op",
    [
        {"op": "add", "path": "/x_secret_key", "value": "mine"},  # exists, hidden: no silent overwrite
        {"op": "replace", "path": "/x_secret_key", "value": "mine"},
        {"op": "remove", "path": "/x_secret_key"},
        {"op": "add", "path": "/x_secret_other", "value": "v"},  # does not exist: creating it is refused
        {"op": "replace", "path": "/x_ro_tier", "value": "silver"},
        {"op": "add", "path": "/x_ro_tier", "value": "silver"},
        {"op": "remove", "path": "/x_ro_tier"},
        {"op": "add", "path": "/x_hw_firmware", "value": "bios"},
    ],
)
def test_patching_a_protected_property_is_403(
    client: TestClient, alphas_image: dict[str, Any], op: dict[str, Any]
) -> None:
    response = patch(client, alphas_image["id"], [op], ALICE)
    assert response.status_code == 403, response.text
    assert op["path"].lstrip("/") in response.text
    after = client.get(f"/v2/images/{alphas_image['id']}", headers=ADMIN).json()
    assert (after["x_secret_key"], after["x_ro_tier"], after["x_hw_firmware"]) == ("k-1", "gold", "uefi")


def test_members_manage_unprotected_properties_and_readers_only_read(
    client: TestClient, alphas_image: dict[str, Any]
) -> None:
    image_id = alphas_image["id"]
    ops = [{"op": "replace", "path": "/x_team", "value": "red"}, {"op": "add", "path": "/x_new", "value": "1"}]
    assert patch(client, image_id, ops, ALICE).status_code == 200
    assert patch(client, image_id, [{"op": "remove", "path": "/x_new"}], ALICE).status_code == 200
    # the reader is refused by modify_image before any property rule
    assert patch(client, image_id, [{"op": "add", "path": "/x_new", "value": "1"}], CAROL_READER).status_code == 403
    # core attributes are not properties: no section applies to them
    assert patch(client, image_id, [{"op": "replace", "path": "/name", "value": "n"}], ALICE).status_code == 200


def test_the_service_reads_what_it_wrote_and_the_admin_sees_all(client: TestClient, make_image: MakeImage) -> None:
    image = make_image(ALICE_VIA_SERVICE, x_hw_firmware="uefi", x_team="blue")
    assert image["x_hw_firmware"] == "uefi"
    shown = client.get(f"/v2/images/{image['id']}", headers=ADMIN).json()
    assert (shown["x_hw_firmware"], shown["x_team"]) == ("uefi", "blue")


def test_visible_properties_is_what_event_payloads_will_use(alphas_image: dict[str, Any], services: Services) -> None:
    alice = RequestContext(user_id="alice", project_id="alpha", roles=frozenset({"member", "reader"}))
    admin = RequestContext(user_id="admin", project_id="admin", roles=frozenset({"admin"}))
    loaded = asyncio.run(services.images.load(admin, alphas_image["id"]))  # unfiltered, as internal code holds it
    assert "x_secret_key" in loaded.properties
    assert "x_secret_key" not in services.images.visible_properties(alice, loaded)
    assert services.images.visible_properties(admin, loaded) == loaded.properties
    assert "x_secret_key" not in services.images.visible(alice, loaded).properties
    assert "x_secret_key" in loaded.properties  # visible() copies; the loaded image is untouched
