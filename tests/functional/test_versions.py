"""GET / and /versions: the API versions on offer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from glimpse.api.versions import IMPLEMENTED, advertised
from glimpse.settings import load_settings
from tests.conftest import running_app


def test_versions(client: TestClient) -> None:
    response = client.get("/versions")
    assert response.status_code == 200
    versions = response.json()["versions"]
    ids = [v["id"] for v in versions]
    assert ids == [f"v{v}" for v in reversed(advertised())]
    assert ids[-1] == "v2.0"
    assert [v["status"] for v in versions] == ["CURRENT"] + ["SUPPORTED"] * (len(versions) - 1)
    for version in versions:
        assert version["links"] == [{"rel": "self", "href": "http://testserver/v2/"}]


def test_root_is_300_multiple_choices(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 300
    assert response.json() == client.get("/versions").json()
    assert response.headers.get("x-openstack-request-id")


def test_versions_need_no_identity(client: TestClient) -> None:
    response = client.get("/versions", headers={"X-Roles": "", "X-Project-Id": ""})
    assert response.status_code == 200


def test_only_fully_implemented_versions_are_advertised() -> None:
    assert advertised() == ["2.0", "2.1"]
    # with metadefs and property protections (v2.2) in, everything up to the stores detail (v2.13) would be
    assert advertised(IMPLEMENTED | {"metadefs", "property_protections"}) == [
        "2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "2.8", "2.9", "2.10", "2.11", "2.12", "2.13",
    ]  # fmt: skip
    assert advertised(frozenset()) == []


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
