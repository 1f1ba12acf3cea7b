"""Error responses: webob-style bodies chosen by Accept, request ids everywhere, 401/404/405/413/415."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.auth.tokens import add_token
from glimpse.container import build_services
from glimpse.settings import Settings, load_settings
from tests.conftest import make_client
from tests.functional.conftest import ALICE, BOB, CAROL_READER, JSON_ACCEPT, OCTET, PATCH21, plain_error

REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def assert_request_id(response: Any) -> str:
    request_id = response.headers.get("x-openstack-request-id")
    assert request_id is not None, f"no x-openstack-request-id on {response.status_code}"
    assert REQUEST_ID.match(request_id), request_id
    return str(request_id)


# -- body formats ------------------------------------------------------------------------------------------
def test_error_body_is_webob_plain_text_by_default(client: TestClient) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    response = client.get(f"/v2/images/{missing}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == plain_error("404 Not Found", f"No image found with ID {missing}")
    assert_request_id(response)


def test_error_body_is_json_when_asked(client: TestClient) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    response = client.get(f"/v2/images/{missing}", headers=JSON_ACCEPT)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "message": f"No image found with ID {missing}",
        "code": "404 Not Found",
        "title": "Not Found",
    }


def test_error_body_is_html_when_asked(client: TestClient) -> None:
    response = client.get("/v2/images/nope", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>404 Not Found</title>" in response.text
    assert "No image found with ID nope" in response.text


def test_error_body_format_follows_webob_negotiation(client: TestClient) -> None:
    """As Glance (webob): HTML or JSON by q-value, HTML on a tie, plain text when neither is acceptable."""
    cases = {
        "*/*": "text/html",
        "application/json, text/plain": "application/json",
        "text/plain;q=0.5, application/json": "application/json",
        "text/html;q=0.2, application/json;q=0.9": "application/json",
        "text/plain": "text/plain",
        "": "text/plain",
    }
    for accept, expected in cases.items():
        response = client.get("/v2/images/nope", headers={"accept": accept})
        assert response.status_code == 404
        assert response.headers["content-type"].startswith(expected), accept


def test_html_error_body_for_any_accept(client: TestClient) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    response = client.get(f"/v2/images/{missing}", headers={"accept": "*/*"})
    assert response.status_code == 404
    assert "<title>404 Not Found</title>" in response.text
    assert f"No image found with ID {missing}<br /><br />" in response.text


def test_html_error_body_escapes_as_webob(client: TestClient) -> None:
    """Quotes and apostrophes become entities in Glance's HTML bodies, anything not ASCII a character reference."""
    image = client.post("/v2/images", json={"visibility": "shared"}).json()
    assert client.post(f"/v2/images/{image['id']}/members", json={"member": "x"}).status_code == 200
    response = client.put(f"/v2/images/{image['id']}/members/x", json={"status": "maybe"}, headers={"accept": "*/*"})
    assert response.status_code == 400
    assert "Status must be &quot;pending&quot;, &quot;accepted&quot; or &quot;rejected&quot;." in response.text
    response = client.post(f"/v2/images/{image['id']}/members", json={"member": ""}, headers={"accept": "*/*"})
    assert "Member can&#x27;t be empty<br /><br />" in response.text
    response = client.get("/v2/images/caf\u00e9", headers={"accept": "*/*"})
    assert "caf&#233;" in response.text


def test_forbidden_body(client: TestClient, make_image: Callable[..., dict[str, Any]]) -> None:
    response = client.post("/v2/images", json={"name": "x", "visibility": "public"}, headers=ALICE)
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", "You are not authorized to complete publicize_image action.")
    response = client.post("/v2/images", json={"status": "active"}, headers={**ALICE, **JSON_ACCEPT})
    assert response.status_code == 403
    assert response.json() == {
        "message": "Attribute 'status' is read-only.",
        "code": "403 Forbidden",
        "title": "Forbidden",
    }


