"""What Glimpse keeps of a token Keystone validated, read from Keystone's answer."""

from __future__ import annotations

import json
from dataclasses import dataclass

from keystoneauth1 import access


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What Glimpse keeps of a validated token."""

    user_id: str
    project_id: str | None
    domain_id: str | None  # the scope of a domain-scoped token
    roles: frozenset[str]
    system_scope: str | None
    expires_at: float  # seconds since the epoch

    def to_json(self) -> bytes:
        data = {
            "user_id": self.user_id,
            "project_id": self.project_id,
            "domain_id": self.domain_id,
            "roles": sorted(self.roles),
            "system_scope": self.system_scope,
            "expires_at": self.expires_at,
        }
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> TokenInfo:
        data = json.loads(raw)
        return cls(
            user_id=str(data["user_id"]),
            project_id=data["project_id"],
            domain_id=data["domain_id"],
            roles=frozenset(str(role) for role in data["roles"]),
            system_scope=data["system_scope"],
            expires_at=float(data["expires_at"]),
        )


def token_info(ref: access.AccessInfo) -> TokenInfo:
    """The identity a Keystone v3 token body describes."""
    if ref.user_id is None or ref.expires is None:
        raise ValueError("the token body names no user or no expiry")
    system = ref.system if isinstance(ref, access.AccessInfoV3) else None
    return TokenInfo(
        user_id=ref.user_id,
        project_id=ref.project_id,
        domain_id=ref.domain_id,
        roles=frozenset(role.lower() for role in ref.role_names or ()),
        system_scope="all" if system and system.get("all") else None,
        expires_at=ref.expires.timestamp(),
    )
