"""The image cache: the cache API's use cases, the fill task's runner, and cached reads for downloads.

This node's files live in :class:`glimpse.cache.CacheDir` (the hard byte budget, verification records);
the node-aware table (``cached_images``, one row per node and image) lets every node answer
``GET /v2/cache/nodes/{id}`` and lists this node's entries with their hits and last use. The table follows
the files: a fill adds its row once its data verified, an eviction removes it.

A fill happens while a whole-image download streams from a store (the bytes are written and hashed as they
are sent), or at once by ``PUT /v2/cache/{id}``: a queued row and a ``cache_image`` task bound to this node
(``tasks.node``), run by this node's worker through :mod:`glimpse.services.task_queue`. Either way the file
is served only after its multihash matched the image's. A cached copy is served only while the image is
active; anything else evicts it at once on the node asked, and every node's worker evicts its copy at its
next poll (``task_heartbeat_interval``, 2 s).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import anyio

from glimpse.cache import CacheDir, Corrupt, Refused
from glimpse.context import RequestContext
from glimpse.db import Database
from glimpse.db.repositories.cache import CACHED, QUEUED, CachedImage, CacheRepository
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Image, Status
from glimpse.domain.tasks import Task, TaskStatus, TaskType
from glimpse.errors import BadRequest, Forbidden, GlimpseError, NotFound
from glimpse.metrics import Metrics
from glimpse.policy import Policy
from glimpse.policy.engine import Target
from glimpse.services.images import ImageService, target_of
from glimpse.services.task_queue import Outcome, Progress, Step, TaskQueue
from glimpse.settings import Settings
from glimpse.stores.region import FileRegion

if TYPE_CHECKING:
    from glimpse.services.image_data import ImageDataService

log = logging.getLogger(__name__)

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


class NodeCache:
    """This node's cache for the download path: serve a verified copy, or fill one while a download streams."""

    def __init__(self, settings: Settings, db: Database, metrics: Metrics) -> None:
        assert settings.image_cache_dir is not None
        self.settings = settings
        self.db = db
        self.metrics = metrics
        self.node = settings.cache_node()
        self.files = CacheDir(settings.image_cache_dir, settings.image_cache_max_size, settings.image_cache_min_free)
        self.chunk_size = settings.download_chunk_size

    def repo(self, session: Any) -> CacheRepository:
        return CacheRepository(session, self.node)

    async def forget(self, image_ids: list[str], reason: str) -> None:
        """Rows of entries whose files were removed (evicted, invalid, deleted), and the eviction counter."""
        if image_ids:
            self.metrics.cache_evictions.labels(reason).inc(len(image_ids))
            await self.db.run(lambda s: self.repo(s).remove(image_ids, CACHED))

    async def evict(self, image_id: str, reason: str) -> bool:
        removed = await anyio.to_thread.run_sync(self.files.remove, image_id)
        if removed:
            await self.forget([image_id], reason)
        return removed

    # -- reading ------------------------------------------------------------------------------------------
    async def serve(self, image: Image, start: int, length: int) -> AsyncIterator[bytes] | None:
        """The cached bytes ``[start, start+length)`` of ``image``, or None (a miss: read a store instead)."""
        if image.status != Status.ACTIVE or image.size is None:
            await self.evict(image.id, "inactive")  # refused at once; other nodes' copies go at their sweep
            return None
        try:
            fd = await anyio.to_thread.run_sync(
                self.files.open_verified, image.id, image.os_hash_algo, image.os_hash_value, image.size
            )
        except Corrupt as exc:
            log.error("image %s: %s", image.id, exc.message)
            await self.forget([image.id], "invalid")
            fd = None
        if fd is None:
            self.metrics.cache_misses.inc()
            return None
        self.metrics.cache_hits.inc()
        try:
            await self.db.run(lambda s: self.repo(s).hit(image.id, utcnow()))
        except BaseException:
            os.close(fd)
            raise
        return FileRegion(fd, start, length, self.chunk_size).counting(self.metrics.cache_bytes.labels("out").inc)

    # -- filling ------------------------------------------------------------------------------------------
    def cacheable(self, image: Image) -> bool:
        return (
            image.status == Status.ACTIVE
            and image.size is not None
            and bool(image.os_hash_algo and image.os_hash_value)
        )

    async def _reserve(self, image: Image) -> Any:
        assert image.size is not None
        assert image.os_hash_algo is not None
        lru = await self.db.run(lambda s: [e.image_id for e in self.repo(s).entries(CACHED)])
        # the multihash alone: md5 would add nothing once it matched, and cost a fill 40% of its CPU
        algorithms = [image.os_hash_algo]
        fill, evicted = await anyio.to_thread.run_sync(self.files.reserve, image.id, image.size, lru, algorithms)
        await self.forget([image_id for image_id, _ in evicted], "budget")
        return fill

    async def _finish(self, image: Image, fill: Any) -> bool:
        expected = {str(image.os_hash_algo): str(image.os_hash_value)}
        if not await anyio.to_thread.run_sync(fill.verify, expected):
            return False
        # the row first, then the file: an eviction (which needs the file) always comes after the row
        size = int(image.size or 0)
        await self.db.run(lambda s: self.repo(s).cached(image.id, size, image.checksum, utcnow()))
        try:
            await anyio.to_thread.run_sync(fill.commit)
        except BaseException:
            await self.db.run(lambda s: self.repo(s).remove([image.id], CACHED))
            raise
        return True

    async def tee(self, image: Image, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """``body`` (the whole image from a store), written into the cache as it is sent when there is room.
        The space is reserved when the first chunk is sent, so a response never sent reserves nothing."""
        if not self.cacheable(image):
            return body
        return self._teeing(image, body)

    async def _admit(self, image: Image) -> Any:
        try:
            return await self._reserve(image)
        except Refused as exc:
            log.info("image %s not cached: %s", image.id, exc.message)
        except OSError as exc:
            log.warning("image %s not cached: %s", image.id, exc)
        return None

    async def _teeing(self, image: Image, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        written = self.metrics.cache_bytes.labels("in")
        fill: Any = None
        admitted = finished = False
        try:
            async for chunk in body:
                if not admitted:
                    admitted, fill = True, await self._admit(image)
                if fill is not None and fill.fd is not None:
                    try:
                        await anyio.to_thread.run_sync(fill.write, chunk)
                        written.inc(len(chunk))
                    except (OSError, Refused) as exc:
                        log.warning("image %s: cache fill abandoned: %s", image.id, exc)
                        fill.discard()
                if fill is not None and fill.fd is not None and fill.written == image.size:
                    # the entry is committed before the client has the last byte: a client that closes the
                    # connection as soon as it has everything cancels this generator, and the finish would be
                    # lost with it (the download would never be cached); shielded for the same reason
                    with anyio.CancelScope(shield=True):
                        finished = await self._finish(image, fill)
                yield chunk
        finally:
            if fill is not None and not finished:
                fill.discard()

    async def fill(self, image: Image, body: AsyncIterator[bytes], progress: Callable[[int], None]) -> None:
        """Cache ``image`` from ``body`` now (the fill task); Refused when there is no room."""
        fill = await self._reserve(image)
        written = self.metrics.cache_bytes.labels("in")
        try:
            async for chunk in body:
                await anyio.to_thread.run_sync(fill.write, chunk)
                written.inc(len(chunk))
                progress(fill.written)
            if not await self._finish(image, fill):
                raise CacheFillFailed(f"the data of image {image.id} did not match its checksums")
        finally:
            fill.discard()


class CacheFillFailed(GlimpseError):
    status = 500


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
