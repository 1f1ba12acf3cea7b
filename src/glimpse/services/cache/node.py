"""This node's image cache: cached reads for downloads, fills (teed from a download, or by task) verified
against the image's multihash, evictions, and the node-aware table that follows the files."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio

from glimpse.cache import CacheDir, Corrupt, Refused
from glimpse.db import Database
from glimpse.db.repositories.cache import CACHED, CacheRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Image, Status
from glimpse.errors import GlimpseError
from glimpse.metrics import Metrics
from glimpse.settings import Settings
from glimpse.stores.region import FileRegion

log = logging.getLogger("glimpse.services.cache")  # the package's name: what operators filter on


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
