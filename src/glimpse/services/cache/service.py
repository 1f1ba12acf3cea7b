"""The cache API's use cases (``/v2/cache``), the worker's housekeeping and the ``cache_image`` runner."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

import anyio

from glimpse.cache import Refused
from glimpse.context import RequestContext
from glimpse.db import Database
from glimpse.db.repositories.cache import CACHED, QUEUED, CachedImage
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Image, Status
from glimpse.domain.tasks import Task, TaskStatus, TaskType
from glimpse.errors import BadRequest, Forbidden, NotFound
from glimpse.policy import Policy
from glimpse.policy.engine import Target
from glimpse.services.images import ImageService, target_of
from glimpse.services.task_queue import Outcome, Progress, Step, TaskQueue
from glimpse.settings import Settings

if TYPE_CHECKING:
    from glimpse.services.image_data import ImageDataService
from glimpse.services.cache.node import CacheFillFailed, NodeCache

log = logging.getLogger("glimpse.services.cache")  # the package's name: what operators filter on

NOT_SUPPORTED = "Caching via API is not supported at this site."
CLEAR_TARGETS = ("", "cache", "queue")


def _image_not_found(image_id: str) -> NotFound:
    return NotFound(f"Image {image_id} not found.")


def listed(entry: CachedImage) -> dict[str, Any]:
    """A cached image as Glance lists it (times as POSIX timestamps)."""
    return {
        "image_id": entry.image_id,
        "last_accessed": entry.last_accessed.timestamp(),
        "last_modified": entry.last_modified.timestamp(),
        "size": entry.size,
        "hits": entry.hits,
        "checksum": entry.checksum,
    }


class CacheService:
    """The cache API (``/v2/cache``) and the runner of ``cache_image`` tasks."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        policy: Policy,
        images: ImageService,
        image_data: ImageDataService,
        queue: TaskQueue,
        node: NodeCache | None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.policy = policy
        self.images = images
        self.image_data = image_data
        self.queue = queue
        self.node = node

    def _enforce(self, ctx: RequestContext, rule: str, image: Image | None = None) -> NodeCache:
        target = target_of(image) if image is not None else Target(project_id=ctx.project_id)
        if not self.policy.check(ctx, rule, target):
            raise Forbidden("Access was denied to this resource.")
        if self.node is None:
            raise NotFound(NOT_SUPPORTED)
        return self.node

    async def _image(self, ctx: RequestContext, image_id: str) -> Image:
        try:
            return await self.images.load(ctx, image_id, rule=None)
        except NotFound:
            raise _image_not_found(image_id) from None

    # -- the API ------------------------------------------------------------------------------------------
    async def state(self, ctx: RequestContext) -> dict[str, Any]:
        node = self._enforce(ctx, "cache_list")
        entries = await self.db.run(lambda s: node.repo(s).entries())
        return {
            "cached_images": [listed(e) for e in entries if e.state == CACHED],
            "queued_images": [e.image_id for e in sorted(entries, key=lambda e: e.last_modified) if e.state == QUEUED],
        }

    async def queue_image(self, ctx: RequestContext, image_id: str) -> None:
        image = await self._image(ctx, image_id)
        node = self._enforce(ctx, "cache_image", image)
        if image.status != Status.ACTIVE:
            raise BadRequest("Only images with status active can be targeted for queueing")

        def work(session: Any) -> None:
            now = utcnow()
            if not node.repo(session).queue(image_id, now):
                return  # already queued or cached here
            task = Task(id=str(uuid.uuid4()), type=TaskType.CACHE_IMAGE, status=TaskStatus.PENDING,
                        owner=ctx.project_id, created_at=now, updated_at=now, image_id=image_id,
                        user_id=ctx.user_id, request_id=ctx.request_id, node=node.node)  # fmt: skip
            # found at the worker's next poll (within task_heartbeat_interval): the image is listed as
            # queued for a moment, as Glance's queue lists it until its prefetcher is done with it
            self.queue.enqueue(session, task, wake=False)

        await self.db.run(work)

    async def delete_entry(self, ctx: RequestContext, image_id: str) -> None:
        image: Image | None
        try:
            image = await self.images.load(ctx, image_id, rule=None)
        except NotFound:
            image = None
            here = self.node
            known = here is not None and await self.db.run(lambda s: here.repo(s).get(image_id)) is not None
            if not known:
                raise _image_not_found(image_id) from None
        node = self._enforce(ctx, "cache_delete", image)
        await node.evict(image_id, "deleted")
        await self.db.run(lambda s: node.repo(s).remove([image_id]))

    async def clear(self, ctx: RequestContext, target: str | None) -> dict[str, int]:
        node = self._enforce(ctx, "cache_delete")
        wanted = (target or "").strip().lower()
        if wanted not in CLEAR_TARGETS:
            raise BadRequest("If provided 'x-image-cache-clear-target' must be 'cache', 'queue' or empty string.")
        result: dict[str, int] = {}
        if wanted in ("", "cache"):
            removed = await anyio.to_thread.run_sync(node.files.clear)
            node.metrics.cache_evictions.labels("deleted").inc(len(removed))
            rows = await self.db.run(lambda s: node.repo(s).remove_all(CACHED))
            result["cache_deleted"] = max(len(removed), rows)
        if wanted in ("", "queue"):
            result["queue_deleted"] = await self.db.run(lambda s: node.repo(s).remove_all(QUEUED))
        return result

    async def clean(self, ctx: RequestContext) -> None:
        self._enforce(ctx, "cache_clean")
        await self.sweep()

    async def prune(self, ctx: RequestContext) -> dict[str, int]:
        node = self._enforce(ctx, "cache_prune")
        lru = await self.db.run(lambda s: [e.image_id for e in node.repo(s).entries(CACHED)])
        evicted = await anyio.to_thread.run_sync(node.files.prune, lru)
        await node.forget([image_id for image_id, _ in evicted], "budget")
        return {"total_files_pruned": len(evicted), "total_bytes_pruned": sum(size for _, size in evicted)}

    async def nodes(self, ctx: RequestContext, image_id: str) -> list[str]:
        node = self._enforce(ctx, "list_cached_nodes")
        await self._image(ctx, image_id)
        return await self.db.run(lambda s: node.repo(s).nodes_holding(image_id))

    # -- housekeeping -------------------------------------------------------------------------------------
    async def sweep(self) -> None:
        """Remove stale partial files and invalid entries, entries of images no longer active (deleted or
        deactivated on any node), and rows whose files are gone (and files no row knows of)."""
        node = self.node
        if node is None:
            return
        stall = float(self.settings.image_cache_stall_time)
        partials, invalid = await anyio.to_thread.run_sync(node.files.clean, stall)
        if partials:
            log.info("image cache: removed %d stale partial files", partials)
        await node.forget(invalid, "invalid")
        files = set(await anyio.to_thread.run_sync(node.files.cached_ids))

        def look(session: Any) -> tuple[list[str], list[str]]:
            repo = node.repo(session)
            rows = {e.image_id for e in repo.entries(CACHED)}
            return repo.not_servable(), sorted(rows - files)

        inactive, missing = await self.db.run(look)
        for image_id in inactive:
            await node.evict(image_id, "inactive")
        orphans = sorted(files - set(inactive) - set(await self.db.run(lambda s: [
            e.image_id for e in node.repo(s).entries(CACHED)])))  # fmt: skip
        for image_id in orphans:  # files no row knows of (a fill whose row was removed, a crash)
            await anyio.to_thread.run_sync(node.files.remove, image_id)
        stale = missing + inactive
        if stale:
            await self.db.run(lambda s: node.repo(s).remove(stale, CACHED))

    async def evict_unservable(self) -> None:
        """The worker's check at every poll: evict this node's entries of images deleted or deactivated (on any
        node). Requests never wait for it: each download reads the image's status first and serves a cached
        copy of an active image only."""
        node = self.node
        if node is None:
            return
        gone = await self.db.run(lambda s: node.repo(s).not_servable())
        for image_id in gone:
            await node.evict(image_id, "inactive")
        if gone:
            log.info("image cache: evicted %d images no longer active: %s", len(gone), ", ".join(gone))
            await self.db.run(lambda s: node.repo(s).remove(gone, CACHED))

    # -- the cache_image task -----------------------------------------------------------------------------
    async def run(self, task: Task, progress: Progress) -> Outcome:
        node = self.node
        image_id = str(task.image_id)
        if node is None or task.node != node.node:
            raise CacheFillFailed(f"this worker does not run node {task.node}'s image cache")
        entry = await self.db.run(lambda s: node.repo(s).get(image_id))
        if entry is None or entry.state != QUEUED:
            return Outcome(result={"image_id": image_id, "cached": entry is not None})
        image = await self.db.run(lambda s: ImageRepository(s).get(image_id, None))
        if not node.cacheable(image):
            raise BadRequest(f"Image {image_id} cannot be cached: it is {image.status.value} or has no multihash")
        total = int(image.size or 0)
        body = await self.image_data.open_data(image, 0, total)
        if body is None:
            raise NotFound(f"The data of image {image_id} is missing from every store")
        try:
            await node.fill(image, body, lambda done: progress(done, total))
        except Refused as exc:
            if "already cached" not in exc.message:
                raise
            await self.db.run(lambda s: node.repo(s).cached(image_id, total, image.checksum, utcnow()))
        return Outcome(result={"image_id": image_id, "cached": True})

    async def undo(self, task: Task, reason: str) -> Step | None:
        node = self.node
        image_id = str(task.image_id)
        if node is None:
            return None

        def step(session: Any) -> None:
            node.repo(session).remove([image_id], QUEUED)

        return step

    def on_progress(self, task: Task, done: int, total: int | None, session: Any) -> None:
        pass
