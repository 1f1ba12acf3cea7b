"""Deleting an image's data from the stores: a deleted image's, and the locations a PATCH removed."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Sequence
from typing import Any

from glimpse.db.repositories.artifact_blobs import BlobRepository
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain import images as model
from glimpse.domain.images import Image
from glimpse.errors import StoreError
from glimpse.services.images.base import ImageBase
from glimpse.stores.base import READ_ONLY_TYPES

log = logging.getLogger("glimpse.services.images")  # the package's name: what operators filter on


def _users_of(url: str, session: Any) -> set[str]:
    return ImageRepository(session).using_location(url)


class DataRemoval(ImageBase):
    """Removing image data that nothing uses any more (delete and update call it)."""

    async def remove_data(self, image: Image) -> None:
        """Delete every copy of an image's data; failures are logged for `glimpse fsck` to find. A copy that
        artifact blobs share (stored once, ``glimpse.services.artifacts.blobs``) stays: they own it now."""
        shared = await self.db.run(lambda s: BlobRepository(s).shared_urls(loc.url for loc in image.locations))
        for location in image.locations:
            if location.url in shared:
                log.info("image %s: its data at %s stays, artifact blobs hold it", image.id, location.url)
                continue
            try:
                await self.stores.get(location.store).delete(location.url)
            except StoreError as exc:
                log.warning("could not delete data of image %s from store %s: %s", image.id, location.store, exc)
            except Exception:
                log.exception("could not delete data of image %s from store %s", image.id, location.store)

    async def _remove_unused(self, image: Image, removed: Sequence[model.Location]) -> None:
        """Delete the data of locations a PATCH removed, unless read-only or still used by an image."""
        for location in removed:
            store = self.stores.get(location.store) if location.store in self.stores else None
            if store is None or store.type in READ_ONLY_TYPES:
                continue
            if any(other.url == location.url for other in image.locations):
                continue
            if await self.db.run(functools.partial(_users_of, location.url)):
                continue
            await self.remove_data(dataclasses.replace(image, locations=[location]))
