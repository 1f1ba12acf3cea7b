"""Keystone tokens: ``X-Auth-Token`` (and ``X-Service-Token``) validated by the identity service, then cached.

The settings are keystonemiddleware's ``[keystone_authtoken]`` options. A service user signs in with its
password through keystoneauth1; each token Glimpse has not seen yet is checked with
``GET /v3/auth/tokens`` and ``X-Subject-Token`` against the identity endpoint of that user's catalog, and
keystoneauth1's ``access`` module reads the answer. The blocking calls run on worker threads; callers
waiting for the same token share one call.

Validated tokens are cached for ``token_cache_time`` seconds and never beyond their expiry: in process
(a bounded LRU), or in Redis when ``memcached_servers`` holds a ``redis://`` URL, so that several
processes share the work. Cache keys are digests of the tokens (keyed with ``memcache_secret_key`` when
one is set), never the tokens; with ``memcache_security_strategy`` = ``mac`` or ``encrypt`` the shared
entries are signed or encrypted, so whoever can write to the cache cannot forge an identity.

A user token that expired is still accepted along with a valid service token carrying one of
``service_token_roles`` (Keystone's ``allow_expired``), so a service can finish a long job for a user.

Outcomes: no token, a token Keystone does not know (invalid, expired, revoked) or a service token that is
invalid or lacks ``service_token_roles`` (when ``service_token_roles_required``) -> 401 with
``WWW-Authenticate: Keystone uri="<www_authenticate_uri>"``; Keystone unreachable, failing or refusing the
service user -> 503. Tokens are never logged (keystoneauth1's request logging is off for the check).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
import anyio.to_thread
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from keystoneauth1 import access, exceptions, plugin, session
from keystoneauth1.identity import generic, v3

from glimpse.context import RequestContext
from glimpse.errors import IdentityUnavailable, Unauthorized
from glimpse.metrics import Metrics
from glimpse.settings import KeystoneAuthSettings, mask_url

log = logging.getLogger(__name__)

NO_TOKEN = "The request you have made requires authentication: no X-Auth-Token was given."
BAD_TOKEN = "The request you have made requires authentication: the token is not valid."
BAD_SERVICE_TOKEN = "The request you have made requires authentication: the service token is not valid."
UNAVAILABLE = "The Keystone service is temporarily unavailable."
REDIS_PREFIX = "glimpse:keystone:token:"
MAX_KEYSTONE_THREADS = 16  # concurrent token checks; more callers wait for a thread
MAX_TOKEN_LENGTH = 8192  # Keystone's tokens are short printable ASCII; anything else is refused unasked


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


# -- cache ------------------------------------------------------------------------------------------------
def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"glimpse-token-cache-" + purpose).derive(secret)


class Codec:
    """Cache keys from tokens, and (for a shared cache) entries as bytes, signed or encrypted on request."""

    def __init__(self, strategy: str = "none", secret: str | None = None) -> None:
        raw = secret.encode() if secret is not None else None
        self.strategy = strategy
        self._key_secret = _derive(raw, b"key") if raw is not None else None
        self._mac_secret = _derive(raw, b"mac") if raw is not None else b""
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(raw, b"encrypt"))) if raw is not None else None

    def key(self, token: str) -> str:
        if self._key_secret is None:
            return hashlib.sha256(token.encode()).hexdigest()
        return hmac.new(self._key_secret, token.encode(), hashlib.sha256).hexdigest()

    def encode(self, info: TokenInfo) -> bytes:
        data = info.to_json()
        if self.strategy == "encrypt":
            assert self._fernet is not None
            return self._fernet.encrypt(data)
        if self.strategy == "mac":
            return hmac.new(self._mac_secret, data, hashlib.sha256).hexdigest().encode() + b"." + data
        return data

    def decode(self, raw: bytes) -> TokenInfo:
        """The entry's identity; ValueError when it was not written with this strategy and secret."""
        if self.strategy == "encrypt":
            assert self._fernet is not None
            try:
                raw = self._fernet.decrypt(raw)
            except (InvalidToken, binascii.Error) as exc:
                raise ValueError("the entry does not decrypt") from exc
        elif self.strategy == "mac":
            mac, _, raw = raw.partition(b".")
            if not hmac.compare_digest(mac, hmac.new(self._mac_secret, raw, hashlib.sha256).hexdigest().encode()):
                raise ValueError("the entry's signature does not match")
        try:
            return TokenInfo.from_json(raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError("the entry is not a token") from exc


class TokenCache(Protocol):
    async def get(self, key: str) -> TokenInfo | None: ...

    async def put(self, key: str, info: TokenInfo, ttl: float) -> None: ...

    async def close(self) -> None: ...


class MemoryTokenCache:
    """In-process LRU: at most ``size`` entries, each dropped after its own time to live."""

    def __init__(self, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, TokenInfo]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> TokenInfo | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    async def put(self, key: str, info: TokenInfo, ttl: float) -> None:
        self._entries[key] = (self._clock() + ttl, info)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    async def close(self) -> None:
        self._entries.clear()


class RedisTokenCache:
    """Entries in Redis with their time to live. A Redis failure is a cache miss (logged), never an error."""

    def __init__(self, url: str, codec: Codec, timeout: float = 2.0) -> None:
        import redis.asyncio

        self.url = url
        self._codec = codec
        self._client = redis.asyncio.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._failing = False

    def _failed(self, what: str, exc: Exception) -> None:
        if not self._failing:  # once per outage, not once per request
            log.warning("token cache at %s: %s failed (%s); asking Keystone instead", _host(self.url), what, exc)
        self._failing = True

    async def get(self, key: str) -> TokenInfo | None:
        import redis.exceptions

        try:
            raw = await self._client.get(REDIS_PREFIX + key)
        except (redis.exceptions.RedisError, OSError) as exc:
            self._failed("a read", exc)
            return None
        self._failing = False
        if raw is None:
            return None
        try:
            return self._codec.decode(raw.encode() if isinstance(raw, str) else raw)
        except ValueError as exc:
            log.warning("token cache at %s: ignoring an entry: %s", _host(self.url), exc)
            return None

    async def put(self, key: str, info: TokenInfo, ttl: float) -> None:
        import redis.exceptions

        try:
            await self._client.set(REDIS_PREFIX + key, self._codec.encode(info), px=max(1, int(ttl * 1000)))
        except (redis.exceptions.RedisError, OSError) as exc:
            self._failed("a write", exc)

    async def close(self) -> None:
        await self._client.aclose()


def _host(url: str) -> str:
    """The URL without credentials, for log lines."""
    scheme, _, rest = url.partition("//")
    return f"{scheme}//{rest.rpartition('@')[2]}"


def build_cache(conf: KeystoneAuthSettings, codec: Codec) -> TokenCache:
    """Redis for the first redis:// URL of ``memcached_servers``; otherwise the in-process LRU."""
    servers = [url.get_secret_value() for url in conf.memcached_servers]
    urls = [url for url in servers if url.startswith(("redis://", "rediss://", "unix://"))]
    others = [mask_url(url) for url in servers if url not in urls]
    if others:
        log.warning(
            "[keystone_authtoken] memcached_servers: only redis:// URLs are supported; ignoring %s", ", ".join(others)
        )
    if len(urls) > 1:
        log.warning("[keystone_authtoken] memcached_servers: using %s only", _host(urls[0]))
    if urls:
        return RedisTokenCache(urls[0], codec)
    return MemoryTokenCache(conf.token_cache_size)


# -- Keystone ---------------------------------------------------------------------------------------------
def build_session(conf: KeystoneAuthSettings) -> session.Session:
    """A keystoneauth1 session signed in as the service user (password plugin)."""
    assert conf.password is not None
    options: dict[str, Any] = {
        "auth_url": conf.auth_url,
        "username": conf.username,
        "password": conf.password.get_secret_value(),
        "project_name": conf.project_name,
        "user_domain_name": conf.user_domain_name,
        "user_domain_id": conf.user_domain_id,
        "project_domain_name": conf.project_domain_name,
        "project_domain_id": conf.project_domain_id,
    }
    auth: plugin.BaseAuthPlugin = (
        v3.Password(**options) if conf.auth_type == "v3password" else generic.Password(**options)
    )
    verify: bool | str = False if conf.insecure else (conf.cafile or True)
    return session.Session(
        auth=auth,
        verify=verify,
        timeout=conf.http_connect_timeout,
        app_name="glimpse",
    )


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
