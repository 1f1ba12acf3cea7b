"""Metadefs with real Keystone tokens: the secure-RBAC defaults as Glance's RBAC tests expect them (admin
writes everything; readers and members read their own project's and public namespaces; another project's
private namespace is 404 for them, a visible one they may not change is 403)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import clis
from tests.e2e.test_keystone import (
    KEYSTONE_URL,
    OPENSTACK,
    USER_PASSWORD,
    KeystoneServer,
    fresh_token,
    keystone,
    ks_server,
    password_session,
)

pytestmark = pytest.mark.e2e

__all__ = ["keystone", "ks_server"]  # the fixtures this module reuses

NS = "/v2/metadefs/namespaces"


@pytest.fixture(scope="module")
def tokens(ks_server: KeystoneServer) -> dict[str, str]:
    users = {"admin": ("admin", "admin", "admin")}
    users.update({f"{p}-{r}": (f"{p}-{r}", p, None) for p in ("alpha", "beta") for r in ("reader", "member")})
    out = {}
    for key, (user, project, password) in users.items():
        out[key] = fresh_token(user, project, password) if password else fresh_token(user, project)
    return out


@pytest.fixture(scope="module")
def projects() -> dict[str, str]:
    return {p: str(password_session(f"{p}-reader", p).get_project_id()) for p in ("alpha", "beta")}


@pytest.fixture
def http(ks_server: KeystoneServer, tokens: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ks_server.url, timeout=30) as client:
        yield client


def as_(tokens: dict[str, str], user: str) -> dict[str, str]:
    return {"X-Auth-Token": tokens[user]}


def test_metadef_rbac_with_keystone_tokens(
    http: httpx.Client, tokens: dict[str, str], projects: dict[str, str], unique: str
) -> None:
    admin = as_(tokens, "admin")
    spaces = {
        f"KS::AlphaPrivate{unique}": ("alpha", "private"),
        f"KS::BetaPrivate{unique}": ("beta", "private"),
        f"KS::BetaPublic{unique}": ("beta", "public"),
    }
    for name, (project, visibility) in spaces.items():
        body = {"namespace": name, "owner": projects[project], "visibility": visibility,
                "objects": [{"name": "o"}], "tags": [{"name": "t"}]}  # fmt: skip
        assert http.post(NS, json=body, headers=admin).status_code == 201
    try:
        for user in ("alpha-reader", "alpha-member"):
            headers = as_(tokens, user)
            listed = {
                n["namespace"] for n in http.get(NS, params={"limit": 1000}, headers=headers).json()["namespaces"]
            }
            assert f"KS::AlphaPrivate{unique}" in listed
            assert f"KS::BetaPublic{unique}" in listed
            assert f"KS::BetaPrivate{unique}" not in listed
            for name, (project, visibility) in spaces.items():
                visible = project == "alpha" or visibility == "public"
                assert http.get(f"{NS}/{name}", headers=headers).status_code == (200 if visible else 404)
                assert http.get(f"{NS}/{name}/objects/o", headers=headers).status_code == (200 if visible else 404)
                refused = 403 if visible else 404
                assert http.post(f"{NS}/{name}/tags/new", headers=headers).status_code == refused
                assert http.put(f"{NS}/{name}", json={"namespace": name}, headers=headers).status_code == refused
                assert http.delete(f"{NS}/{name}", headers=headers).status_code == refused
            assert http.post(NS, json={"namespace": f"KS::Mine{unique}"}, headers=headers).status_code == 403
        assert http.get(f"{NS}/KS::BetaPrivate{unique}", headers=as_(tokens, "beta-reader")).status_code == 200
        assert http.get("/v2/metadefs/resource_types", headers=as_(tokens, "beta-reader")).status_code == 200
    finally:
        for name in spaces:
            assert http.delete(f"{NS}/{name}", headers=admin).status_code == 204


def osc(server: KeystoneServer, user: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`openstack ARGS` as USER, signed in with a password (the bootstrap admin's is ``admin``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(
        HOME=str(server.home), XDG_CACHE_HOME=str(server.home / ".cache"), OS_AUTH_URL=f"{KEYSTONE_URL}/v3",
        OS_IDENTITY_API_VERSION="3", OS_USERNAME=user, OS_PASSWORD="admin" if user == "admin" else USER_PASSWORD,
        OS_PROJECT_NAME=user.split("-")[0], OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default",
        OS_REGION_NAME="RegionOne", OS_INTERFACE="public", OS_IMAGE_ENDPOINT_OVERRIDE=server.url,
    )  # fmt: skip
    result = clis.run([OPENSTACK, *args], env=env, timeout=120)
    if check and result.returncode != 0:
        pytest.fail(f"openstack {' '.join(args)}: {result.returncode}\n{result.stdout}\n{result.stderr}", pytrace=False)
    return result


def osc_json(server: KeystoneServer, user: str, *args: str) -> Any:
    return json.loads(osc(server, user, "image", "metadef", *args, "-f", "json").stdout)


def test_openstack_image_metadef_commands(ks_server: KeystoneServer, unique: str) -> None:
    ns = f"KS::Osc{unique}"
    created = osc_json(ks_server, "admin", "namespace", "create", ns, "--public", "--description", "made by osc")
    assert created["namespace"] == ns
    assert ns in [n["namespace"] for n in osc_json(ks_server, "alpha-reader", "namespace", "list")]
    # `set` sends a replace (PUT): what it leaves out takes the defaults again, visibility `private`, as in Glance
    osc(ks_server, "admin", "image", "metadef", "namespace", "set", ns, "--display-name", "OSC")
    assert osc_json(ks_server, "admin", "namespace", "show", ns)["visibility"] == "private"
    osc(ks_server, "admin", "image", "metadef", "namespace", "set", ns, "--display-name", "OSC", "--public")
    assert osc_json(ks_server, "alpha-reader", "namespace", "show", ns)["display_name"] == "OSC"
    assert "OS::Glance::Image" in [r["Name"] for r in osc_json(ks_server, "alpha-reader", "resource", "type", "list")]

    osc_json(ks_server, "admin", "resource", "type", "association", "create", ns, "OS::Nova::Server")
    listed = osc_json(ks_server, "alpha-reader", "resource", "type", "association", "list", ns)
    assert [a["Name"] for a in listed] == ["OS::Nova::Server"]

    prop = osc_json(ks_server, "admin", "property", "create", ns, "--name", "cores", "--title", "Cores", "--type",
                    "integer", "--schema", '{"minimum": 1}')  # fmt: skip
    assert prop["name"] == "cores"
    assert [p["name"] for p in osc_json(ks_server, "alpha-reader", "property", "list", ns)] == ["cores"]
    osc(ks_server, "admin", "image", "metadef", "property", "set", ns, "cores", "--title", "vCPU cores")
    assert osc_json(ks_server, "alpha-reader", "property", "show", ns, "cores")["title"] == "vCPU cores"

    osc_json(ks_server, "admin", "object", "create", "--namespace", ns, "Thing")
    assert [o["name"] for o in osc_json(ks_server, "alpha-reader", "object", "list", ns)] == ["Thing"]
    osc(ks_server, "admin", "image", "metadef", "object", "update", ns, "Thing", "--name", "Widget")
    assert osc_json(ks_server, "alpha-reader", "object", "show", ns, "Widget")["name"] == "Widget"

    refused = osc(ks_server, "alpha-member", "image", "metadef", "property", "delete", ns, "cores", check=False)
    assert refused.returncode != 0
    assert "403" in refused.stderr
    osc(ks_server, "admin", "image", "metadef", "object", "delete", ns, "Widget")
    osc(ks_server, "admin", "image", "metadef", "property", "delete", ns, "cores")
    osc(ks_server, "admin", "image", "metadef", "resource", "type", "association", "delete", ns, "OS::Nova::Server")
    osc(ks_server, "admin", "image", "metadef", "namespace", "delete", ns)
    gone = osc(ks_server, "alpha-reader", "image", "metadef", "namespace", "show", ns, check=False)
    assert gone.returncode != 0
