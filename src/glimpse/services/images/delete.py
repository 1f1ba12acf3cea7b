"""Deleting an image, and deactivating and reactivating it."""

from __future__ import annotations

import dataclasses
from typing import Any

from glimpse.context import RequestContext
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Image, Status
from glimpse.errors import Forbidden
from glimpse.events import payloads
from glimpse.services.images.access import enforce_on_image
from glimpse.services.images.removal import DataRemoval


class Deleting(DataRemoval):
    """``DELETE /v2/images/{id}`` and the deactivate and reactivate actions."""

    async def delete(self, ctx: RequestContext, image_id: str) -> None:
        def work(session: Any) -> Image:
            repo = ImageRepository(session)
            image = repo.get(image_id, ctx, for_update=True)
            enforce_on_image(self.policy, ctx, "delete_image", image)
            if image.protected:
                raise Forbidden(f"Image {image_id} is protected and cannot be deleted.")
            now = utcnow()
            repo.mark_deleted(image_id, now)
            gone = dataclasses.replace(image, status=Status.DELETED, updated_at=now)
            self.events.emit(session, "image.delete", payloads.image(gone, deleted=True))
            return image

        image = await self.db.run(work)
        await self.keys.detach(ctx, image)
        await self.remove_data(image)

    async def deactivate(self, ctx: RequestContext, image_id: str) -> None:
        await self._set_active(ctx, image_id, "deactivate", Status.ACTIVE, Status.DEACTIVATED)

    async def reactivate(self, ctx: RequestContext, image_id: str) -> None:
        await self._set_active(ctx, image_id, "reactivate", Status.DEACTIVATED, Status.ACTIVE)

    async def _set_active(self, ctx: RequestContext, image_id: str, rule: str, source: Status, target: Status) -> None:
        def work(session: Any) -> None:
            repo = ImageRepository(session)
            image = repo.get(image_id, ctx, for_update=True)
            enforce_on_image(self.policy, ctx, rule, image)
            if image.status == target:
                return
            if image.status != source:
                raise Forbidden(f"Not allowed to {rule} image in status '{image.status.value}'")
            now = utcnow()
            repo.set_status(image_id, [source], target, now)
            self.events.emit(
                session, "image.update", payloads.image(dataclasses.replace(image, status=target, updated_at=now))
            )

        await self.db.run(work)
