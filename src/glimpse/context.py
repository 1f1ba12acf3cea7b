"""The identity and scope of one request, built by an authenticator and passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RequestContext:
    user_id: str | None
    project_id: str | None
    roles: frozenset[str] = field(default_factory=frozenset)
    service_roles: frozenset[str] = field(default_factory=frozenset)
    domain_id: str | None = None
    system_scope: str | None = None
    request_id: str = ""
    auth_method: str = "none"
    # the caller's Keystone token, for services that act as the caller (the key manager); never logged
    auth_token: str | None = field(default=None, repr=False, compare=False)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def all_roles(self) -> frozenset[str]:
        """The user's roles and, when a service token came along, the service's roles."""
        return self.roles | self.service_roles

    def has_role(self, role: str) -> bool:
        return role in self.roles
