"""The key manager: the certificates (and keys) images refer to by UUID, fetched for the user who asked, and
the key-encryption keys of encryption at rest, fetched as Glimpse's service user (``ServiceCredentials``).

``KeyManager`` is the protocol the services use; ``keys.barbican.CastellanKeyManager`` is the driver, which
speaks to Barbican through castellan (docs/architecture.md says why). Every call is made with the caller's
credentials (``Credentials``, from the request's Keystone token): Barbican decides, by its own policy, whether
that user may read the secret. Failures are the service's: ``KeyManagerUnavailable`` (503, the key manager or
Keystone cannot be reached) or ``KeyManagerRefused`` (400, no such secret, not readable, not a certificate).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from glimpse.context import RequestContext
from glimpse.errors import KeyManagerRefused
from glimpse.settings import Settings


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who the key manager is asked for: a Keystone token and the project it is scoped to."""

    token: str = field(repr=False)
    project_id: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceCredentials:
    """Glimpse's own service user (``[keystone_authtoken]``): encryption at rest reads the key-encryption keys
    as it, whoever's data is written or read, in a request or in a background task alike."""

    auth_url: str
    username: str
    password: str = field(repr=False)
    project_name: str
    user_domain_name: str | None = None
    user_domain_id: str | None = None
    project_domain_name: str | None = None
    project_domain_id: str | None = None


def credentials_of(ctx: RequestContext) -> Credentials:
    """The request's credentials for the key manager; KeyManagerRefused when it carries no Keystone token."""
    if not ctx.auth_token:
        raise KeyManagerRefused(
            "the key manager is asked with the caller's Keystone token, and this request has none "
            "(Glimpse runs without Keystone authentication)"
        )
    return Credentials(token=ctx.auth_token, project_id=ctx.project_id)


@dataclass(frozen=True, slots=True)
class Consumer:
    """Who uses a secret, as Barbican's consumer API records it (an image: service and type ``image``)."""

    resource_id: str
    service: str = "image"
    resource_type: str = "image"

    def as_dict(self) -> dict[str, str]:
        return {"service": self.service, "resource_type": self.resource_type, "resource_id": self.resource_id}


class KeyManager(Protocol):
    async def certificate(self, credentials: Credentials, uuid: str) -> bytes:
        """The X.509 certificate stored under ``uuid``, DER-encoded."""
        ...

    async def symmetric_key(self, credentials: Credentials | ServiceCredentials, uuid: str) -> bytes:
        """The symmetric key stored under ``uuid`` (an AES key: 16, 24 or 32 bytes)."""
        ...

    async def add_consumer(self, credentials: Credentials, uuid: str, consumer: Consumer) -> None:
        """Record ``consumer`` as a user of the secret ``uuid`` (again: no change)."""
        ...

    async def remove_consumer(self, credentials: Credentials, uuid: str, consumer: Consumer) -> None:
        """Forget ``consumer`` as a user of the secret ``uuid``."""
        ...

    async def delete(self, credentials: Credentials, uuid: str) -> bool:
        """Delete the secret ``uuid`` unless it still has consumers: whether it was deleted."""
        ...


class NoKeyManager:
    """``[key_manager] backend = none``: every request that needs a key manager's data is refused; there is
    nobody to tell about consumers, and no secret Glimpse could delete."""

    async def certificate(self, credentials: Credentials, uuid: str) -> bytes:
        raise KeyManagerRefused("no key manager is configured ([key_manager] backend = none)")

    async def symmetric_key(self, credentials: Credentials | ServiceCredentials, uuid: str) -> bytes:
        raise KeyManagerRefused("no key manager is configured ([key_manager] backend = none)")

    async def add_consumer(self, credentials: Credentials, uuid: str, consumer: Consumer) -> None:
        return None

    async def remove_consumer(self, credentials: Credentials, uuid: str, consumer: Consumer) -> None:
        return None

    async def delete(self, credentials: Credentials, uuid: str) -> bool:
        return False


class OnFirstUse:
    """A key manager built when it is first used: Barbican's driver imports castellan, python-barbicanclient,
    oslo.log and cryptography (about 14 MiB of a server's RSS), which a server that never sees a signed or
    encrypted image has no use for."""

    def __init__(self, build: Callable[[], KeyManager]) -> None:
        self._build = build
        self._manager: KeyManager | None = None

    @property
    def manager(self) -> KeyManager:
        if self._manager is None:
            self._manager = self._build()
        return self._manager

    async def certificate(self, credentials: Credentials, uuid: str) -> bytes:
        return await self.manager.certificate(credentials, uuid)

    async def symmetric_key(self, credentials: Credentials | ServiceCredentials, uuid: str) -> bytes:
        return await self.manager.symmetric_key(credentials, uuid)

    async def add_consumer(self, credentials: Credentials, uuid: str, consumer: Consumer) -> None:
        await self.manager.add_consumer(credentials, uuid, consumer)

    async def remove_consumer(self, credentials: Credentials, uuid: str, consumer: Consumer) -> None:
        await self.manager.remove_consumer(credentials, uuid, consumer)

    async def delete(self, credentials: Credentials, uuid: str) -> bool:
        return await self.manager.delete(credentials, uuid)


def build_key_manager(settings: Settings) -> KeyManager:
    """The configured key manager (castellan is imported when Barbican is first used)."""
    if settings.key_manager_backend == "none":
        return NoKeyManager()
    auth_url = settings.barbican_auth_endpoint or settings.keystone_authtoken.auth_url

    def castellan() -> KeyManager:
        from glimpse.keys.barbican import CastellanKeyManager

        return CastellanKeyManager(
            auth_url=auth_url, endpoint=settings.barbican_endpoint, verify_ssl=settings.barbican_verify_ssl
        )

    return OnFirstUse(castellan)


def service_credentials(settings: Settings) -> ServiceCredentials:
    """Glimpse's service user, from ``[keystone_authtoken]`` (the settings check it is complete when a store
    encrypts at rest)."""
    auth = settings.keystone_authtoken
    return ServiceCredentials(
        auth_url=settings.barbican_auth_endpoint or auth.auth_url,
        username=auth.username,
        password=auth.password.get_secret_value() if auth.password is not None else "",
        project_name=auth.project_name,
        user_domain_name=auth.user_domain_name,
        user_domain_id=auth.user_domain_id,
        project_domain_name=auth.project_domain_name,
        project_domain_id=auth.project_domain_id,
    )