# -- request ids -------------------------------------------------------------------------------------------
def test_request_id_on_success_and_unique(client: TestClient) -> None:
    first = assert_request_id(client.get("/v2/images"))
    second = assert_request_id(client.get("/v2/images"))
    assert first != second
    assert_request_id(client.get("/versions"))
    assert_request_id(client.get("/"))


def test_request_id_on_unknown_path_404(client: TestClient) -> None:
    response = client.get("/v2/nothing-here")
    assert response.status_code == 404
    assert response.text == plain_error("404 Not Found", "The resource could not be found.")
    assert_request_id(response)


def test_request_id_and_allow_on_405(client: TestClient, make_image: Callable[..., dict[str, Any]]) -> None:
    image = make_image()
    cases = {
        "/v2/images": ("PUT", {"GET", "POST"}),
        f"/v2/images/{image['id']}": ("POST", {"GET", "PATCH", "DELETE"}),
        f"/v2/images/{image['id']}/file": ("POST", {"GET", "PUT"}),
        f"/v2/images/{image['id']}/actions/deactivate": ("GET", {"POST"}),
        f"/v2/images/{image['id']}/tags/t": ("GET", {"PUT", "DELETE"}),
        f"/v2/images/{image['id']}/members": ("DELETE", {"GET", "POST"}),
        "/v2/schemas/image": ("POST", {"GET"}),
        "/v2/info/stores": ("DELETE", {"GET"}),
        "/v2/stores/local/x": ("GET", {"DELETE"}),
    }
    for path, (method, allowed) in cases.items():
        response = client.request(method, path)
        assert response.status_code == 405, (method, path)
        assert {m.strip() for m in response.headers["allow"].split(",")} == allowed, path
        assert response.text == plain_error("405 Method Not Allowed", "The method is not allowed for this resource.")
        assert_request_id(response)


def test_405_json_body(client: TestClient) -> None:
    response = client.delete("/v2/images", headers=JSON_ACCEPT)
    assert response.status_code == 405
    assert response.json() == {
        "message": "The method is not allowed for this resource.",
        "code": "405 Method Not Allowed",
        "title": "Method Not Allowed",
    }


def test_head_is_answered_like_get(client: TestClient) -> None:
    response = client.head("/v2/images")
    assert response.status_code == 200
    assert_request_id(response)


# -- 401 with token auth -----------------------------------------------------------------------------------
@pytest.fixture
def token_client(tmp_path: Path, clean_db: str) -> Iterator[tuple[TestClient, str]]:
    settings: Settings = load_settings(env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="tokens")
    assert settings.token_file is not None
    token = add_token(settings.token_file, "alice", "alpha", ["member", "reader"])
    services = build_services(settings)
    try:
        with make_client(settings, services) as test_client:
            yield test_client, token
    finally:
        services.close()


def test_401_without_token(token_client: tuple[TestClient, str]) -> None:
    client, _ = token_client
    response = client.get("/v2/images")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Token realm="glimpse"'
    assert response.text.startswith("401 Unauthorized\n\n")
    assert "no X-Auth-Token was given" in response.text
    assert_request_id(response)


def test_401_with_bad_token_json(token_client: tuple[TestClient, str]) -> None:
    client, _ = token_client
    response = client.get("/v2/images", headers={"x-auth-token": "wrong", **JSON_ACCEPT})
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "401 Unauthorized"
    assert body["title"] == "Unauthorized"
    assert "token is not valid" in body["message"]
    assert_request_id(response)


def test_valid_token_and_public_paths(token_client: tuple[TestClient, str]) -> None:
    client, token = token_client
    assert client.get("/v2/images", headers={"x-auth-token": token}).status_code == 200
    created = client.post("/v2/images", json={"name": "t"}, headers={"x-auth-token": token})
    assert created.status_code == 201
    assert created.json()["owner"] == "alpha"
    # version discovery needs no token
    assert client.get("/versions").status_code == 200
    assert client.get("/").status_code == 300


