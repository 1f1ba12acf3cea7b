"""glimpse.keys: the configured key manager, built when a certificate is first asked for."""

from __future__ import annotations

import asyncio

from glimpse.keys import (
    Consumer,
    Credentials,
    KeyManager,
    NoKeyManager,
    OnFirstUse,
    ServiceCredentials,
    build_key_manager,
)
from glimpse.settings import load_settings


class Recording:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def certificate(self, credentials: Credentials, uuid: str) -> bytes:
        self.asked.append(uuid)
        return b"der:" + uuid.encode()

    async def symmetric_key(self, credentials: Credentials | ServiceCredentials, uuid: str) -> bytes:
        self.asked.append(f"key {uuid}")
        return bytes(32)

    async def add_consumer(self, credentials: Credentials, uuid: str, consumer: Consumer) -> None:
        self.asked.append(f"add {uuid} {consumer.resource_id}")

    async def remove_consumer(self, credentials: Credentials, uuid: str, consumer: Consumer) -> None:
        self.asked.append(f"remove {uuid} {consumer.resource_id}")

    async def delete(self, credentials: Credentials, uuid: str) -> bool:
        self.asked.append(f"delete {uuid}")
        return True


def test_the_manager_is_built_once_on_the_first_certificate() -> None:
    built: list[Recording] = []

    def build() -> KeyManager:
        built.append(Recording())
        return built[-1]

    lazy = OnFirstUse(build)
    assert built == []
    creds = Credentials(token="t", project_id="p")
    assert asyncio.run(lazy.certificate(creds, "a")) == b"der:a"
    assert asyncio.run(lazy.certificate(creds, "b")) == b"der:b"
    asyncio.run(lazy.add_consumer(creds, "k", Consumer("img")))
    asyncio.run(lazy.remove_consumer(creds, "k", Consumer("img")))
    assert asyncio.run(lazy.delete(creds, "k")) is True
    assert len(built) == 1
    assert built[0].asked == ["a", "b", "add k img", "remove k img", "delete k"]


def test_backend_none_is_no_key_manager() -> None:
    assert isinstance(build_key_manager(load_settings(env={"GLIMPSE_KEY_MANAGER_BACKEND": "none"})), NoKeyManager)


def test_barbican_backend_is_built_on_first_use() -> None:
    assert isinstance(build_key_manager(load_settings(env={})), OnFirstUse)
