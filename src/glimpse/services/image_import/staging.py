"""Staging (glance-direct's first step): the data is counted and stored, not hashed; and the sweep of staged
data.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from glimpse.context import RequestContext
from glimpse.data import pipeline
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Status
from glimpse.domain.quotas import Resource
from glimpse.services.image_data import plan, start_receiving
from glimpse.services.image_import.base import ImportBase
from glimpse.services.quotas import Claim

log = logging.getLogger("glimpse.services.image_import")  # the package's name: what operators filter on


def _requeue_stalled(image_id: str, session: Any) -> bool:
    return ImageRepository(session).set_status(image_id, [Status.UPLOADING], Status.QUEUED, utcnow(), size=None)


def _record_staged_size(image_id: str, size: int, claim: Claim[Resource], session: Any) -> None:
    ImageRepository(session).set_status(image_id, [Status.UPLOADING], Status.UPLOADING, utcnow(), size=size)
    claim.settle(session)  # instead of the hold, not beside it


def _mtime(url: str) -> float:
    try:
        return os.stat(url.removeprefix("file://")).st_mtime
    except OSError:
        return time.time()


@dataclass(frozen=True, slots=True)
class SweepReport:
    removed: list[str]
    freed_bytes: int
    requeued: list[str]


class Staging(ImportBase):
    """PUT /v2/images/{id}/stage, and the sweep of staged data nobody can use any more."""

    async def stage(
        self, ctx: RequestContext, image_id: str, source: AsyncIterator[bytes], *, declared_size: int | None
    ) -> None:
        image = await self.images.load(ctx, image_id, "upload_image")
        claim = await self.images.quotas.claim(
            image.owner,
            {Resource.IMAGE_COUNT_UPLOADING: 1, Resource.IMAGE_STAGE_TOTAL: declared_size or 0},
            holder=f"stage:{image_id}",
        )
        try:
            await start_receiving(self.db, self.settings, image, Status.UPLOADING, declared_size, self.events)
            await claim.drop(Resource.IMAGE_COUNT_UPLOADING)  # the image counts as uploading while 'uploading'
            # staged data is hashed and inspected when it is imported: staging only counts and stores it
            steps = plan(
                self.settings, expected=declared_size, quota=functools.partial(claim.cover, Resource.IMAGE_STAGE_TOTAL)
            )
            try:
                out = await pipeline.run(source, steps, [self.staging], image_id, size_hint=declared_size)
                # the staged size is what image_stage_total counts from this commit on (and Glance shows it)
                await self.db.run(functools.partial(_record_staged_size, image_id, out.size, claim))
            except BaseException:
                await asyncio.shield(
                    self.db.run(
                        lambda s: ImageRepository(s).set_status(image_id, [Status.UPLOADING], Status.QUEUED, utcnow())
                    )
                )
                raise
        finally:
            await asyncio.shield(claim.release())

    async def sweep_staging(self, *, stalled_after: float = 3600.0) -> SweepReport:
        """Remove staged data nobody can use any more, and report what was freed.

        Staged data stays while its image is `uploading` (staged, waiting for the import call; also after a
        failed glance-direct import, so the client can retry) or `importing`. Data of deleted images, of
        images in any other status, and leftovers of interrupted stage writes older than ``stalled_after``
        seconds go; an image left `uploading` by an interrupted stage with no complete staged data goes back
        to `queued`. Nothing that belongs to a live import or stage is removed.
        """
        objects = [obj async for obj in self.staging.list_objects()]
        keys = sorted({obj.key for obj in objects})
        statuses = await self.db.run(lambda s: ImageRepository(s).statuses(keys))
        complete = {obj.key for obj in objects if not obj.partial}
        removed: list[str] = []
        requeued: list[str] = []
        freed = 0
        now = time.time()
        for obj in objects:
            status = statuses.get(obj.key)
            live = status in (Status.UPLOADING, Status.IMPORTING)
            if obj.partial:
                stalled = now - _mtime(obj.url) > stalled_after
                if live and not (stalled and status == Status.UPLOADING):
                    continue
                if live and obj.key not in complete:
                    moved = await self.db.run(functools.partial(_requeue_stalled, obj.key))
                    if moved:
                        requeued.append(obj.key)
            elif live:
                continue
            await self.staging.delete(obj.url)
            removed.append(obj.url)
            freed += obj.size
        if removed:
            log.info("staging sweep removed %d objects, %d bytes freed", len(removed), freed)
        return SweepReport(removed=removed, freed_bytes=freed, requeued=requeued)
