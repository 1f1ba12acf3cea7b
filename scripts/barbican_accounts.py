"""Barbican's place in the Keystone that scripts/keystone-up runs: created when missing, never changed.

Run with the Keystone venv's Python (it has keystoneauth1 and python-keystoneclient):
``barbican_accounts.py AUTH_URL ADMIN_PASSWORD BARBICAN_URL SERVICE_PASSWORD``.

- the service user ``barbican`` in project ``service`` with the ``service`` role (keystonemiddleware in
  Barbican validates tokens with it);
- a ``key-manager`` service named ``barbican`` with public, internal and admin endpoints at BARBICAN_URL in
  RegionOne, so clients (python-barbicanclient, openstacksdk, castellan) find it through the catalog.
"""

from __future__ import annotations

import sys

from keystone_accounts import REGION, SERVICE_PROJECT, admin_client, ensure_endpoints, ensure_project, ensure_user


def main(auth_url: str, admin_password: str, barbican_url: str, service_password: str) -> None:
    ks = admin_client(auth_url, admin_password)
    roles = {role.name: role for role in ks.roles.list()}
    project = ensure_project(ks, SERVICE_PROJECT)
    user = ensure_user(ks, "barbican", service_password, project)
    ks.roles.grant(roles["service"], user=user, project=project)
    services = ks.services.list(type="key-manager")
    service = services[0] if services else ks.services.create(name="barbican", type="key-manager")
    ensure_endpoints(ks, service, REGION, barbican_url)


if __name__ == "__main__":
    main(*sys.argv[1:5])
