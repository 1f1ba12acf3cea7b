"""Creating an image record (``POST /v2/images``)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from glimpse.context import RequestContext
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain import images as model
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Image, Visibility
from glimpse.domain.quotas import Resource
from glimpse.errors import ReservedAttribute
from glimpse.events import payloads
from glimpse.policy import Target
from glimpse.services.images.base import _COLUMN_ATTRIBUTES, ImageBase


class Creating(ImageBase):
    """``POST /v2/images``: the record, its quota claim and its key's consumer."""

    async def create(self, ctx: RequestContext, body: Mapping[str, Any]) -> Image:
        for name in body:
            model.check_settable(name, creating=True)
        self.schemas.validate_image(body)
        owner = body.get("owner") or ctx.project_id
        now = utcnow()
        image_id = body.get("id") or model.new_id()
        image = Image(id=str(image_id), owner=owner, created_at=now, updated_at=now)
        self.policy.enforce(ctx, "add_image", Target(project_id=owner))
        for name, value in body.items():
            if name in ("id", "owner"):
                continue
            if name == "tags":
                image.tags = set(value)
            elif name == "visibility":
                image.visibility = Visibility(value)
            elif name == "locations":
                raise ReservedAttribute("locations")  # as Glance, even an empty list
            elif name in _COLUMN_ATTRIBUTES:
                setattr(image, name, value)
            else:
                self._protect(ctx, name, "create")
                image.properties[name] = value
        self._check_visibility_change(ctx, image, image.visibility.value)
        self._check_properties(image)  # the schema checked the body above; the rest are the server's defaults

        exists = f"Image ID {image.id} already exists!"  # Glance's words, also when a racing create wins

        claim = await self.quotas.claim(owner, {Resource.IMAGE_COUNT_TOTAL: 1}, holder=f"create:{image.id}")

        def insert(session: Any) -> None:
            repo = ImageRepository(session)
            repo.add(image)  # an id taken (deleted images keep theirs) breaks the primary key: Duplicate, 409
            claim.settle(session)  # the image counts from this commit on, instead of the reservation
            self.events.emit(session, "image.create", payloads.image(image))

        try:
            rekeyed = await self.keys.attach(ctx, image)  # its key's consumer, before the image exists
            try:
                await self.db.run(insert, duplicate=exists)
            except BaseException:
                await asyncio.shield(self.keys.undo(ctx, image, rekeyed))
                raise
        finally:
            await claim.release()
        return self.visible(ctx, image)
