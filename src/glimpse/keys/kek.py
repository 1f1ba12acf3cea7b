"""Key-encryption keys of encryption at rest: read from the key manager as Glimpse's service user, kept a while.

Barbican stores keys and hands out their bytes; it does not wrap or unwrap for its callers. So the key that
wraps each object's data key is read into this process (with the service user's credentials, never a
caller's token: a background import writes with no caller at all) and kept for ``cache_time`` seconds, so a
download does not cost a Keystone sign-in and a Barbican round trip. One read per key however many objects
wait for it. While Barbican cannot be reached, what was read stays usable for the rest of its time; after
that, writing to and reading from an encrypting store fail with 503.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from glimpse.errors import KeyManagerRefused, KeyManagerUnavailable
from glimpse.keys import KeyManager, ServiceCredentials

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Entry:
    key: bytes = field(repr=False)
    until: float


class KeyEncryptionKeys:
    def __init__(
        self,
        manager: KeyManager,
        credentials: ServiceCredentials,
        *,
        cache_time: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.manager = manager
        self.credentials = credentials
        self.cache_time = cache_time
        self.clock = clock
        self._cache: dict[str, _Entry] = {}
        self._reading: dict[str, asyncio.Lock] = {}

    async def __call__(self, key_id: str) -> bytes:
        """The key ``key_id``; KeyManagerUnavailable (503) when the key manager cannot be reached, and also when it
        refuses (a missing key or one the service user may not read is the deployment's fault, not the
        caller's: it is logged as an error)."""
        entry = self._cache.get(key_id)
        if entry is not None and entry.until > self.clock():
            return entry.key
        lock = self._reading.setdefault(key_id, asyncio.Lock())
        async with lock:
            entry = self._cache.get(key_id)
            if entry is not None and entry.until > self.clock():
                return entry.key
            try:
                key = await self.manager.symmetric_key(self.credentials, key_id)
            except KeyManagerRefused as exc:
                log.error("encryption at rest: the key manager refused key %s to the service user: %s", key_id, exc)
                raise KeyManagerUnavailable(f"the key-encryption key {key_id} cannot be read: {exc.message}") from exc
            if self.cache_time > 0:
                self._cache[key_id] = _Entry(key, self.clock() + self.cache_time)
            return key