# -- 415 ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_create_reads_json_whatever_the_content_type(client: TestClient, content_type: str | None) -> None:
    """As Glance, whose JSON endpoints parse the body without looking at Content-Type (`curl -d`)."""
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/v2/images", content=b'{"name": "x"}', headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "x"
    bad = client.post("/v2/images", content=b"name=x", headers=headers)
    assert bad.status_code == 400
    assert bad.text == plain_error("400 Bad Request", "Malformed JSON in request body.")


def test_415_on_patch_with_plain_json(client: TestClient, make_image: Callable[..., dict[str, Any]]) -> None:
    image = make_image()
    ops = [{"op": "replace", "path": "/name", "value": "y"}]
    response = client.patch(f"/v2/images/{image['id']}", json=ops, headers=JSON_ACCEPT)
    assert response.status_code == 415
    assert response.json()["code"] == "415 Unsupported Media Type"
    patch_types = "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch"
    assert response.headers["accept-patch"] == patch_types
    assert response.json()["message"] == f"Image PATCH expects Content-Type one of: {patch_types}"
    assert_request_id(response)
    response = client.patch(f"/v2/images/{image['id']}", json=ops, headers=PATCH21)
    assert response.status_code == 200


def test_415_on_upload_with_json(client: TestClient, make_image: Callable[..., dict[str, Any]]) -> None:
    image = make_image()
    response = client.put(
        f"/v2/images/{image['id']}/file", content=b"abc", headers={"content-type": "application/json"}
    )
    assert response.status_code == 415
    assert response.text.startswith("415 Unsupported Media Type\n\n")
    assert client.get(f"/v2/images/{image['id']}").json()["status"] == "queued"
    response = client.put(f"/v2/images/{image['id']}/file", content=b"abc")
    assert response.status_code == 415


