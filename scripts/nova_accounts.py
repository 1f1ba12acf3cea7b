"""Nova's and Placement's place in the Keystone that scripts/keystone-up runs, and the flavors of the tests: created
when missing, never changed.

Run with the Keystone venv's Python (it has keystoneauth1 and python-keystoneclient):

- ``nova_accounts.py register AUTH_URL ADMIN_PASSWORD NOVA_URL PLACEMENT_URL SERVICE_PASSWORD``: the service
  users ``nova`` and ``placement`` in project ``service`` with the ``service`` and ``admin`` roles
  (keystonemiddleware in nova-api and placement-api validates tokens with them; Nova's services call Placement
  as ``nova``); a ``compute`` service named ``nova`` with endpoints at ``NOVA_URL/v2.1`` and a ``placement``
  service at ``PLACEMENT_URL``, public, internal and admin, in RegionOne, so clients (openstacksdk) and Nova
  itself find them through the catalog.
- ``nova_accounts.py flavors AUTH_URL ADMIN_PASSWORD``: the public flavors of ``FLAVORS`` through the compute
  API, as the bootstrap admin.
"""

from __future__ import annotations

import sys

from keystone_accounts import (
    DOMAIN,
    REGION,
    SERVICE_PROJECT,
    admin_client,
    ensure_endpoints,
    ensure_project,
    ensure_user,
)
from keystoneauth1 import session
from keystoneauth1.identity import v3

FLAVORS = {  # name: (vCPUs, RAM in MiB, root disk in GiB); a root disk, since only an admin boots a 0-disk flavor
    "glimpse.tiny": (1, 128, 1),
    "glimpse.small": (1, 512, 5),
}


def register(auth_url: str, admin_password: str, nova_url: str, placement_url: str, service_password: str) -> None:
    ks = admin_client(auth_url, admin_password)
    roles = {role.name: role for role in ks.roles.list()}
    project = ensure_project(ks, SERVICE_PROJECT)
    for name in ("nova", "placement"):
        user = ensure_user(ks, name, service_password, project)
        for role in ("service", "admin"):
            ks.roles.grant(roles[role], user=user, project=project)
    for kind, name, url in (("compute", "nova", nova_url + "/v2.1"), ("placement", "placement", placement_url)):
        services = ks.services.list(type=kind)
        service = services[0] if services else ks.services.create(name=name, type=kind)
        ensure_endpoints(ks, service, REGION, url)


def flavors(auth_url: str, admin_password: str) -> None:
    auth = v3.Password(auth_url=auth_url, username="admin", password=admin_password, project_name="admin",
                       user_domain_id=DOMAIN, project_domain_id=DOMAIN)  # fmt: skip
    nova = session.Session(auth=auth, timeout=30)
    where = {"service_type": "compute", "interface": "public", "region_name": REGION}
    have = {flavor["name"] for flavor in nova.get("/flavors", endpoint_filter=where).json()["flavors"]}
    for name, (vcpus, ram, disk) in FLAVORS.items():
        if name not in have:
            flavor = {"name": name, "vcpus": vcpus, "ram": ram, "disk": disk, "os-flavor-access:is_public": True}
            body = {"flavor": flavor}
            nova.post("/flavors", json=body, endpoint_filter=where)


if __name__ == "__main__":
    if sys.argv[1] == "register":
        register(*sys.argv[2:7])
    elif sys.argv[1] == "flavors":
        flavors(*sys.argv[2:4])
    else:
        sys.exit(f"unknown command {sys.argv[1]!r}: register or flavors")
