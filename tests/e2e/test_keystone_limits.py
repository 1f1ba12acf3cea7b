"""Quotas from Keystone's unified limits, end to end: limits registered and overridden with the `openstack`
CLI as Keystone's system admin, a real `glimpse serve` with ``use_keystone_limits`` reading them with its
service user, and members and readers of real projects hitting them and reading /v2/info/usage.

The registered limits of the ``glance`` service are the test's own: it removes any it finds before and
after, and holds a machine-wide lock (``machine_lock("keystone-limits")``) from before it sets them until
after it removed them, so the other pass of `make test`, running beside this one, waits instead of
replacing or deleting them halfway through.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import openstack.connection
import pytest

from tests import clis
from tests.e2e.test_keystone import (
    KEYSTONE_UP,
    KEYSTONE_URL,
    OPENSTACK,
    USER_PASSWORD,
    KeystoneServer,
    fresh_token,
    keystone_server,
)
from tests.serverproc import machine_lock

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
ADMIN_PASSWORD = "admin"  # scripts/keystone-up's bootstrap admin
LIMITS = """
[DEFAULT]
use_keystone_limits = true

[oslo_limit]
endpoint_id = {endpoint_id}
auth_url = {keystone}
username = glimpse
password = glimpse-service-password
user_domain_name = Default
system_scope = all
"""
REGISTERED = {"image_count_total": 3, "image_size_total": 1, "image_stage_total": 1, "image_count_uploading": 2}


def admin_cli(*args: str) -> str:
    """`openstack ARGS` as Keystone's admin on the system scope (limits are a system admin's to set)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(
        OS_AUTH_URL=f"{KEYSTONE_URL}/v3", OS_IDENTITY_API_VERSION="3", OS_USERNAME="admin",
        OS_PASSWORD=ADMIN_PASSWORD, OS_USER_DOMAIN_NAME="Default", OS_SYSTEM_SCOPE="all",
        OS_REGION_NAME="RegionOne", OS_INTERFACE="public",
    )  # fmt: skip
    done = clis.run([OPENSTACK, *args], env=env, timeout=120)
    assert done.returncode == 0, f"openstack {' '.join(args)}:\n{done.stderr}"
    return done.stdout


def clear_limits() -> None:
    for row in json.loads(admin_cli("limit", "list", "--service", "glance", "-f", "json")):
        admin_cli("limit", "delete", row["ID"])
    for row in json.loads(admin_cli("registered", "limit", "list", "--service", "glance", "-f", "json")):
        admin_cli("registered", "limit", "delete", row["ID"])


@pytest.fixture(scope="module")
def unified_limits() -> Iterator[str]:
    """Registered limits for every project, and alpha's own image_size_total; yields the endpoint id."""
    started = subprocess.run([str(KEYSTONE_UP)], capture_output=True, text=True, timeout=900, check=False)
    assert started.returncode == 0, started.stderr[-4000:]
    with machine_lock("keystone-limits"):
        yield from _registered_limits()


def _registered_limits() -> Iterator[str]:
    endpoint_id = admin_cli(
        "endpoint", "list", "--service", "image", "--interface", "public", "--region", "RegionOne", "-f", "value",
        "-c", "ID",
    ).split()[0]  # fmt: skip
    clear_limits()
    for resource, value in REGISTERED.items():
        admin_cli("registered", "limit", "create", "--service", "glance", "--region", "RegionOne",
                  "--default-limit", str(value), resource)  # fmt: skip
    admin_cli("limit", "create", "--project", "alpha", "--service", "glance", "--region", "RegionOne",
              "--resource-limit", "5", "image_size_total")  # fmt: skip
    try:
        yield endpoint_id
    finally:
        clear_limits()


@pytest.fixture(scope="module")
def limits_server(tmp_path_factory: pytest.TempPathFactory, unified_limits: str) -> Iterator[KeystoneServer]:
    extra = LIMITS.format(endpoint_id=unified_limits, keystone=KEYSTONE_URL)
    with keystone_server(tmp_path_factory, "limits", extra=extra) as state:
        yield state


