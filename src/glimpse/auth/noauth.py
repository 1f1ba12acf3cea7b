"""Development mode: trust identity headers. Never for production; it says so loudly."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from glimpse.auth.base import split_roles
from glimpse.context import RequestContext

log = logging.getLogger(__name__)


class NoAuth:
    name = "noauth"
    challenge = None

    def __init__(self) -> None:
        log.warning(
            "AUTHENTICATION IS DISABLED (auth=noauth): any caller may claim any identity with X-User-Id, "
            "X-Project-Id and X-Roles. Use this for tests and development only."
        )

    async def authenticate(self, headers: Mapping[str, str]) -> RequestContext:
        project = headers.get("x-project-id") or headers.get("x-tenant-id")
        user = headers.get("x-user-id")
        roles = split_roles(headers.get("x-roles"))
        if project is None and user is None and not roles and "x-identity-status" not in headers:
            # a bare request (e.g. `glance --os-auth-token x`) acts as the admin of project "admin"; one that
            # speaks keystonemiddleware's headers (X-Identity-Status) without an identity is anonymous
            return RequestContext(
                user_id="admin",
                project_id="admin",
                roles=frozenset({"admin", "member", "reader"}),
                auth_method="noauth",
            )
        return RequestContext(
            user_id=user,
            project_id=project,
            roles=roles,
            service_roles=split_roles(headers.get("x-service-roles")),
            domain_id=headers.get("x-domain-id"),
            system_scope=headers.get("openstack-system-scope"),  # keystonemiddleware's header for a system token
            auth_method="noauth",
        )
