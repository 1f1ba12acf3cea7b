"""The Keystone authenticator: a request's tokens to its identity, checked once however many requests wait."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import anyio.to_thread
from keystoneauth1 import access, exceptions, session

from glimpse.auth.keystone.cache import TokenCache, build_cache
from glimpse.auth.keystone.codec import Codec
from glimpse.auth.keystone.identity import TokenInfo, token_info
from glimpse.auth.keystone.service_user import build_session
from glimpse.context import RequestContext
from glimpse.errors import IdentityUnavailable, Unauthorized
from glimpse.metrics import Metrics
from glimpse.settings import KeystoneAuthSettings

log = logging.getLogger("glimpse.auth.keystone")  # the package's name: what operators filter on

NO_TOKEN = "The request you have made requires authentication: no X-Auth-Token was given."
BAD_TOKEN = "The request you have made requires authentication: the token is not valid."
BAD_SERVICE_TOKEN = "The request you have made requires authentication: the service token is not valid."
UNAVAILABLE = "The Keystone service is temporarily unavailable."
MAX_KEYSTONE_THREADS = 16  # concurrent token checks; more callers wait for a thread
MAX_TOKEN_LENGTH = 8192  # Keystone's tokens are short printable ASCII; anything else is refused unasked


class KeystoneAuth:
    name = "keystone"

    def __init__(
        self,
        conf: KeystoneAuthSettings,
        metrics: Metrics | None = None,
        *,
        keystone: session.Session | None = None,
        cache: TokenCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.conf = conf
        self.challenge = f'Keystone uri="{conf.www_authenticate_uri}"'
        self._codec = Codec(conf.memcache_security_strategy, _secret(conf))
        self._session = keystone if keystone is not None else build_session(conf)
        self.cache = cache if cache is not None else build_cache(conf, self._codec)
        self._metrics = metrics
        self._clock = clock
        self._service_token_roles = frozenset(role.lower() for role in conf.service_token_roles)
        self._endpoint_filter: dict[str, Any] = {
            "service_type": "identity",
            "interface": conf.interface,
            "version": (3, 0),
        }
        if conf.region_name:
            self._endpoint_filter["region_name"] = conf.region_name
        self._inflight: dict[tuple[str, bool], asyncio.Future[TokenInfo]] = {}
        self._limiter: anyio.CapacityLimiter | None = None
        self._warned_service_roles = False

    async def authenticate(self, headers: Mapping[str, str]) -> RequestContext:
        token = headers.get("x-auth-token")
        if not token:
            raise Unauthorized(NO_TOKEN)
        service_roles: frozenset[str] = frozenset()
        is_service = False
        service_token = headers.get("x-service-token")
        if service_token:
            try:
                service_roles = (await self._identity(service_token)).roles
            except Unauthorized:
                raise Unauthorized(BAD_SERVICE_TOKEN) from None
            is_service = bool(service_roles & self._service_token_roles)
            if not is_service:
                if self.conf.service_token_roles_required:
                    log.info("refused a service token without any of the roles %s", sorted(self._service_token_roles))
                    raise Unauthorized(BAD_SERVICE_TOKEN)
                if not self._warned_service_roles:
                    log.warning(
                        "accepted a service token without any of the roles %s "
                        "(set [keystone_authtoken] service_token_roles_required = true to refuse them)",
                        sorted(self._service_token_roles),
                    )
                    self._warned_service_roles = True
        # a service acting for a user may finish with the user's token expired (a long snapshot upload):
        # Keystone then validates it within its allow_expired window, as for keystonemiddleware
        user = await self._identity(token, allow_expired=is_service)
        return RequestContext(
            user_id=user.user_id,
            project_id=user.project_id,
            roles=user.roles,
            service_roles=service_roles,
            domain_id=user.domain_id,
            system_scope=user.system_scope,
            auth_method="keystone",
            auth_token=token,
        )

    async def aclose(self) -> None:
        await self.cache.close()
        await anyio.to_thread.run_sync(self._session.session.close)

    def _count(self, source: str, result: str) -> None:
        if self._metrics is not None:
            self._metrics.token_validated(source, result)

    async def _identity(self, token: str, allow_expired: bool = False) -> TokenInfo:
        """The token's identity: from the cache, from a check already under way, or from Keystone."""
        if len(token) > MAX_TOKEN_LENGTH or not (token.isascii() and token.isprintable()):
            raise Unauthorized(BAD_TOKEN)
        key = self._codec.key(token)
        if self.conf.token_cache_time > 0:
            cached = await self.cache.get(key)
            if cached is not None and cached.expires_at > self._clock():
                self._count("cache", "valid")
                return cached
        flight = (key, allow_expired)
        pending = self._inflight.get(flight)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(token, key, allow_expired))
            self._inflight[flight] = pending
            pending.add_done_callback(lambda done: self._settled(flight, done))
        return await asyncio.shield(pending)

    def _settled(self, flight: tuple[str, bool], done: asyncio.Future[TokenInfo]) -> None:
        self._inflight.pop(flight, None)
        if not done.cancelled():
            done.exception()  # retrieved here too: every waiter may have gone away

    async def _fetch(self, token: str, key: str, allow_expired: bool) -> TokenInfo:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(MAX_KEYSTONE_THREADS)
        try:
            info = await anyio.to_thread.run_sync(self._validate, token, allow_expired, limiter=self._limiter)
        except Unauthorized:
            self._count("keystone", "invalid")
            raise
        except IdentityUnavailable:
            self._count("keystone", "unavailable")
            raise
        self._count("keystone", "valid")
        ttl = min(float(self.conf.token_cache_time), info.expires_at - self._clock())
        if ttl > 0:  # an expired token accepted for a service is never cached
            await self.cache.put(key, info, ttl)
        return info

    def _validate(self, token: str, allow_expired: bool = False) -> TokenInfo:
        """Ask Keystone about ``token`` (blocking: runs on a worker thread)."""
        try:
            response = self._session.get(
                "/auth/tokens?allow_expired=1" if allow_expired else "/auth/tokens",
                headers={"X-Subject-Token": token},
                endpoint_filter=self._endpoint_filter,
                raise_exc=False,
                log=False,  # the request carries the token
                connect_retries=self.conf.http_request_max_retries,
            )
        except exceptions.Unauthorized as exc:
            log.error("Keystone refused the service user %r (%s): check [keystone_authtoken]", self.conf.username, exc)
            raise IdentityUnavailable(UNAVAILABLE) from None
        except exceptions.ClientException as exc:
            log.warning("cannot validate a token with Keystone at %s: %s", self.conf.auth_url, exc)
            raise IdentityUnavailable(UNAVAILABLE) from None
        if response.status_code in (400, 404):  # a token Keystone does not recognize, or not a token at all
            raise Unauthorized(BAD_TOKEN)
        if response.status_code != 200:
            log.error(
                "Keystone answered %s to a token validation (the service user %r needs the service role)",
                response.status_code,
                self.conf.username,
            )
            raise IdentityUnavailable(UNAVAILABLE)
        try:
            ref = access.create(resp=response)
            info = token_info(ref)
        except (KeyError, TypeError, ValueError) as exc:
            log.error("Keystone's token validation answer cannot be read: %r", exc)
            raise IdentityUnavailable(UNAVAILABLE) from None
        if info.expires_at <= self._clock() and not allow_expired:
            raise Unauthorized(BAD_TOKEN)
        return info


def _secret(conf: KeystoneAuthSettings) -> str | None:
    return conf.memcache_secret_key.get_secret_value() if conf.memcache_secret_key is not None else None
