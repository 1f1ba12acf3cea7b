"""GET / and /versions, and version negotiation as Glance 33 does it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from glimpse.settings import load_settings
from tests.conftest import running_app

# Glance 33 with enabled_backends set and no image cache, in its order
GLANCE_33 = [
    ("v2.15", "SUPPORTED"), ("v2.13", "SUPPORTED"), ("v2.12", "SUPPORTED"), ("v2.11", "SUPPORTED"),
    ("v2.10", "SUPPORTED"), ("v2.9", "SUPPORTED"), ("v2.8", "SUPPORTED"), ("v2.17", "CURRENT"),
    ("v2.7", "SUPPORTED"), ("v2.6", "SUPPORTED"), ("v2.5", "SUPPORTED"), ("v2.4", "SUPPORTED"),
    ("v2.3", "SUPPORTED"), ("v2.2", "SUPPORTED"), ("v2.1", "SUPPORTED"), ("v2.0", "SUPPORTED"),
]  # fmt: skip


def test_versions_as_glance_lists_them(client: TestClient) -> None:
    response = client.get("/versions")
    assert response.status_code == 200
    versions = response.json()["versions"]
    assert [(v["id"], v["status"]) for v in versions] == GLANCE_33
    for version in versions:
        assert version["links"] == [{"rel": "self", "href": "http://testserver/v2/"}]


def test_root_is_300_multiple_choices(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 300
    assert response.json() == client.get("/versions").json()
    assert response.headers.get("x-openstack-request-id")


@pytest.mark.parametrize("path", ["/v1/images", "/v3/", "/v3", "/v2.14/images", "/v2.99/images", "/images", "/x"])
def test_unknown_versions_answer_300_with_the_document(client: TestClient, path: str) -> None:
    for method in ("GET", "POST", "DELETE"):
        response = client.request(method, path)
        assert response.status_code == 300, (method, path)
        assert response.json() == client.get("/versions").json()


def test_unknown_versions_answer_before_authentication(tmp_path: Path, clean_db: str) -> None:
    settings = load_settings(env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="tokens")
    with running_app(settings) as tokens_client:
        assert tokens_client.get("/v1/images").status_code == 300
        assert tokens_client.get("/versions").status_code == 200
        assert tokens_client.get("/v2/images").status_code == 401
        assert tokens_client.get("/v2.17/images").status_code == 401


@pytest.mark.parametrize("prefix", ["v2", "v2.0", "v2.1", "v2.2", "v2.8", "v2.9", "v2.13", "v2.15", "v2.17"])
def test_minor_version_prefixes_reach_the_v2_api(client: TestClient, prefix: str) -> None:
    created = client.post(f"/{prefix}/images", json={"name": prefix})
    assert created.status_code == 201
    shown = client.get(f"/{prefix}/images/{created.json()['id']}")
    assert shown.status_code == 200
    assert shown.json()["name"] == prefix


def test_media_type_versioning(client: TestClient) -> None:
    response = client.get("/images", headers={"accept": "application/vnd.openstack.images-v2.1"})
    assert response.status_code == 200
    assert "images" in response.json()
    assert client.get("/images", headers={"accept": "application/vnd.openstack.images-v1"}).status_code == 300


def test_versions_path_answers_any_method(client: TestClient) -> None:
    assert client.post("/versions").status_code == 200
    assert client.get("/versions/anything").status_code == 200


def test_own_endpoints_stay_outside_negotiation(client: TestClient) -> None:
    assert client.get("/healthcheck").status_code == 200
    assert client.get("/openapi.json").status_code == 200


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_trailing_slash_is_404_not_a_redirect(client: TestClient, method: str) -> None:
    response = client.request(method, "/v2/images/", follow_redirects=False)
    assert response.status_code == 404


def test_versions_need_no_identity(client: TestClient) -> None:
    response = client.get("/versions", headers={"X-Roles": "", "X-Project-Id": ""})
    assert response.status_code == 200


@pytest.fixture
def endpoint_client(tmp_path: Path, clean_db: str) -> Iterator[TestClient]:
    settings = load_settings(
        env={"GLIMPSE_PUBLIC_ENDPOINT": "https://images.example.com/"},
        data_dir=tmp_path / "data",
        database_url=clean_db,
        auth="noauth",
    )
    with running_app(settings) as test_client:
        yield test_client


def test_public_endpoint_is_used_in_links(endpoint_client: TestClient) -> None:
    versions = endpoint_client.get("/versions").json()["versions"]
    assert {link["href"] for v in versions for link in v["links"]} == {"https://images.example.com/v2/"}
