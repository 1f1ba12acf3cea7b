"""Metadefs with real Keystone tokens: the secure-RBAC defaults as Glance's RBAC tests expect them (admin
writes everything; readers and members read their own project's and public namespaces; another project's
private namespace is 404 for them, a visible one they may not change is 403)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.test_keystone import KeystoneServer, fresh_token, keystone, ks_server, password_session

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
