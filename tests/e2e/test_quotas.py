"""Quotas on a real `glimpse serve`: limits set with `glimpse quota set`, read with `glimpse quota show` and
GET /v2/info/usage, and 20 concurrent uploads against a nearly full quota that cannot together pass it."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import GlimpseServer, create_tokens, launch
from tests.serverproc import GLIMPSE, new_database, server_env, stop

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
UPLOADS = 20


class QuotaServer(GlimpseServer):
    env: dict[str, str]


@pytest.fixture(scope="module")
def quota_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QuotaServer]:
    root = tmp_path_factory.mktemp("e2e-quota-server")
    home = root / "home"
    home.mkdir()
    with new_database(root, prefix="glimpse_e2e_quota") as database_url:
        env = server_env(root / "data", database_url, home)
        state = QuotaServer(url="", tokens=create_tokens(env, ("alpha", "beta")), log_file=root / "server.log",
                            home=home)  # fmt: skip
        state.env = env
        try:
            launch(state, env)
            yield state
        finally:
            if state.process is not None:
                stop(state.process)


def glimpse(server: QuotaServer, *args: str) -> str:
    done = subprocess.run([GLIMPSE, *args], env=server.env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def headers(server: QuotaServer, project: str, **extra: str) -> dict[str, str]:
    return {"X-Auth-Token": server.tokens[project], **extra}


def create(client: httpx.Client, server: QuotaServer, project: str) -> str:
    response = client.post(
        "/v2/images", json={"disk_format": "raw", "container_format": "bare"}, headers=headers(server, project)
    )
    assert response.status_code == 201, response.text
    image_id: str = response.json()["id"]
    return image_id


def store_files(server: QuotaServer) -> list[Path]:
    datadir = Path(server.env["GLIMPSE_DATA_DIR"]) / "stores" / "local"
    return [path for path in datadir.iterdir() if path.is_file()] if datadir.exists() else []


def race(server: QuotaServer, project: str, *, declared: bool) -> list[tuple[str, int, str]]:
    """UPLOADS concurrent 1 MiB uploads by ``project``: (image id, status code, body) of each."""
    data = os.urandom(MiB)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        images = [create(client, server, project) for _ in range(UPLOADS)]

    def upload(image_id: str) -> tuple[str, int, str]:
        extra = {"content-type": "application/octet-stream"}
        if declared:
            extra["x-openstack-image-size"] = str(len(data))
        body: Any = data if declared else iter([data[i : i + 65536] for i in range(0, len(data), 65536)])
        with httpx.Client(base_url=server.url, timeout=60) as client:
            url = f"/v2/images/{image_id}/file"
            response = client.put(url, content=body, headers=headers(server, project, **extra))
        return image_id, response.status_code, response.text

    with ThreadPoolExecutor(UPLOADS) as pool:
        return list(pool.map(upload, images))


def test_concurrent_uploads_cannot_pass_a_nearly_full_quota(quota_server: QuotaServer) -> None:
    server = quota_server
    glimpse(server, "quota", "set", "--project", "alpha", "image_size_total=12")
    # 2 MiB already used: 10 MiB of room for twenty uploads of 1 MiB that say their size
    with httpx.Client(base_url=server.url, timeout=60) as client:
        first = create(client, server, "alpha")
        put = client.put(
            f"/v2/images/{first}/file", content=os.urandom(2 * MiB),
            headers=headers(server, "alpha", **{"content-type": "application/octet-stream"}),
        )  # fmt: skip
        assert put.status_code == 204, put.text
    results = race(server, "alpha", declared=True)
    codes = sorted(code for _, code, _ in results)
    assert codes == [204] * 10 + [413] * 10, codes
    assert all("image_size_total" in text for _, code, text in results if code == 413)
    shown = json.loads(glimpse(server, "quota", "show", "--project", "alpha"))
    assert shown["usage"]["image_size_total"] == {"limit": 12, "usage": 12}
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for image_id, code, _ in results:
            status = client.get(f"/v2/images/{image_id}", headers=headers(server, "alpha")).json()["status"]
            assert status == ("active" if code == 204 else "queued")
        usage = client.get("/v2/info/usage", headers=headers(server, "alpha")).json()["usage"]
    assert usage["image_size_total"] == {"limit": 12, "usage": 12}
    assert usage["image_count_uploading"]["usage"] == 0


def test_concurrent_streams_of_unknown_size_are_cut_off_at_the_limit(quota_server: QuotaServer) -> None:
    server = quota_server
    glimpse(server, "quota", "set", "--project", "beta", "image_size_total=10")
    before = len(store_files(server))
    results = race(server, "beta", declared=False)
    done = [image_id for image_id, code, _ in results if code == 204]
    refused = [(code, text) for _, code, text in results if code != 204]
    assert 1 <= len(done) <= 10, results
    assert all(code == 413 and "image_size_total" in text for code, text in refused)
    # only the finished uploads left data behind, and together they stay within the limit
    assert len(store_files(server)) == before + len(done)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        usage = client.get("/v2/info/usage", headers=headers(server, "beta")).json()["usage"]
    assert usage["image_size_total"]["usage"] == len(done) <= 10
