"""/ and /versions, and the API version a request asks for."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.functional.artifacts.conftest import USER1


def test_versions_answer_300_without_identity(client: TestClient) -> None:
    for path in ("/", "/versions"):
        response = client.get(path)
        assert response.status_code == 300
        versions = response.json()["versions"]
        assert [(v["version"], v["status"]) for v in versions] == [("1.0", "STABLE"), ("1.1", "EXPERIMENTAL")]
        assert versions[1]["media-type"] == "application/vnd.openstack.artifacts-1.1"


def test_response_names_the_version_it_speaks(client: TestClient) -> None:
    assert client.get("/schemas", headers=USER1).headers["openstack-api-version"] == "artifact 1.0"
    latest = client.get("/schemas", headers={**USER1, "OpenStack-API-Version": "artifact latest"})
    assert latest.headers["openstack-api-version"] == "artifact 1.1"
    by_accept = client.get("/schemas", headers={**USER1, "Accept": "application/vnd.openstack.artifacts-1.1"})
    assert by_accept.headers["openstack-api-version"] == "artifact 1.1"


def test_unsupported_version_is_406_with_the_range(client: TestClient) -> None:
    response = client.get("/schemas", headers={**USER1, "OpenStack-API-Version": "artifact 2.0"})
    assert response.status_code == 406
    body = response.json()
    assert (body["min_version"], body["max_version"]) == ("1.0", "1.1")
    assert body["error"]["type"] == "InvalidGlobalAPIVersion"
    bad = client.get("/schemas", headers={**USER1, "OpenStack-API-Version": "artifact one"})
    assert bad.status_code == 400
