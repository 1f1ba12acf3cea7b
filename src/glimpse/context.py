"""The identity and scope of one request, built by an authenticator and passed explicitly."""

from __future__ import annotations

from contextvars import ContextVar
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

    @property
    def caller(self) -> str:
        """Who is asking, for read-your-writes: the user in the scope of the token."""
        return f"{self.user_id or ''}@{self.project_id or self.domain_id or self.system_scope or ''}"


@dataclass(slots=True)
class Caller:
    """Who the unit of work in progress acts for, for read-your-writes with a read replica: the API sets one
    around each request. The database remembers where in the primary's log a caller's changes end (by
    ``key``) and reads for it from the replica only once the replica has replayed that far. ``seen`` is such a
    position the client brought back (from a change made through another process), ``wrote`` where this
    request's last change ends (for the client to bring back)."""

    key: str  # RequestContext.caller
    seen: int = 0
    wrote: int = 0


# None outside a request (the task worker)
current_caller: ContextVar[Caller | None] = ContextVar("glimpse_current_caller", default=None)
