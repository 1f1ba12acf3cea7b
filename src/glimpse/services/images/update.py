"""Updating an image by JSON patch: attributes, properties under their protections, locations, a new key."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from glimpse.context import RequestContext
from glimpse.data import signature
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain import encryption
from glimpse.domain import images as model
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Image, Status, Visibility
from glimpse.domain.patch import PatchOp
from glimpse.domain.quotas import Resource
from glimpse.errors import BadRequest, Conflict, Forbidden
from glimpse.events import payloads
from glimpse.services.image_keys import Rekeyed
from glimpse.services.images.access import enforce_on_image
from glimpse.services.images.base import _COLUMN_ATTRIBUTES
from glimpse.services.images.removal import DataRemoval

if TYPE_CHECKING:
    from glimpse.services.location_patch import Checked

# core attributes only a queued (or importing) image may change, even to the same value (Glance's 403)
_FORMAT_ATTRIBUTES = ("disk_format", "container_format")


class Updating(DataRemoval):
    """``PATCH /v2/images/{id}``."""

    async def update(self, ctx: RequestContext, image_id: str, ops: Sequence[PatchOp]) -> Image:
        checked: Checked | None = None
        claim = None
        rekeyed: tuple[Image, Rekeyed] | None = None
        if any(op.path[0] in encryption.KEY_IDS for op in ops):
            rekeyed = await self._rekey(ctx, image_id, ops)
        if self.location_patch is not None and any(op.path[0] == "locations" for op in ops):
            # a location's store and size are checked before the transaction (it may cost a request)
            loaded = await self.load(ctx, image_id)
            checked = await self.location_patch.prepare(ctx, loaded, ops)
            if loaded.size is None and checked.urls:
                size = max(found.size for found in checked.urls.values())
                claim = await self.quotas.claim(
                    loaded.owner, {Resource.IMAGE_SIZE_TOTAL: size}, holder=f"location-patch:{image_id}"
                )

        def work(session: Any) -> Image:
            repo = ImageRepository(session)
            image = repo.get(image_id, ctx, for_update=True)
            enforce_on_image(self.policy, ctx, "modify_image", image)
            before = dict(image.properties)
            for op in ops:
                if op.path[0] == "locations" and self.location_patch is not None and checked is not None:
                    self.location_patch.apply(ctx, repo, image, op, checked)
                else:
                    self._apply(ctx, image, op)
            signature.still_verified(before, image.properties)
            self._validate(image)
            image.updated_at = utcnow()
            repo.save(image)
            self.events.emit(session, "image.update", payloads.image(image))
            return image

        try:
            image = await self.db.run(work)
        except BaseException:
            if rekeyed is not None:
                await asyncio.shield(self.keys.undo(ctx, *rekeyed))
            raise
        finally:
            if claim is not None:
                await claim.release()
        if rekeyed is not None and rekeyed[1].dropped is not None:  # the key the image no longer names
            await self.keys.release(ctx, image, rekeyed[1].dropped)
        if checked is not None and checked.removed:
            await self._remove_unused(image, checked.removed)
        return self.visible(ctx, image)

    async def _rekey(self, ctx: RequestContext, image_id: str, ops: Sequence[PatchOp]) -> tuple[Image, Rekeyed]:
        """A PATCH that names a key: the image as it will be, registered as the new key's consumer before the
        change is saved, and the key it stops naming."""
        loaded = await self.load(ctx, image_id)
        preview = dataclasses.replace(loaded, properties=dict(loaded.properties))
        for op in ops:
            if op.path[0] != "locations":
                self._apply(ctx, preview, op)
        self._validate(preview)
        return preview, await self.keys.attach(ctx, preview, loaded)

    def _apply(self, ctx: RequestContext, image: Image, op: PatchOp) -> None:
        name = op.path[0]
        if name == "locations":  # no LocationPatch wired (a bare ImageService): as with locations hidden
            raise Forbidden("It's not allowed to update locations if locations are invisible.")
        model.check_settable(name)
        if name == "tags":
            if op.op == "remove":
                raise Forbidden("Attribute 'tags' can not be removed; replace it with an empty list.")
            if not isinstance(op.value, list):
                raise BadRequest("Provided object does not match schema 'image': tags must be a list")
            image.tags = {str(tag) for tag in op.value}
            return
        if name in _COLUMN_ATTRIBUTES:
            if op.op == "remove":
                raise Forbidden(f"Attribute '{name}' is a core attribute and can not be removed.")
            if name == "owner" and op.value != image.owner:
                self.policy.enforce(ctx, "context_is_admin")
            if name in _FORMAT_ATTRIBUTES and image.status not in (Status.QUEUED, Status.IMPORTING):
                raise Forbidden(f"Attribute {name} can be only replaced for a queued image.")
            if name == "visibility":
                if op.value not in [v.value for v in Visibility]:
                    raise BadRequest(
                        f"Provided object does not match schema 'image': {op.value!r} is not one of "
                        f"{[v.value for v in Visibility]}"
                    )
                if op.value != image.visibility.value:
                    self._check_visibility_change(ctx, image, op.value)
                image.visibility = Visibility(op.value)
                return
            setattr(image, name, op.value)
            return
        present = name in image.properties
        hidden = self.protections is not None and not self.protections.allows(ctx, name, "read")
        if hidden and (op.op != "add" or present):
            # a property the caller cannot read: it may only create one where none exists
            self._protect(ctx, name, "delete" if op.op == "remove" else "update")
        if op.op == "add":
            self._protect(ctx, name, "update" if present else "create")
            image.properties[name] = op.value
        elif op.op == "replace":
            if not present:
                raise Conflict(f"Property {name} does not exist.")
            self._protect(ctx, name, "update")
            image.properties[name] = op.value
        else:
            if not present:
                raise Conflict(f"Property {name} does not exist.")
            self._protect(ctx, name, "delete")
            del image.properties[name]
