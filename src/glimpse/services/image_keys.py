"""Native image encryption, the use case: the key an encrypted image names, kept in step with Barbican.

An image whose ``os_encrypt_key_id`` (or Cinder's ``cinder_encryption_key_id``) names a secret is registered
as a **consumer** of that secret in the key manager (service and resource type ``image``, the image's id) when
the image comes to name it: on create, and on a PATCH that sets or changes the key. Barbican then shows who
uses the key and refuses to delete it while the image lives. A key the caller may not read, or that does not
exist, is a 400 before anything is saved; a key manager that cannot be reached is a 503.

When the image is deleted (or a PATCH moves it to another key) it is removed as a consumer; on deletion, a key
whose ``os_encrypt_key_deletion_policy`` is ``on_image_deletion`` is then deleted, unless other consumers
remain (Barbican checks that itself, atomically): a warning then, the key is kept. ``do_not_delete`` (the
default) keeps it. The deletion of the image never fails because of the key manager: as Glance, whatever goes
wrong with the key after the image is gone is logged.

All of it is done with the caller's Keystone token (Barbican's own policy decides), so it happens in the
request, not through the outbox: the worker that drains the outbox has no user token. A request without a
Keystone token (noauth) and ``[key_manager] backend = none`` register nothing.

``[glimpse] require_encrypted_images`` (project ids, or ``*``) refuses uploads and imports of data into an
image of those projects that carries no encryption metadata (400).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

from glimpse.context import RequestContext
from glimpse.domain import encryption
from glimpse.domain.images import Image
from glimpse.errors import BadRequest, KeyManagerRefused, KeyManagerUnavailable
from glimpse.keys import Consumer, KeyManager, NoKeyManager, credentials_of

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rekeyed:
    added: str | None = None  # the key the image newly names (registered as its consumer)
    dropped: str | None = None  # the key it no longer names


def key_of(image: Image) -> encryption.Encryption | None:
    """The image's validated encryption metadata (the service validated it on every change)."""
    try:
        return encryption.parse(image.properties)
    except BadRequest:
        return None


class ImageKeys:
    def __init__(self, keys: KeyManager | None = None, *, required_for: Collection[str] = ()) -> None:
        self.keys: KeyManager = keys if keys is not None else NoKeyManager()
        self.required_for = frozenset(required_for)  # project ids, or "*": unencrypted data is refused

    def admit(self, image: Image) -> None:
        """BadRequest when the image's project accepts encrypted data only and the image says it is not."""
        if ("*" in self.required_for or image.owner in self.required_for) and key_of(image) is None:
            raise BadRequest(
                f"project {image.owner} accepts encrypted image data only: set {encryption.FORMAT} and "
                f"{encryption.KEY_ID} (the key in the key manager) before uploading"
            )

    def _active(self, ctx: RequestContext) -> bool:
        return not isinstance(self.keys, NoKeyManager) and bool(ctx.auth_token)

    async def attach(self, ctx: RequestContext, image: Image, before: Image | None = None) -> Rekeyed:
        """Register the image as a consumer of the key it names now, when that is a new key (not the one it
        named ``before``). What changed is returned: ``undo`` it when the change is not saved, ``release`` the
        dropped key once it is."""
        now = key_of(image)
        old = key_of(before) if before is not None else None
        added = now.key_id if now is not None and (old is None or old.key_id != now.key_id) else None
        dropped = old.key_id if old is not None and (now is None or now.key_id != old.key_id) else None
        if added is not None and self._active(ctx):
            try:
                await self.keys.add_consumer(credentials_of(ctx), added, Consumer(image.id))
            except KeyManagerRefused as exc:
                raise BadRequest(f"Invalid image encryption metadata: key {added}: {exc.message}") from None
        return Rekeyed(added, dropped)

    async def undo(self, ctx: RequestContext, image: Image, rekeyed: Rekeyed) -> None:
        """The change ``attach`` prepared was not saved: the image does not use the key it added."""
        if rekeyed.added is not None:
            await self.release(ctx, image, rekeyed.added)

    async def release(self, ctx: RequestContext, image: Image, key_id: str, *, deleting: bool = False) -> None:
        """The image no longer uses ``key_id``: remove it as a consumer; when the image is deleted and its
        policy says so, delete the key unless others use it. Failures are logged, never raised."""
        if not self._active(ctx):
            return
        credentials = credentials_of(ctx)
        try:
            await self.keys.remove_consumer(credentials, key_id, Consumer(image.id))
        except (KeyManagerRefused, KeyManagerUnavailable) as exc:
            log.warning("image %s: could not remove it as a consumer of key %s: %s", image.id, key_id, exc.message)
        meta = key_of(image)
        if not deleting or meta is None or meta.key_id != key_id or not meta.deletes_key:
            return
        try:
            deleted = await self.keys.delete(credentials, key_id)
        except (KeyManagerRefused, KeyManagerUnavailable) as exc:
            log.warning("image %s: could not delete its key %s: %s", image.id, key_id, exc.message)
            return
        if deleted:
            log.info("image %s deleted: its key %s deleted too (on_image_deletion)", image.id, key_id)
        else:
            log.warning("image %s deleted: its key %s is kept, other consumers still use it", image.id, key_id)

    async def detach(self, ctx: RequestContext, image: Image) -> None:
        """The image was deleted: release its key."""
        meta = key_of(image)
        if meta is not None:
            await self.release(ctx, image, meta.key_id, deleting=True)
