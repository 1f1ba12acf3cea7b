"""The validated-token cache: an in-process LRU, or Redis shared by several processes."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from glimpse.auth.keystone.codec import Codec
from glimpse.auth.keystone.identity import TokenInfo
from glimpse.settings import KeystoneAuthSettings, mask_url

log = logging.getLogger("glimpse.auth.keystone")  # the package's name: what operators filter on

REDIS_PREFIX = "glimpse:keystone:token:"


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
