"""Heat's place in the Keystone that scripts/keystone-up runs: created when missing, never changed.

Run with the Keystone venv's Python (it has keystoneauth1 and python-keystoneclient):
``heat_accounts.py AUTH_URL ADMIN_PASSWORD HEAT_URL SERVICE_PASSWORD``.

- the service user ``heat`` in project ``service`` with the ``service`` and ``admin`` roles (keystonemiddleware
  in heat-api validates tokens with it, and heat-engine acts through Keystone trusts to it, the trustee);
- the role ``heat_stack_user`` Heat gives the users it makes for its own resources;
- an ``orchestration`` service named ``heat`` with public, internal and admin endpoints at
  ``HEAT_URL/v1/%(project_id)s`` in RegionOne, so clients (openstacksdk, python-heatclient) find it through the
  catalog.
"""

from __future__ import annotations

import sys

from keystone_accounts import REGION, SERVICE_PROJECT, admin_client, ensure_endpoints, ensure_project, ensure_user


def main(auth_url: str, admin_password: str, heat_url: str, service_password: str) -> None:
    ks = admin_client(auth_url, admin_password)
    roles = {role.name: role for role in ks.roles.list()}
    if "heat_stack_user" not in roles:
        roles["heat_stack_user"] = ks.roles.create(name="heat_stack_user")
    project = ensure_project(ks, SERVICE_PROJECT)
    user = ensure_user(ks, "heat", service_password, project)
    for role in ("service", "admin"):
        ks.roles.grant(roles[role], user=user, project=project)
    services = ks.services.list(type="orchestration")
    service = services[0] if services else ks.services.create(name="heat", type="orchestration")
    ensure_endpoints(ks, service, REGION, heat_url + "/v1/%(project_id)s")


if __name__ == "__main__":
    main(*sys.argv[1:5])