def call(server: KeystoneServer, user: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    token = fresh_token(user, user.split("-")[0])
    headers = {"X-Auth-Token": token, "accept": "application/json", **kwargs.pop("headers", {})}
    return httpx.request(method, server.url + path, headers=headers, timeout=60, **kwargs)


def create(server: KeystoneServer, user: str) -> httpx.Response:
    return call(server, user, "POST", "/v2/images", json={"disk_format": "raw", "container_format": "bare"})


def test_limits_come_from_keystone(limits_server: KeystoneServer) -> None:
    server = limits_server
    # image_count_total: the registered default of 3 for both projects
    alpha_images = [create(server, "alpha-member") for _ in range(3)]
    assert [r.status_code for r in alpha_images] == [201, 201, 201]
    refused = create(server, "alpha-member")
    assert refused.status_code == 413
    assert "image_count_total limit is 3 images, current usage 3 images, request 1 image" in refused.text
    # image_size_total: alpha's own 5 MiB wins over the registered 1 MiB; beta has the 1 MiB default
    image_id = alpha_images[0].json()["id"]
    put = call(server, "alpha-member", "PUT", f"/v2/images/{image_id}/file", content=os.urandom(2 * MiB),
               headers={"content-type": "application/octet-stream"})  # fmt: skip
    assert put.status_code == 204, put.text
    beta_image = create(server, "beta-member").json()["id"]
    put = call(
        server,
        "beta-member",
        "PUT",
        f"/v2/images/{beta_image}/file",
        content=os.urandom(2 * MiB),
        headers={"content-type": "application/octet-stream", "x-openstack-image-size": str(2 * MiB)},
    )
    assert put.status_code == 413
    assert "image_size_total limit is 1 MiB" in put.text
    # image_stage_total: 1 MiB for everyone; the stream is cut off and the image stays queued
    staged = call(server, "beta-member", "PUT", f"/v2/images/{beta_image}/stage", content=os.urandom(2 * MiB),
                  headers={"content-type": "application/octet-stream"})  # fmt: skip
    assert staged.status_code == 413
    assert "image_stage_total" in staged.text
    assert call(server, "beta-member", "GET", f"/v2/images/{beta_image}").json()["status"] == "queued"


def test_usage_for_member_and_reader_with_openstacksdk_and_http(limits_server: KeystoneServer) -> None:
    server = limits_server
    member = call(server, "alpha-member", "GET", "/v2/info/usage")
    reader = call(server, "alpha-reader", "GET", "/v2/info/usage")
    assert member.status_code == reader.status_code == 200
    assert member.json() == reader.json()
    usage = member.json()["usage"]
    assert usage["image_size_total"]["limit"] == 5
    assert usage["image_count_total"]["limit"] == 3
    assert usage["image_stage_total"] == {"limit": 1, "usage": 0}
    assert usage["image_count_uploading"] == {"limit": 2, "usage": 0}
    conn = openstack.connection.Connection(
        auth_type="password",
        auth={"auth_url": f"{KEYSTONE_URL}/v3", "username": "beta-reader", "password": USER_PASSWORD,
              "project_name": "beta", "user_domain_name": "Default", "project_domain_name": "Default"},
        region_name="RegionOne", interface="public", image_endpoint_override=server.url,
    )  # fmt: skip
    try:
        response = conn.image.get("/info/usage")
        assert response.status_code == 200
        assert response.json()["usage"]["image_size_total"]["limit"] == 1
    finally:
        conn.close()


def test_a_changed_limit_applies_at_once(limits_server: KeystoneServer) -> None:
    server = limits_server
    before = call(server, "alpha-member", "GET", "/v2/info/usage").json()["usage"]["image_count_total"]
    admin_cli("limit", "create", "--project", "alpha", "--service", "glance", "--region", "RegionOne",
              "--resource-limit", str(before["usage"] + 1), "image_count_total")  # fmt: skip
    assert create(server, "alpha-member").status_code == 201
    assert create(server, "alpha-member").status_code == 413
    assert call(server, "alpha-reader", "GET", "/v2/info/usage").json()["usage"]["image_count_total"] == {
        "limit": before["usage"] + 1,
        "usage": before["usage"] + 1,
    }
