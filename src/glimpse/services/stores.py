"""Store discovery and per-store copy removal."""

from __future__ import annotations

import logging
from typing import Any

from glimpse.context import RequestContext
from glimpse.db import Database
from glimpse.db.repositories.artifact_blobs import BlobRepository
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Status
from glimpse.errors import Conflict, NotFound, StoreError
from glimpse.policy import Policy, Target
from glimpse.services.images import enforce_on_image
from glimpse.stores.base import READ_ONLY_TYPES
from glimpse.stores.registry import StoreRegistry

log = logging.getLogger(__name__)


class StoreService:
    def __init__(self, db: Database, policy: Policy, stores: StoreRegistry) -> None:
        self.db = db
        self.policy = policy
        self.stores = stores

    def summaries(self) -> list[dict[str, Any]]:
        result = []
        for store in self.stores:
            entry: dict[str, Any] = {"id": store.id}
            if store.description:  # Glance leaves the key out when no description is configured
                entry["description"] = store.description
            if store.id == self.stores.default_id:
                entry["default"] = "true"  # a string, as in Glance's api-ref
            if store.type in READ_ONLY_TYPES:
                entry["read-only"] = "true"  # as Glance marks its http stores
            result.append(entry)
        return result

    def detail(self, ctx: RequestContext) -> list[dict[str, Any]]:
        self.policy.enforce(ctx, "stores_info_detail", Target(project_id=ctx.project_id))
        result = []
        for entry, store in zip(self.summaries(), self.stores, strict=True):
            result.append({**entry, "type": store.type, "weight": store.weight, "properties": store.details()})
        return result

    async def delete_copy(self, ctx: RequestContext, store_id: str, image_id: str) -> None:
        if store_id not in self.stores:
            raise Conflict(f"The selected store {store_id} is not available on this node.")
        store = self.stores.get(store_id)

        def work(session: Any) -> str:
            repo = ImageRepository(session)
            image = repo.get(image_id, ctx, for_update=True)
            enforce_on_image(self.policy, ctx, "delete_image_location", image)
            if image.status != Status.ACTIVE:
                raise Conflict(
                    f"It's not allowed to remove image data from store if image status is not "
                    f"'active': image {image_id} is {image.status.value}"
                )
            mine = [loc for loc in image.locations if loc.store == store_id]
            if not mine:
                raise NotFound(f"Image {image_id} is not present in store {store_id}")
            if len(image.stores) == 1:
                raise Conflict(f"Cannot delete image data from the only store containing it: {store_id}")
            image.locations = [loc for loc in image.locations if loc.store != store_id]
            image.updated_at = utcnow()
            repo.save(image)
            return mine[0].url

        url = await self.db.run(work)
        if await self.db.run(lambda s: BlobRepository(s).shared_urls([url])):
            return  # artifact blobs hold these bytes (stored once): they stay
        try:  # the copy is already gone from the image: a leftover is an orphan for `glimpse fsck`
            await store.delete(url)
        except StoreError as exc:
            log.warning("image %s: could not remove its data from store %s: %s", image_id, store_id, exc.message)
