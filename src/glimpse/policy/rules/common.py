"""The check strings the rules are composed of, the way Glance composes its defaults, and ``rule()``, which
registers one documented, project-scoped default."""

from __future__ import annotations

from typing import Protocol

from oslo_policy.policy import DocumentedRuleDefault, RuleDefault

PROJECT = ["project"]

ADMIN = "rule:context_is_admin"
DEFAULT = "rule:default"
SERVICE = "rule:service_api"
MANAGER = "rule:project_manager"
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
PROJECT_MANAGER = "role:manager and project_id:%(project_id)s"
_OWN_OR_SHARED_WITH = (
    "project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s "
    "or 'public':%(visibility)s or 'shared':%(visibility)s"
)
ADMIN_OR_PROJECT_MEMBER = f"{ADMIN} or ({PROJECT_MEMBER})"
ADMIN_OR_PROJECT_READER = f"{ADMIN} or ({PROJECT_READER})"
ADMIN_OR_READER_OF_VISIBLE_IMAGE = f"{ADMIN} or (role:reader and ({_OWN_OR_SHARED_WITH}))"
ADMIN_OR_MEMBER_OF_VISIBLE_IMAGE = f"{ADMIN} or (role:member and ({_OWN_OR_SHARED_WITH}))"
ADMIN_OR_PROJECT_MEMBER_AS_OWNER = f"{ADMIN} or ({PROJECT_MEMBER} and project_id:%(owner)s)"
ADMIN_OR_READER_OF_OWNER_OR_MEMBER = (
    f"{ADMIN} or role:reader and (project_id:%(project_id)s or project_id:%(member_id)s)"
)
ADMIN_OR_THE_MEMBER = f"{ADMIN} or (role:member and project_id:%(member_id)s)"
SERVICE_OR_PROJECT_MEMBER_AS_OWNER = f"{SERVICE} or ({PROJECT_MEMBER} and project_id:%(owner)s)"
ADMIN_OR_SERVICE = f"{ADMIN} or {SERVICE}"
ADMIN_OR_PROJECT_MANAGER = f"{ADMIN} or {MANAGER}"

IMAGE = "/v2/images/{image_id}"


class Resource(Protocol):
    """A module holding the rules of one resource."""

    def rules(self) -> list[RuleDefault]: ...


def rule(name: str, check: str, description: str, *operations: tuple[str, str]) -> DocumentedRuleDefault:
    """A project-scoped default guarding ``operations`` (method, path)."""
    return DocumentedRuleDefault(
        name=name,
        check_str=check,
        description=description,
        operations=[{"method": method, "path": path} for method, path in operations],
        scope_types=PROJECT,
    )
