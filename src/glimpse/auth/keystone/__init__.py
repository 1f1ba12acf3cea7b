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

The package: ``identity`` (what is kept of a token), ``codec`` (cache keys and entries), ``cache`` (in process
or Redis), ``service_user`` (the service user's session), ``authenticator`` (:class:`KeystoneAuth`). Import
from here.
"""

from __future__ import annotations

from glimpse.auth.keystone.authenticator import (
    BAD_SERVICE_TOKEN,
    BAD_TOKEN,
    MAX_KEYSTONE_THREADS,
    MAX_TOKEN_LENGTH,
    NO_TOKEN,
    UNAVAILABLE,
    KeystoneAuth,
)
from glimpse.auth.keystone.cache import REDIS_PREFIX, MemoryTokenCache, RedisTokenCache, TokenCache, build_cache
from glimpse.auth.keystone.codec import Codec
from glimpse.auth.keystone.identity import TokenInfo, token_info
from glimpse.auth.keystone.service_user import build_session

__all__ = [
    "BAD_SERVICE_TOKEN",
    "BAD_TOKEN",
    "MAX_KEYSTONE_THREADS",
    "MAX_TOKEN_LENGTH",
    "NO_TOKEN",
    "REDIS_PREFIX",
    "UNAVAILABLE",
    "Codec",
    "KeystoneAuth",
    "MemoryTokenCache",
    "RedisTokenCache",
    "TokenCache",
    "TokenInfo",
    "build_cache",
    "build_session",
    "token_info",
]
