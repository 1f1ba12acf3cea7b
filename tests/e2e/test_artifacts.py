"""The artifacts API end to end: a real `glimpse artifacts serve` next to the session's `glimpse serve`, on the
same database, data directory (tokens) and stores, driven over HTTP with tokens.

The issue's examples: a Heat template with a folder of nested templates and a link to an environment, a
Murano package depending on another, and an image artifact whose blob is the bytes of an existing image
(stored once, and still served after the image is deleted).
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import GlimpseServer
from tests.serverproc import GLIMPSE, free_port, server_env, stop, wait_for_root

OCTETS = {"content-type": "application/octet-stream"}
ACTIVATE = [{"op": "replace", "path": "/status", "value": "active"}]


class Artifacts:
    """A client of the artifacts server acting as one user (a token of the session's server)."""

    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.Client(base_url=url, headers={"X-Auth-Token": token}, timeout=60)

    def call(self, method: str, path: str, status: int = 200, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text}"
        return response

    def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self.call("POST", f"/artifacts/{kind}", 201, json=body).json()
        return created

    def upload(self, kind: str, artifact_id: str, path: str, data: bytes, content_type: str) -> dict[str, Any]:
        url = f"/artifacts/{kind}/{artifact_id}/{path}"
        shown: dict[str, Any] = self.call("PUT", url, content=data, headers={"content-type": content_type}).json()
        return shown

    def activate(self, kind: str, artifact_id: str) -> dict[str, Any]:
        headers = {"content-type": "application/json-patch+json"}
        shown: dict[str, Any] = self.call(
            "PATCH", f"/artifacts/{kind}/{artifact_id}", json=ACTIVATE, headers=headers
        ).json()
        return shown


@pytest.fixture(scope="module")
def artifacts_url(
    server: GlimpseServer, e2e_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`glimpse artifacts serve` on the session server's database and data directory."""
    data_dir = server.home.parent / "data"
    env = server_env(data_dir, e2e_database_url, server.home)
    log_file = tmp_path_factory.mktemp("e2e-artifacts") / "artifacts.log"
    port = free_port()
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [GLIMPSE, "artifacts", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        status = wait_for_root(process, port)
        assert status == 300, f"glimpse artifacts serve did not start:\n{log_file.read_text()[-3000:]}"
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@pytest.fixture
def alpha(artifacts_url: str, server: GlimpseServer) -> Iterator[Artifacts]:
    client = Artifacts(artifacts_url, server.tokens["alpha"])
    yield client
    client.http.close()


def test_heat_template_with_nested_templates_and_an_environment(alpha: Artifacts) -> None:
    env = alpha.create("heat_environments", {"name": "e2e-env", "version": "1.0"})
    alpha.upload("heat_environments", env["id"], "environment", b"parameters:\n  flavor: m1.small\n", "text/yaml")
    alpha.activate("heat_environments", env["id"])
    template = alpha.create(
        "heat_templates",
        {"name": "e2e-stack", "version": "2.1", "environments": {"small": f"/artifacts/heat_environments/{env['id']}"}},
    )
    tid = template["id"]
    body = b"heat_template_version: 2018-08-31\nresources:\n  a: {type: nested/a.yaml}\n"
    alpha.upload("heat_templates", tid, "template", body, "text/yaml")
    nested = {"a.yaml": b"resources: {}\n", "b.yaml": b"parameters: {x: {type: string}}\n"}
    for name, data in nested.items():
        alpha.upload("heat_templates", tid, f"nested_templates/{name}", data, "text/yaml")
    shown = alpha.activate("heat_templates", tid)
    assert shown["status"] == "active"
    assert shown["environments"] == {"small": f"/artifacts/heat_environments/{env['id']}"}
    assert set(shown["nested_templates"]) == {"a.yaml", "b.yaml"}
    for name, data in nested.items():
        blob = shown["nested_templates"][name]
        assert blob["url"] == f"/artifacts/heat_templates/{tid}/nested_templates/{name}"
        got = alpha.call("GET", blob["url"])
        assert got.content == data
        assert got.headers["x-openstack-glare-content-sha256"] == hashlib.sha256(data).hexdigest()
        assert got.headers["content-md5"] == hashlib.md5(data).hexdigest()
        assert got.headers["content-type"].startswith("text/yaml")
    assert alpha.call("GET", f"/artifacts/heat_templates/{tid}/template").content == body
    # a link to an artifact that does not exist is refused
    missing = "/artifacts/heat_environments/00000000-0000-0000-0000-000000000000"
    alpha.call("POST", "/artifacts/heat_templates", 400, json={"name": "bad", "environments": {"x": missing}})
    listed = alpha.call("GET", "/artifacts/heat_templates?name=e2e-stack&version=latest").json()
    assert [a["id"] for a in listed["artifacts"]] == [tid]


def test_murano_package_with_dependencies(alpha: Artifacts) -> None:
    library = alpha.create(
        "murano_packages", {"name": "e2e.Library", "type": "Library", "version": "1.0", "display_name": "Library"}
    )
    alpha.upload("murano_packages", library["id"], "package", b"PK\x03\x04library zip", "application/zip")
    alpha.activate("murano_packages", library["id"])
    link = f"/artifacts/murano_packages/{library['id']}"
    app = alpha.create(
        "murano_packages",
        {"name": "e2e.App", "display_name": "App", "dependencies": [link], "class_definitions": ["e2e.App"]},
    )
    alpha.upload("murano_packages", app["id"], "package", b"PK\x03\x04app zip", "application/zip")
    shown = alpha.activate("murano_packages", app["id"])
    assert shown["dependencies"] == [link]
    assert shown["package"]["content_type"] == "application/zip"
    assert alpha.call("GET", f"/artifacts/murano_packages/{app['id']}/package").content == b"PK\x03\x04app zip"
    found = alpha.call("GET", f"/artifacts/murano_packages?dependencies={link}").json()
    assert [a["id"] for a in found["artifacts"]] == [app["id"]]


def _store_files(server: GlimpseServer) -> set[Path]:
    return {p for p in (server.home.parent / "data" / "stores").rglob("*") if p.is_file()}


def test_image_artifact_stored_once_with_the_image(alpha: Artifacts, server: GlimpseServer) -> None:
    data = hashlib.sha512(b"seed").digest() * 40_000  # 2.5 MB
    images = httpx.Client(base_url=server.url, headers={"X-Auth-Token": server.tokens["alpha"]}, timeout=60)
    try:
        image = images.post(
            "/v2/images", json={"name": "e2e-dedupe", "disk_format": "raw", "container_format": "bare"}
        ).json()
        assert images.put(f"/v2/images/{image['id']}/file", content=data, headers=OCTETS).status_code == 204
        before = _store_files(server)
        art = alpha.create("images", {"name": "e2e-dedupe", "disk_format": "raw", "container_format": "bare"})
        shown = alpha.upload("images", art["id"], "image", data, "application/octet-stream")
        assert shown["image"]["sha256"] == hashlib.sha256(data).hexdigest()
        assert _store_files(server) == before  # the same bytes as the image: no second copy
        assert images.delete(f"/v2/images/{image['id']}").status_code == 204
        assert _store_files(server) == before  # the blob keeps the image's bytes alive
        assert alpha.call("GET", f"/artifacts/images/{art['id']}/image").content == data
    finally:
        images.close()
