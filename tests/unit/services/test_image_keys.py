"""ImageKeys over an in-memory key manager that keeps Barbican's rules (a secret with consumers is not
deleted); the real Barbican is in tests/e2e/test_image_keys.py."""

from __future__ import annotations

import asyncio
import datetime
import logging

import pytest

from glimpse.context import RequestContext
from glimpse.domain.images import Image
from glimpse.errors import BadRequest, KeyManagerRefused, KeyManagerUnavailable
from glimpse.keys import Consumer, Credentials, NoKeyManager
from glimpse.services.image_keys import ImageKeys, Rekeyed

KEY, OTHER = "0d7e5b9a-3c1f-4e2a-8b6d-9f0a1b2c3d4e", "1d7e5b9a-3c1f-4e2a-8b6d-9f0a1b2c3d4e"
CTX = RequestContext(user_id="u", project_id="p", auth_token="token")


class MemoryKeyManager:
    def __init__(self, *secrets: str) -> None:
        self.consumers: dict[str, set[Consumer]] = {secret: set() for secret in secrets}
        self.down = False

    def _secret(self, uuid: str) -> set[Consumer]:
        if self.down:
            raise KeyManagerUnavailable("down")
        if uuid not in self.consumers:
            raise KeyManagerRefused(f"the key manager has no secret {uuid}")
        return self.consumers[uuid]

    async def certificate(self, credentials: Credentials, uuid: str) -> bytes:
        raise KeyManagerRefused("not a certificate")

    async def add_consumer(self, credentials: Credentials, uuid: str, consumer: Consumer) -> None:
        self._secret(uuid).add(consumer)

    async def remove_consumer(self, credentials: Credentials, uuid: str, consumer: Consumer) -> None:
        self._secret(uuid).discard(consumer)

    async def delete(self, credentials: Credentials, uuid: str) -> bool:
        if self._secret(uuid):
            return False
        del self.consumers[uuid]
        return True


def image(image_id: str = "img-1", owner: str = "p", **properties: str) -> Image:
    now = datetime.datetime.now(datetime.UTC)
    return Image(id=image_id, owner=owner, created_at=now, updated_at=now, properties=dict(properties))


def sealed(image_id: str = "img-1", key: str = KEY, policy: str = "on_image_deletion") -> Image:
    return image(image_id, os_encrypt_format="LUKS", os_encrypt_key_id=key, os_encrypt_key_deletion_policy=policy)


def test_create_and_delete_follow_the_deletion_policy() -> None:
    manager = MemoryKeyManager(KEY)
    keys = ImageKeys(manager)
    first, second = sealed("a"), sealed("b")
    assert asyncio.run(keys.attach(CTX, first)) == Rekeyed(added=KEY)
    asyncio.run(keys.attach(CTX, second))
    assert manager.consumers[KEY] == {Consumer("a"), Consumer("b")}
    asyncio.run(keys.detach(CTX, first))
    assert manager.consumers[KEY] == {Consumer("b")}  # kept: b uses it
    asyncio.run(keys.detach(CTX, second))
    assert KEY not in manager.consumers


def test_do_not_delete_keeps_the_key() -> None:
    manager = MemoryKeyManager(KEY)
    keys = ImageKeys(manager)
    kept = sealed(policy="do_not_delete")
    asyncio.run(keys.attach(CTX, kept))
    asyncio.run(keys.detach(CTX, kept))
    assert manager.consumers == {KEY: set()}


def test_a_new_key_moves_the_consumer_and_undo_takes_it_back() -> None:
    manager = MemoryKeyManager(KEY, OTHER)
    keys = ImageKeys(manager)
    before, after = sealed(), sealed(key=OTHER)
    asyncio.run(keys.attach(CTX, before))
    rekeyed = asyncio.run(keys.attach(CTX, after, before))
    assert rekeyed == Rekeyed(added=OTHER, dropped=KEY)
    assert manager.consumers[OTHER] == {Consumer("img-1")}
    asyncio.run(keys.undo(CTX, after, rekeyed))  # the PATCH was not saved
    assert manager.consumers[OTHER] == set()
    assert manager.consumers[KEY] == {Consumer("img-1")}
    assert asyncio.run(keys.attach(CTX, sealed(), before)) == Rekeyed()  # the same key: nothing to do


def test_an_unknown_key_is_a_400_and_an_outage_a_503() -> None:
    manager = MemoryKeyManager()
    keys = ImageKeys(manager)
    with pytest.raises(BadRequest, match=f"key {KEY}"):
        asyncio.run(keys.attach(CTX, sealed()))
    manager.down = True
    with pytest.raises(KeyManagerUnavailable):
        asyncio.run(keys.attach(CTX, sealed()))


def test_a_failing_key_manager_never_fails_a_deletion(caplog: pytest.LogCaptureFixture) -> None:
    manager = MemoryKeyManager(KEY)
    keys = ImageKeys(manager)
    asyncio.run(keys.attach(CTX, sealed()))
    manager.down = True
    with caplog.at_level(logging.WARNING):
        asyncio.run(keys.detach(CTX, sealed()))
    assert "could not remove it as a consumer" in caplog.text
    assert "could not delete its key" in caplog.text


def test_no_token_or_no_key_manager_registers_nothing() -> None:
    manager = MemoryKeyManager()  # would refuse any key
    noauth = RequestContext(user_id=None, project_id="p")
    assert asyncio.run(ImageKeys(manager).attach(noauth, sealed())) == Rekeyed(added=KEY)
    asyncio.run(ImageKeys(NoKeyManager()).attach(CTX, sealed()))
    asyncio.run(ImageKeys(manager).detach(noauth, sealed()))


def test_a_project_may_require_encrypted_images() -> None:
    keys = ImageKeys(required_for=["p"])
    with pytest.raises(BadRequest, match="accepts encrypted image data only"):
        keys.admit(image())
    keys.admit(sealed())
    keys.admit(image(owner="other"))
    keys.admit(image(cinder_encryption_key_id=KEY))  # Cinder's name counts
    with pytest.raises(BadRequest):
        ImageKeys(required_for=["*"]).admit(image(owner="other"))
