"""glimpse.keys.kek: the key-encryption keys of encryption at rest, read as the service user and kept a while."""

from __future__ import annotations

import asyncio

import pytest

from glimpse.errors import KeyManagerRefused, KeyManagerUnavailable
from glimpse.keys import ServiceCredentials
from glimpse.keys.kek import KeyEncryptionKeys
from tests.unit.keys.test_keys import Recording

SERVICE = ServiceCredentials(auth_url="http://keystone", username="glimpse", password="p", project_name="service")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Slow(Recording):
    """Answers after a moment, as Barbican does; what it was asked with is kept."""

    def __init__(self) -> None:
        super().__init__()
        self.credentials: list[object] = []

    async def symmetric_key(self, credentials: object, uuid: str) -> bytes:  # type: ignore[override]
        self.credentials.append(credentials)
        await asyncio.sleep(0.01)
        return await super().symmetric_key(SERVICE, uuid)


def test_a_key_is_read_once_as_the_service_user_and_kept_for_its_time() -> None:
    manager, clock = Slow(), Clock()
    keys = KeyEncryptionKeys(manager, SERVICE, cache_time=300, clock=clock)

    async def many() -> list[bytes]:
        return await asyncio.gather(*(keys("kek") for _ in range(10)))

    assert asyncio.run(many()) == [bytes(32)] * 10
    assert manager.asked == ["key kek"]  # ten objects waiting for it: one read
    assert manager.credentials == [SERVICE]
    clock.now = 299
    asyncio.run(keys("kek"))
    assert manager.asked == ["key kek"]
    clock.now = 301
    asyncio.run(keys("kek"))
    assert manager.asked == ["key kek", "key kek"]


def test_no_cache_time_reads_the_key_every_time() -> None:
    manager = Slow()
    keys = KeyEncryptionKeys(manager, SERVICE, cache_time=0)
    asyncio.run(keys("kek"))
    asyncio.run(keys("kek"))
    assert manager.asked == ["key kek", "key kek"]


def test_a_refused_key_is_the_deployments_failure_not_the_callers() -> None:
    class Refusing(Recording):
        async def symmetric_key(self, credentials: object, uuid: str) -> bytes:  # type: ignore[override]
            raise KeyManagerRefused(f"the key manager has no secret {uuid}")

    with pytest.raises(KeyManagerUnavailable, match="kek cannot be read: the key manager has no secret kek"):
        asyncio.run(KeyEncryptionKeys(Refusing(), SERVICE)("kek"))
