"""/v2/images/{id}/tags/{tag}."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.settings import load_settings
from tests.conftest import running_app
from tests.functional.conftest import ALICE, BOB, CAROL_READER, plain_error

MakeImage = Callable[..., dict[str, Any]]


def tags_of(client: TestClient, image_id: str) -> list[str]:
    tags: list[str] = client.get(f"/v2/images/{image_id}").json()["tags"]
    return tags


def test_add_and_delete_tag(client: TestClient, make_image: MakeImage) -> None:
    image = make_image(ALICE)
    response = client.put(f"/v2/images/{image['id']}/tags/ready", headers=ALICE)
    assert response.status_code == 204
    assert response.content == b""
    # Glance names a media type on its empty answers; so does Glimpse (clients read no body from a 204)
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert tags_of(client, image["id"]) == ["ready"]
    # adding an existing tag is a no-op
    assert client.put(f"/v2/images/{image['id']}/tags/ready", headers=ALICE).status_code == 204
    assert client.put(f"/v2/images/{image['id']}/tags/approved", headers=ALICE).status_code == 204
    assert tags_of(client, image["id"]) == ["approved", "ready"]
    response = client.delete(f"/v2/images/{image['id']}/tags/ready", headers=ALICE)
    assert response.status_code == 204
    assert response.content == b""
    assert tags_of(client, image["id"]) == ["approved"]


def test_delete_missing_tag_is_404(client: TestClient, make_image: MakeImage) -> None:
    image = make_image(tags=["present"])
    response = client.delete(f"/v2/images/{image['id']}/tags/absent")
    assert response.status_code == 404
    assert response.text.startswith("404 Not Found\n\n")
    assert tags_of(client, image["id"]) == ["present"]


def test_tag_on_unknown_image_is_404(client: TestClient) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    for method in ("PUT", "DELETE"):
        response = client.request(method, f"/v2/images/{missing}/tags/t")
        assert response.status_code == 404
        assert response.text == plain_error("404 Not Found", f"No image found with ID {missing}")


def test_tag_with_special_characters(client: TestClient, make_image: MakeImage) -> None:
    image = make_image()
    assert client.put(f"/v2/images/{image['id']}/tags/with%20space", headers={}).status_code == 204
    assert client.put(f"/v2/images/{image['id']}/tags/%C3%A9t%C3%A9", headers={}).status_code == 204
    assert sorted(tags_of(client, image["id"])) == ["with space", "été"]
    assert client.delete(f"/v2/images/{image['id']}/tags/with%20space").status_code == 204
    assert tags_of(client, image["id"]) == ["été"]


def test_tag_length_limit(client: TestClient, make_image: MakeImage) -> None:
    image = make_image()
    assert client.put(f"/v2/images/{image['id']}/tags/{'t' * 255}").status_code == 204
    response = client.put(f"/v2/images/{image['id']}/tags/{'t' * 256}")
    assert response.status_code == 400
    assert response.text.startswith("400 Bad Request\n\n")
    assert tags_of(client, image["id"]) == ["t" * 255]


def test_tags_need_the_owner(client: TestClient, make_image: MakeImage) -> None:
    image = make_image(ALICE, visibility="community", tags=["keep"])
    for headers in (BOB, CAROL_READER):
        response = client.put(f"/v2/images/{image['id']}/tags/new", headers=headers)
        assert response.status_code == 403
        assert response.text == plain_error("403 Forbidden", "You are not authorized to complete modify_image action.")
        assert client.delete(f"/v2/images/{image['id']}/tags/keep", headers=headers).status_code == 403
    assert tags_of(client, image["id"]) == ["keep"]


def test_tags_on_another_projects_private_image_are_404(client: TestClient, make_image: MakeImage) -> None:
    image = make_image(ALICE, visibility="private")
    assert client.put(f"/v2/images/{image['id']}/tags/t", headers=BOB).status_code == 404


def test_tag_moves_updated_at_and_is_listed(client: TestClient, make_image: MakeImage) -> None:
    tagged = make_image()
    make_image()
    assert client.put(f"/v2/images/{tagged['id']}/tags/gold").status_code == 204
    body = client.get("/v2/images?tag=gold").json()
    assert [image["id"] for image in body["images"]] == [tagged["id"]]


@pytest.fixture
def quota_client(tmp_path: Path, clean_db: str) -> Iterator[TestClient]:
    settings = load_settings(
        env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth", image_tag_quota=2
    )
    with running_app(settings) as test_client:
        yield test_client


def test_tag_quota_is_413(quota_client: TestClient) -> None:
    client = quota_client
    image = client.post("/v2/images", json={"tags": ["a", "b"]}).json()
    response = client.put(f"/v2/images/{image['id']}/tags/c")
    assert response.status_code == 413
    assert response.text.startswith("413 Request Entity Too Large\n\n")
    # re-adding an existing tag is fine
    assert client.put(f"/v2/images/{image['id']}/tags/a").status_code == 204
    assert client.post("/v2/images", json={"tags": ["a", "b", "c"]}).status_code == 413
