"""Image tags: idempotent add, remove."""

from __future__ import annotations

from typing import Any

from glimpse.context import RequestContext
from glimpse.db import Database
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.errors import BadRequest, NotFound, TooLarge
from glimpse.policy import Policy
from glimpse.services.images import enforce_on_image
from glimpse.settings import Settings


class TagService:
    def __init__(self, settings: Settings, db: Database, policy: Policy) -> None:
        self.settings = settings
        self.db = db
        self.policy = policy

    async def add(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        if not tag or len(tag) > 255:
            raise BadRequest("Tag must be 1 to 255 characters long.")

        def work(session: Any) -> None:
            repo = ImageRepository(session)
            image = repo.get(image_id, ctx, for_update=True)
            enforce_on_image(self.policy, ctx, "modify_image", image)
            if tag in image.tags:
                return
            if len(image.tags) >= self.settings.image_tag_quota:
                raise TooLarge(f"Maximum number of tags exceeded: the limit is {self.settings.image_tag_quota}")
            image.tags.add(tag)
            image.updated_at = utcnow()
            repo.save(image)

        await self.db.run(work)

    async def delete(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        def work(session: Any) -> None:
            repo = ImageRepository(session)
            image = repo.get(image_id, ctx, for_update=True)
            enforce_on_image(self.policy, ctx, "modify_image", image)
            if tag not in image.tags:
                raise NotFound(f"Tag {tag} not found")
            image.tags.discard(tag)
            image.updated_at = utcnow()
            repo.save(image)

        await self.db.run(work)
