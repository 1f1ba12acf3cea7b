"""The test accounts on the Keystone that scripts/keystone-up runs: created when missing, never changed.

Run with the Keystone venv's Python (it has keystoneauth1 and python-keystoneclient):
``keystone_accounts.py AUTH_URL ADMIN_PASSWORD``. tests/e2e/keystone.py names the same accounts.

- projects ``alpha`` and ``beta``, each with users ``<project>-reader``, ``-member`` and ``-manager``
  holding that role (Keystone's implied roles give manager > member > reader);
- project ``service`` with the service user ``glimpse`` holding the ``service`` role, and ``reader`` on the
  system scope (to read the unified limits of every project);
- an ``image`` service with endpoints at http://127.0.0.1:9292 (where `make run` serves) in RegionOne, and in
  regions of their own the servers the interop suites test (tests/interop/README.md): ``InteropGlimpse`` at
  http://127.0.0.1:9393 (scripts/glimpse-interop-up) and ``InteropGlance`` at http://127.0.0.1:9496 (Glance 33,
  scripts/glance-up), so Tempest finds either through the catalog without touching RegionOne's endpoint.
"""

from __future__ import annotations

import sys
from typing import Any

from keystoneauth1 import session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client

DOMAIN = "default"
USER_PASSWORD = "glimpse-test-password"
SERVICE_USER, SERVICE_PASSWORD, SERVICE_PROJECT = "glimpse", "glimpse-service-password", "service"
PROJECTS = ("alpha", "beta")
ROLES = ("reader", "member", "manager")
IMAGE_URL = "http://127.0.0.1:9292"
REGION = "RegionOne"
INTEROP_ENDPOINTS = {"InteropGlimpse": "http://127.0.0.1:9393", "InteropGlance": "http://127.0.0.1:9496"}


def ensure_project(ks: Any, name: str) -> Any:
    found = ks.projects.list(name=name, domain=DOMAIN)
    return found[0] if found else ks.projects.create(name=name, domain=DOMAIN, description="Glimpse tests")


def ensure_user(ks: Any, name: str, password: str, project: Any) -> Any:
    found = ks.users.list(name=name, domain=DOMAIN)
    if found:
        return found[0]
    return ks.users.create(name=name, domain=DOMAIN, password=password, default_project=project)


def admin_client(auth_url: str, admin_password: str) -> Any:
    """keystoneclient signed in as the bootstrap admin."""
    auth = v3.Password(
        auth_url=auth_url,
        username="admin",
        password=admin_password,
        project_name="admin",
        user_domain_id=DOMAIN,
        project_domain_id=DOMAIN,
    )
    return client.Client(session=session.Session(auth=auth, timeout=30))


def main(auth_url: str, admin_password: str) -> None:
    ks = admin_client(auth_url, admin_password)
    roles = {role.name: role for role in ks.roles.list()}
    for project_name in PROJECTS:
        project = ensure_project(ks, project_name)
        for role_name in ROLES:
            user = ensure_user(ks, f"{project_name}-{role_name}", USER_PASSWORD, project)
            ks.roles.grant(roles[role_name], user=user, project=project)
    service_project = ensure_project(ks, SERVICE_PROJECT)
    service_user = ensure_user(ks, SERVICE_USER, SERVICE_PASSWORD, service_project)
    ks.roles.grant(roles["service"], user=service_user, project=service_project)
    # reading every project's unified limits (use_keystone_limits) takes a reader on the system scope
    ks.roles.grant(roles["reader"], user=service_user, system="all")

    services = ks.services.list(type="image")
    image = services[0] if services else ks.services.create(name="glance", type="image", description="Glimpse")
    ensure_endpoints(ks, image, REGION, IMAGE_URL)
    regions = {region.id for region in ks.regions.list()}
    for region, url in INTEROP_ENDPOINTS.items():
        if region not in regions:
            ks.regions.create(id=region, description="Glimpse interop suites")
        ensure_endpoints(ks, image, region, url)


def ensure_endpoints(ks: Any, service: Any, region: str, url: str) -> None:
    have = {endpoint.interface: endpoint for endpoint in ks.endpoints.list(service=service, region=region)}
    for interface in ("public", "internal", "admin"):
        if interface not in have:
            ks.endpoints.create(service=service, url=url, interface=interface, region=region)
        elif have[interface].url != url:  # a server moved (Glance's reference left :9494 to the artifacts API)
            ks.endpoints.update(have[interface], url=url)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
