"""The download: the requested range from the cache or the heaviest readable copy, and its ``image.send``."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import anyio

from glimpse.context import RequestContext
from glimpse.data.sealing import SealBroken
from glimpse.domain.images import Image, Status
from glimpse.errors import Forbidden, NotFound, RangeNotSatisfiable, StoreError, StoreUnavailable
from glimpse.events import payloads
from glimpse.events.emit import Priority
from glimpse.services.image_data.base import ImageDataBase
from glimpse.services.images import target_of
from glimpse.stores.base import RegionStore
from glimpse.stores.region import FileRegion

log = logging.getLogger("glimpse.services.image_data")  # the package's name: what operators filter on


@dataclass(slots=True)
class Download:
    """What the HTTP layer needs to send image data: the byte range and a primed stream (a
    :class:`FileRegion` when the bytes are a local file: the cache's, the filesystem store's)."""

    image: Image
    total: int
    start: int
    length: int
    partial: bool
    body: AsyncIterator[bytes]


def parse_range(header: str | None, total: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` -> (start, length); None for no range."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec or "-" not in spec:
        raise RangeNotSatisfiable(f"Invalid or unsupported range: {header}", total)
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0:
                raise ValueError
            start = max(total - suffix, 0)
            end = total - 1
        else:
            start = int(first)
            end = int(last) if last else total - 1
    except ValueError:
        raise RangeNotSatisfiable(f"Invalid or unsupported range: {header}", total) from None
    end = min(end, total - 1)
    if start >= total or start > end or start < 0:
        raise RangeNotSatisfiable(f"Requested range {header} is not satisfiable for {total} bytes", total)
    return start, end - start + 1


class Downloading(ImageDataBase):
    """``GET /v2/images/{id}/file`` and the image cache's fill."""

    async def download(self, ctx: RequestContext, image_id: str, range_header: str | None) -> Download | None:
        image = await self.images.load(ctx, image_id, "download_image")
        if image.status == Status.DEACTIVATED and not self.policy.check(ctx, "context_is_admin", target_of(image)):
            raise Forbidden("The requested image has been deactivated. Image data download is forbidden.")
        if not image.locations or image.size is None:
            return None
        total = image.size
        requested = parse_range(range_header, total)
        start, length = requested if requested is not None else (0, total)
        cached = await self.cache.serve(image, start, length) if self.cache is not None else None
        body = cached or await self._open_any(image, start, length)
        if body is None:
            return None
        if self.cache is not None and cached is None and requested is None:
            body = await self.cache.tee(image, body)  # a whole-image read fills the cache as it streams
        if self.events.enabled("image.send"):
            if isinstance(body, FileRegion):
                body.when_finished(functools.partial(self._record_send, ctx, image, length))
            else:
                body = self._sent(ctx, image, length, body)
        return Download(image=image, total=total, start=start, length=length, partial=requested is not None, body=body)

    async def _sent(
        self, ctx: RequestContext, image: Image, length: int, body: AsyncIterator[bytes]
    ) -> AsyncIterator[bytes]:
        """``body``, and once it ended an ``image.send`` (ERROR when the client got less than it asked for)."""
        sent = 0
        try:
            async for chunk in body:
                sent += len(chunk)
                yield chunk
        finally:
            await self._record_send(ctx, image, length, sent)

    async def _record_send(self, ctx: RequestContext, image: Image, length: int, sent: int) -> None:
        """An ``image.send`` (ERROR when the client got less than it asked for)."""
        payload = payloads.send(image, sent, ctx.project_id, ctx.user_id)
        priority: Priority = "INFO" if sent == length else "ERROR"
        try:
            await asyncio.shield(self.db.run(lambda s: self.events.emit(s, "image.send", payload, priority)))
        except Exception as exc:  # the download itself went fine; only its event is lost
            log.warning("image %s: could not record image.send: %s", image.id, exc)

    async def open_data(self, image: Image, start: int, length: int) -> AsyncIterator[bytes] | None:
        """The image's bytes from the best store that can serve them (the image cache's fill reads this)."""
        return await self._open_any(image, start, length)

    async def _open_any(self, image: Image, start: int, length: int) -> AsyncIterator[bytes] | None:
        """Open the heaviest store's copy; fall back to the next copy when one cannot be read.

        None when every copy is missing (as Glance, the download is then a 204); StoreUnavailable when a
        copy may exist but no store could serve it.
        """
        unavailable: StoreError | None = None
        urls = {loc.store: loc.url for loc in image.locations}
        for store in self.stores.by_weight(image.stores):
            url, sealed = urls[store.id], self.at_rest.keyed(store.id)
            if isinstance(store, RegionStore) and not sealed:
                try:
                    region = await anyio.to_thread.run_sync(store.open_region, url, start, length)
                except NotFound as exc:
                    log.error("image %s: its data is missing from store %s: %s", image.id, store.id, exc)
                    continue
                except StoreError as exc:
                    log.warning("image %s: store %s could not serve its copy: %s", image.id, store.id, exc)
                    unavailable = exc
                    continue
                return region.counting(functools.partial(self.metrics.bytes_out, store.id))
            if sealed:  # a store that encrypts at rest: its objects are decrypted, never sent as they are
                stream = aiter(
                    _watched(self.at_rest.open(store, url, start, length, size=image.size), image.id, store.id)
                )
            else:
                stream = aiter(store.open(url, start, length))
            try:
                first = await anext(stream, b"")
            except NotFound as exc:
                log.error("image %s: its data is missing from store %s: %s", image.id, store.id, exc)
                continue
            except StoreError as exc:
                if not isinstance(exc, SealBroken):  # a broken seal was logged as an error already
                    log.warning("image %s: store %s could not serve its copy: %s", image.id, store.id, exc)
                unavailable = exc
                continue
            return _prepend(first, stream, functools.partial(self.metrics.bytes_out, store.id))
        if isinstance(unavailable, SealBroken):
            raise SealBroken(f"The data of image {image.id} is not served: {unavailable.message}") from unavailable
        if unavailable is not None:
            raise StoreUnavailable(f"No store could serve the data of image {image.id}") from unavailable
        return None


async def _watched(opening: Awaitable[AsyncIterator[bytes]], image_id: str, store_id: str) -> AsyncIterator[bytes]:
    """A sealed copy's data, opened when first read; a header or chunk that fails authentication is logged as
    what it is (an alteration of the store's data) and ends the stream there: nothing of it is given out."""
    try:
        async for piece in await opening:
            yield piece
    except SealBroken as exc:
        log.error("image %s: its sealed copy in store %s was altered or cut short: %s", image_id, store_id, exc)
        raise


async def _prepend(first: bytes, rest: AsyncIterator[bytes], sent: Callable[[int], None]) -> AsyncIterator[bytes]:
    if first:
        sent(len(first))
        yield first
    async for chunk in rest:
        sent(len(chunk))
        yield chunk