# -- 400 bodies --------------------------------------------------------------------------------------------
def test_malformed_json_is_400(client: TestClient) -> None:
    response = client.post("/v2/images", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.text == plain_error("400 Bad Request", "Malformed JSON in request body.")
    assert_request_id(response)


def nested(depth: int) -> bytes:
    """A JSON object holding arrays nested ``depth`` levels deep in all."""
    return b'{"member": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


@pytest.mark.parametrize("depth", [1_000, 50_000])
@pytest.mark.parametrize("caller", [ALICE, CAROL_READER], ids=["owner", "reader"])
def test_deeply_nested_json_is_400_on_every_json_endpoint(
    client: TestClient, make_image: Callable[..., dict[str, Any]], depth: int, caller: dict[str, str]
) -> None:
    """A body nested far deeper than any request needs is refused before anything else reads it, whoever
    sends it (the body is parsed before the policy check), and the server keeps answering."""
    image = make_image(ALICE)
    json_type = {"content-type": "application/json"}
    requests = [
        ("POST", "/v2/images", json_type),
        ("PATCH", f"/v2/images/{image['id']}", PATCH21),
        ("POST", f"/v2/images/{image['id']}/members", json_type),
        ("POST", f"/v2/images/{image['id']}/import", json_type),
    ]
    for method, path, headers in requests:
        response = client.request(method, path, content=nested(depth), headers={**caller, **headers})
        assert response.status_code == 400, (method, path, response.text)
        assert response.text == plain_error(
            "400 Bad Request", "Malformed JSON in request body: nested deeper than 64 levels."
        )
        assert_request_id(response)
    assert client.get(f"/v2/images/{image['id']}", headers=ALICE).json()["status"] == "queued"


def test_json_nested_to_the_limit_is_parsed(client: TestClient, make_image: Callable[..., dict[str, Any]]) -> None:
    """64 levels are still JSON the handlers see: here the members schema refuses the value itself."""
    image = make_image(ALICE, visibility="shared")
    response = client.post(
        f"/v2/images/{image['id']}/members",
        content=nested(64),
        headers={**ALICE, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert "nested deeper" not in response.text


def test_empty_body_is_400(client: TestClient) -> None:
    response = client.post("/v2/images", content=b"", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.text == plain_error("400 Bad Request", "Body expected in request.")


def test_non_object_body_is_400(client: TestClient) -> None:
    response = client.post("/v2/images", json=["a"])
    assert response.status_code == 400
    assert response.text == plain_error("400 Bad Request", "Request body must be a JSON object.")


# -- 413 on JSON bodies ------------------------------------------------------------------------------------
def test_413_json_body_over_max_request_body_size(client: TestClient, settings: Settings) -> None:
    big = {"name": "x", "description": "d" * settings.max_request_body_size}
    response = client.post("/v2/images", json=big)
    assert response.status_code == 413
    assert response.text == plain_error(
        "413 Request Entity Too Large",
        f"Request body is larger than the limit of {settings.max_request_body_size} bytes",
    )
    assert_request_id(response)
    assert client.get("/v2/images").json()["images"] == []


def test_413_streamed_json_body_without_content_length(client: TestClient, settings: Settings) -> None:
    payload = json.dumps({"name": "x", "description": "d" * settings.max_request_body_size}).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 8192):
            yield payload[start : start + 8192]

    response = client.post("/v2/images", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.headers.get("x-openstack-request-id")


def test_413_on_patch_body(client: TestClient, settings: Settings, make_image: Callable[..., dict[str, Any]]) -> None:
    image = make_image()
    ops = [{"op": "add", "path": "/big", "value": "v" * settings.max_request_body_size}]
    response = client.patch(f"/v2/images/{image['id']}", json=ops, headers=PATCH21)
    assert response.status_code == 413


def test_other_projects_private_image_is_404_not_403(
    client: TestClient, make_image: Callable[..., dict[str, Any]]
) -> None:
    image = make_image(ALICE, visibility="private")
    for method, path, extra in (
        ("GET", f"/v2/images/{image['id']}", {}),
        ("DELETE", f"/v2/images/{image['id']}", {}),
        ("PATCH", f"/v2/images/{image['id']}", PATCH21),
        ("GET", f"/v2/images/{image['id']}/file", {}),
        ("PUT", f"/v2/images/{image['id']}/file", OCTET),
    ):
        content = b"[]" if method == "PATCH" else (b"x" if method == "PUT" else None)
        response = client.request(method, path, headers={**BOB, **extra}, content=content)
        assert response.status_code == 404, (method, path, response.text)
        assert response.text == plain_error("404 Not Found", f"No image found with ID {image['id']}")


# -- 500 ---------------------------------------------------------------------------------------------------
def test_unexpected_error_is_500_with_request_id(
    settings: Settings, services: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaput")

    monkeypatch.setattr(services.images, "get", boom)
    with make_client(settings, services, raise_server_exceptions=False) as client:
        response = client.get("/v2/images/anything")
        assert response.status_code == 500
        assert response.text == plain_error(
            "500 Internal Server Error",
            "The server has either erred or is incapable of performing the requested operation.",
        )
        assert "kaput" not in response.text
        assert_request_id(response)
        response = client.get("/v2/images/anything", headers=JSON_ACCEPT)
        assert response.json()["code"] == "500 Internal Server Error"
        assert_request_id(response)
        # the service keeps serving
        assert client.get("/v2/images").status_code == 200


def test_text_no_database_can_store_is_a_400(client: TestClient) -> None:
    """NUL characters and lone surrogates (found by the fuzzer on PostgreSQL) are refused up front."""
    nul = client.post("/v2/images", json={"name": "a\x00b"})
    assert nul.status_code == 400
    assert "NUL characters are not allowed" in nul.text
    surrogate = client.post(
        "/v2/images", content=b'{"x_prop": "\\ud91b"}', headers={"content-type": "application/json"}
    )
    assert surrogate.status_code == 400
    assert "not valid UTF-8" in surrogate.text
    assert client.get("/v2/images", params={"name": "a\x00"}).status_code == 400
    assert client.get("/v2/images/%00").status_code == 400


def test_integer_filters_beyond_bigint_are_a_400(client: TestClient) -> None:
    response = client.get("/v2/images", params={"size_min": str(2**70)})
    assert response.status_code == 400
    assert "size_min param must be at most" in response.text
