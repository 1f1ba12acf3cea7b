"""The Barbican driver, through castellan (the key-manager library Nova, Cinder and Glance share).

castellan's calls block (python-barbicanclient over keystoneauth1), so each runs in a worker thread. The
caller's token becomes castellan's ``KeystoneToken`` credential: castellan rescopes it at Keystone, finds
Barbican in the catalog (or at ``[barbican] barbican_endpoint``) and reads the secret as that user.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from barbicanclient import exceptions as barbican_errors  # type: ignore[import-untyped]
from castellan import options as castellan_options
from castellan.common import exception as castellan_errors
from castellan.common.credentials import keystone_password, keystone_token
from castellan.common.objects import symmetric_key, x_509
from castellan.key_manager import barbican_key_manager
from keystoneauth1 import exceptions as ks_errors
from oslo_config import cfg

from glimpse.errors import KeyManagerRefused, KeyManagerUnavailable
from glimpse.keys import Consumer, Credentials, ServiceCredentials

log = logging.getLogger(__name__)
# castellan and python-barbicanclient log every refusal (a missing secret, a 403) at ERROR; what matters of
# them reaches the client as a 400 or a 503, and Glimpse logs an unreachable key manager itself
for _name in ("castellan.key_manager.barbican_key_manager", "barbicanclient.client"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

# what makes a failure the key manager's (or Keystone's) rather than the request's: nothing answered,
# nothing answered in time, a server error, or no key-manager endpoint in the catalog
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    ks_errors.ConnectFailure,
    ks_errors.ConnectTimeout,
    ks_errors.RequestTimeout,
    ks_errors.EndpointNotFound,
    ks_errors.HttpServerError,
    ConnectionError,
    TimeoutError,
)


def _has_consumers(exc: BaseException | None) -> bool:
    """Whether Barbican refused a deletion because the secret still has consumers."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, barbican_errors.SecretHasConsumers):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` or anything it was raised from means the service could not be reached."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _UNAVAILABLE):
            return True
        status = getattr(current, "status_code", None) or getattr(current, "http_status", None)
        if isinstance(status, int) and status >= 500:
            return True
        current = current.__cause__ or current.__context__
    return False


class CastellanKeyManager:
    def __init__(self, *, auth_url: str, endpoint: str | None = None, verify_ssl: bool = True) -> None:
        self.auth_url = auth_url
        conf = cfg.ConfigOpts()
        castellan_options.set_defaults(
            conf,
            backend="barbican",
            barbican_endpoint=endpoint or None,
            auth_endpoint=auth_url or None,
            verify_ssl=verify_ssl,
        )
        conf([], project="glimpse", default_config_files=[])
        self._manager = barbican_key_manager.BarbicanKeyManager(conf)

    async def certificate(self, credentials: Credentials, uuid: str) -> bytes:
        found = await self._get(credentials, uuid)
        if not isinstance(found, x_509.X509):
            raise KeyManagerRefused(f"the secret {uuid} in the key manager is not a certificate")
        encoded = found.get_encoded()
        if not encoded:
            raise KeyManagerRefused(f"the certificate {uuid} in the key manager is empty")
        return encoded

    async def symmetric_key(self, credentials: Credentials | ServiceCredentials, uuid: str) -> bytes:
        found = await self._get(credentials, uuid)
        if not isinstance(found, symmetric_key.SymmetricKey):
            raise KeyManagerRefused(f"the secret {uuid} in the key manager is not a symmetric key")
        encoded = found.get_encoded()
        if not encoded or len(encoded) not in (16, 24, 32):
            raise KeyManagerRefused(f"the secret {uuid} in the key manager is not a 128-, 192- or 256-bit AES key")
        return bytes(encoded)

    async def add_consumer(self, credentials: Credentials, uuid: str, consumer: Consumer) -> None:
        await self._call(credentials, uuid, self._manager.add_consumer, consumer.as_dict())

    async def remove_consumer(self, credentials: Credentials, uuid: str, consumer: Consumer) -> None:
        await self._call(credentials, uuid, self._manager.remove_consumer, consumer.as_dict())

    async def delete(self, credentials: Credentials, uuid: str) -> bool:
        try:
            await self._call(credentials, uuid, self._manager.delete)
        except KeyManagerRefused as exc:
            if _has_consumers(exc.__cause__):
                return False  # Barbican keeps a secret others still use (it checks, atomically)
            raise
        return True

    async def _get(self, credentials: Credentials | ServiceCredentials, uuid: str) -> Any:
        return await self._call(credentials, uuid, self._manager.get)

    def _context(self, credentials: Credentials | ServiceCredentials) -> Any:
        if isinstance(credentials, ServiceCredentials):
            return keystone_password.KeystonePassword(
                password=credentials.password,
                auth_url=credentials.auth_url or self.auth_url,
                username=credentials.username,
                user_domain_id=credentials.user_domain_id,
                user_domain_name=credentials.user_domain_name,
                project_name=credentials.project_name,
                project_domain_id=credentials.project_domain_id,
                project_domain_name=credentials.project_domain_name,
            )
        return keystone_token.KeystoneToken(
            token=credentials.token, auth_url=self.auth_url, project_id=credentials.project_id
        )

    async def _call(
        self, credentials: Credentials | ServiceCredentials, uuid: str, method: Callable[..., Any], *args: Any
    ) -> Any:
        """``method(context, uuid, *args)`` in a thread as the caller (or the service user), Barbican's failures
        translated."""
        context = self._context(credentials)
        try:
            return await asyncio.to_thread(method, context, uuid, *args)
        except castellan_errors.ManagedObjectNotFoundError:
            raise KeyManagerRefused(f"the key manager has no secret {uuid}") from None
        except ValueError as exc:  # castellan reads a certificate secret as PEM
            raise KeyManagerRefused(f"the secret {uuid} is not a PEM-encoded X.509 certificate: {exc}") from None
        except Exception as exc:
            if _unavailable(exc):
                log.warning("the key manager could not be reached for secret %s: %s", uuid, exc)
                raise KeyManagerUnavailable(f"the key manager could not be reached: {exc}") from exc
            raise KeyManagerRefused(f"the key manager refused secret {uuid}: {exc}") from exc
