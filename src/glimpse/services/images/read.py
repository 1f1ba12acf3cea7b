"""Showing and listing images as the caller may see them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from glimpse.context import RequestContext
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.images import Image
from glimpse.domain.queries import parse_image_query
from glimpse.policy import Target
from glimpse.services.images.base import ImageBase


@dataclass(frozen=True, slots=True)
class ImagePage:
    images: list[Image]
    next_marker: str | None


class Reading(ImageBase):
    """``GET /v2/images/{id}`` and ``GET /v2/images``."""

    async def get(self, ctx: RequestContext, image_id: str) -> Image:
        return self.visible(ctx, await self.load(ctx, image_id, replica=True))

    async def list(self, ctx: RequestContext, params: Sequence[tuple[str, str]]) -> ImagePage:
        self.policy.enforce(ctx, "get_images", Target(project_id=ctx.project_id))
        query = parse_image_query(
            params, default_limit=self.settings.limit_param_default, max_limit=self.settings.api_limit_max
        )
        if self.protections is not None and not all(
            self.protections.allows(ctx, name, "read") for name in query.properties
        ):
            return ImagePage(images=[], next_marker=None)  # no image has a property the caller cannot read
        images = await self.db.read(lambda s: ImageRepository(s).list(ctx, query))
        next_marker = images[-1].id if images and len(images) == query.limit else None
        memo: dict[str, bool] = {}
        return ImagePage(images=[self.visible(ctx, image, memo) for image in images], next_marker=next_marker)
