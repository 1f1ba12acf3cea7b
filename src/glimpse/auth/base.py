"""The authenticator seam: headers in, RequestContext out (or Unauthorized)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from glimpse.context import RequestContext
from glimpse.metrics import Metrics
from glimpse.settings import Settings

log = logging.getLogger(__name__)


class Authenticator(Protocol):
    name: str

    async def authenticate(self, headers: Mapping[str, str]) -> RequestContext:
        """Return the caller's context; raise glimpse.errors.Unauthorized when there is none (or
        glimpse.errors.IdentityUnavailable when the identity service cannot tell)."""
        ...

    @property
    def challenge(self) -> str | None:
        """The value of ``WWW-Authenticate`` sent with a 401, if any."""
        ...


def split_roles(value: str | None) -> frozenset[str]:
    return frozenset(role.strip().lower() for role in (value or "").split(",") if role.strip())


def build_authenticator(settings: Settings, metrics: Metrics | None = None) -> Authenticator:
    if settings.auth == "noauth":
        from glimpse.auth.noauth import NoAuth

        return NoAuth()
    if settings.auth == "tokens":
        from glimpse.auth.tokens import TokenFileAuth

        assert settings.token_file is not None
        return TokenFileAuth(settings.token_file)
    if settings.auth == "keystone":
        from glimpse.auth.keystone import KeystoneAuth

        return KeystoneAuth(settings.keystone_authtoken, metrics)
    raise ValueError(f"auth mode {settings.auth!r} is not available yet")
