"""THE data pipeline: every byte uploaded or downloaded goes through here, streamed, never whole in memory.

Upload: request stream -> fixed-size blocks -> size cap / expected-size check -> md5 and the multihash,
each in its own thread (hashlib releases the GIL) while the store writes the same block -> store.
Import: the same reader, then `write_to_stores` fans the blocks out to several stores at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from glimpse.concurrency import SerialWorker
from glimpse.context import RequestContext
from glimpse.db import Database
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.formats import FormatInspector, check
from glimpse.domain.images import Image, Location, Status
from glimpse.domain.quotas import Resource
from glimpse.errors import (
    BadRequest,
    DatabaseUnavailable,
    Forbidden,
    InvalidTransition,
    NotFound,
    RangeNotSatisfiable,
    StoreError,
    StoreUnavailable,
    TooLarge,
)
from glimpse.metrics import Metrics
from glimpse.policy import Policy
from glimpse.services.images import ImageService, target_of
from glimpse.settings import Settings
from glimpse.stores.base import READ_ONLY_TYPES, Block, Store, StoredObject
from glimpse.stores.registry import StoreRegistry

log = logging.getLogger(__name__)

TAIL_BYTES = 512  # a fixed VHD's footer: the only format recognised by its end

# after a failed upload, while the database is unavailable: retry putting the image back to queued
SETTLE_FIRST_RETRY = 0.5
SETTLE_MAX_RETRY = 5.0
SETTLE_PATIENCE = 600.0


@dataclass(slots=True)
class Digests:
    size: int
    checksum: str
    hash_algo: str
    hash_value: str
    virtual_size: int | None = None


class HashingReader:
    """Re-blocks a byte stream, enforces size limits and hashes every block off the event loop.

    Each hash has its own SerialWorker thread, so its updates run in block order while the two hashes, the
    store's write and the receipt of the next blocks all proceed at once. At most ``in_flight`` blocks wait
    for each hash, which bounds memory to a few blocks per upload.
    """

    def __init__(
        self,
        source: AsyncIterator[bytes],
        *,
        block_size: int,
        cap: int,
        expected: int | None,
        algorithm: str,
        in_flight: int = 3,
        inspect: bool = True,
        quota: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self.source = source
        self.quota = quota  # awaited with the size so far before each block goes on (raises OverLimit)
        self.block_size = block_size
        self.cap = cap
        self.expected = expected
        self.algorithm = algorithm
        self.in_flight = in_flight
        self._hashers = [hashlib.md5(usedforsecurity=False), hashlib.new(algorithm)]
        self.size = 0
        # image safety: the inspector keeps a bounded prefix (and the last bytes) of the stream
        self.inspector = FormatInspector() if inspect else None
        self._tail = b""
        self.virtual_size: int | None = None

    def _check_size(self) -> None:
        if self.size > self.cap:
            raise TooLarge(
                f"Image exceeds the storage quota: the upload is larger than the image size cap of {self.cap} bytes"
            )
        if self.expected is not None and self.size > self.expected:
            raise BadRequest(
                f"Image data is larger than the declared size of {self.expected} bytes (x-openstack-image-size)"
            )

    async def _blocks(self) -> AsyncIterator[bytearray]:
        buffer = bytearray()
        async for chunk in self.source:
            self.size += len(chunk)
            self._check_size()
            buffer += chunk
            if len(buffer) >= self.block_size:
                await self._pass(buffer)
                yield buffer
                buffer = bytearray()
        if buffer:
            await self._pass(buffer)
            yield buffer
        if self.expected is not None and self.size != self.expected:
            raise BadRequest(
                f"Image data is {self.size} bytes but {self.expected} bytes were declared (x-openstack-image-size)"
            )

    async def _pass(self, block: bytearray) -> None:
        if self.quota is not None:
            await self.quota(self.size)
        self._inspect(block)

    def _inspect(self, block: bytearray) -> None:
        if self.inspector is None:
            return
        if not self.inspector.done:
            self.inspector.feed(block)
        self._tail = (self._tail + bytes(block[-TAIL_BYTES:]))[-TAIL_BYTES:]

    def verify_format(self, disk_format: str | None, *, max_virtual_size: int) -> None:
        """Refuse data that does not match ``disk_format`` or is unsafe (ImageFormatError, a 400); remember
        the virtual size the header gives (for raw data, its size)."""
        if self.inspector is None:
            return
        self.inspector.feed_tail(self._tail)
        inspection = self.inspector.result()
        check(inspection, disk_format or "raw", max_virtual_size=max_virtual_size)
        self.virtual_size = inspection.virtual_size if inspection.virtual_size is not None else self.size

    async def __aiter__(self) -> AsyncIterator[Block]:
        async with contextlib.AsyncExitStack() as stack:
            workers = [await stack.enter_async_context(SerialWorker(self.in_flight, "hash")) for _ in self._hashers]
            async for block in self._blocks():
                for worker, hasher in zip(workers, self._hashers, strict=True):
                    await worker.submit(hasher.update, block)
                yield block

    def digests(self) -> Digests:
        md5, multi = self._hashers
        return Digests(
            size=self.size,
            checksum=md5.hexdigest(),
            hash_algo=self.algorithm,
            hash_value=multi.hexdigest(),
            virtual_size=self.virtual_size,
        )


async def start_receiving(
    db: Database,
    settings: Settings,
    image: Image,
    target: Status,
    source: AsyncIterator[bytes],
    declared_size: int | None,
    *,
    inspect: bool = True,
    quota: Callable[[int], Awaitable[None]] | None = None,
) -> HashingReader:
    """The start of every client data stream (upload: saving; stage: uploading): the image must be queued
    and is moved to ``target`` by compare-and-set, so two streams can never race for one image."""
    if image.status != Status.QUEUED:
        raise InvalidTransition(image.status.value, target.value)
    if declared_size is not None and declared_size > settings.image_size_cap:
        raise TooLarge(f"Image size {declared_size} exceeds the image size cap of {settings.image_size_cap} bytes")
    moved = await db.run(lambda s: ImageRepository(s).set_status(image.id, [Status.QUEUED], target, utcnow()))
    if not moved:
        raise InvalidTransition(target.value, target.value)
    return HashingReader(
        source,
        block_size=settings.upload_block_size,
        cap=settings.image_size_cap,
        expected=declared_size,
        algorithm=settings.hashing_algorithm,
        inspect=inspect,
        quota=quota,
    )


@dataclass(slots=True)
class Download:
    """What the HTTP layer needs to send image data: the byte range and a primed stream."""

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


class ImageDataService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        policy: Policy,
        images: ImageService,
        stores: StoreRegistry,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.policy = policy
        self.images = images
        self.stores = stores
        self.metrics = metrics or Metrics(store.id for store in stores)
        self._background: set[asyncio.Task[None]] = set()

    # -- upload ---------------------------------------------------------------------------------------
    async def upload(
        self,
        ctx: RequestContext,
        image_id: str,
        source: AsyncIterator[bytes],
        *,
        declared_size: int | None,
        store_id: str | None,
    ) -> Image:
        try:
            return await self._upload(ctx, image_id, source, declared_size=declared_size, store_id=store_id)
        except BaseException as exc:
            self.metrics.upload_failed(exc)
            raise

    async def _upload(
        self,
        ctx: RequestContext,
        image_id: str,
        source: AsyncIterator[bytes],
        *,
        declared_size: int | None,
        store_id: str | None,
    ) -> Image:
        image = await self.images.load(ctx, image_id, "upload_image")
        store = self.stores.for_upload(store_id)
        if store.type in READ_ONLY_TYPES:
            raise BadRequest(f"Store {store.id} is read-only: image data cannot be uploaded to it")
        if image.status == Status.QUEUED and (not image.disk_format or not image.container_format):
            raise BadRequest("Properties disk_format, container_format must be set prior to saving data.")
        claim = await self.images.quotas.claim(
            image.owner,
            {Resource.IMAGE_COUNT_UPLOADING: 1, Resource.IMAGE_SIZE_TOTAL: declared_size or 0},
            holder=f"upload:{image_id}",
        )
        try:
            reader = await start_receiving(
                self.db, self.settings, image, Status.SAVING, source, declared_size,
                quota=functools.partial(claim.cover, Resource.IMAGE_SIZE_TOTAL),
            )  # fmt: skip
            await claim.drop(Resource.IMAGE_COUNT_UPLOADING)  # the image counts as uploading while 'saving'
            stored: StoredObject | None = None
            try:
                stored = await store.put(image_id, aiter(reader), size_hint=declared_size)
                reader.verify_format(image.disk_format, max_virtual_size=self.settings.max_virtual_size)
                return await self._activate(image_id, store, stored, reader.digests())
            except BaseException as exc:
                await self._undo(image_id, store, stored, outcome_unknown=isinstance(exc, DatabaseUnavailable))
                raise
            finally:
                self.metrics.bytes_in(store.id, reader.size)
        finally:
            await asyncio.shield(claim.release())

    async def _activate(self, image_id: str, store: Store, stored: StoredObject, digests: Digests) -> Image:
        def work(session: Any) -> Image:
            repo = ImageRepository(session)
            try:
                image = repo.get(image_id, None, for_update=True)
            except NotFound:
                raise NotFound(f"Image {image_id} was deleted while its data was being uploaded") from None
            if image.status != Status.SAVING:
                raise InvalidTransition(image.status.value, Status.ACTIVE.value)
            image.status = Status.ACTIVE
            image.size = digests.size
            image.checksum = digests.checksum
            image.virtual_size = digests.virtual_size
            image.virtual_size = digests.virtual_size
            image.os_hash_algo = digests.hash_algo
            image.os_hash_value = digests.hash_value
            image.locations = [Location(url=stored.url, store=store.id)]
            image.updated_at = utcnow()
            repo.save(image)
            return image

        return await self.db.run(work)

    async def _undo(self, image_id: str, store: Store, stored: StoredObject | None, *, outcome_unknown: bool) -> None:
        """After a failed upload: remove what was written, then put the image back to queued, as Glance does.

        The data goes first, while the image is still 'saving' so that no other upload of it can start. When
        the database failed during the activation, that activation may have committed all the same: then the
        database decides before anything is removed. While the database stays unavailable this is retried
        in the background (after a crash, the start-up recovery does it).
        """
        if stored is not None and not outcome_unknown:
            await _quietly(store.delete(stored.url))
            stored = None
        try:
            await asyncio.shield(self._settle(image_id, store, stored))
        except DatabaseUnavailable:
            log.warning("image %s: the database is unavailable; back to queued once it answers", image_id)
            task = asyncio.get_running_loop().create_task(self._settle_patiently(image_id, store, stored))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        except Exception:
            log.exception("could not put image %s back to queued after a failed upload", image_id)

    async def _settle(self, image_id: str, store: Store, stored: StoredObject | None) -> None:
        """Remove ``stored`` unless a committed activation references it, then put the image back to queued."""
        if stored is not None:
            url = stored.url

            def committed(session: Any) -> bool:
                try:  # the row lock waits for a commit still in flight, so its outcome is known here
                    image = ImageRepository(session).get(image_id, None, for_update=True)
                except NotFound:
                    return False
                return any(location.url == url for location in image.locations)

            if await self.db.run(committed):
                log.warning("image %s: its activation committed despite the database error; it is active", image_id)
                return
            await _quietly(store.delete(url))
        await self.db.run(lambda s: ImageRepository(s).set_status(image_id, [Status.SAVING], Status.QUEUED, utcnow()))

    async def _settle_patiently(self, image_id: str, store: Store, stored: StoredObject | None) -> None:
        delay = waited = 0.0
        while True:
            delay = min(max(delay * 2, SETTLE_FIRST_RETRY), SETTLE_MAX_RETRY)
            await asyncio.sleep(delay)
            waited += delay
            try:
                await self._settle(image_id, store, stored)
            except DatabaseUnavailable:
                if waited < SETTLE_PATIENCE:
                    continue
                log.error(
                    "image %s stays in 'saving': the database did not answer for %.0fs; the start-up recovery or "
                    "`glimpse fsck --repair` puts it back to queued",
                    image_id,
                    waited,
                )
            except Exception:
                log.exception("could not put image %s back to queued after a failed upload", image_id)
            else:
                log.info("image %s: back to queued after its failed upload", image_id)
            return

    # -- download -------------------------------------------------------------------------------------
    async def download(self, ctx: RequestContext, image_id: str, range_header: str | None) -> Download | None:
        image = await self.images.load(ctx, image_id, "download_image")
        if image.status == Status.DEACTIVATED and not self.policy.check(ctx, "context_is_admin", target_of(image)):
            raise Forbidden("The requested image has been deactivated. Image data download is forbidden.")
        if not image.locations or image.size is None:
            return None
        total = image.size
        requested = parse_range(range_header, total)
        start, length = requested if requested is not None else (0, total)
        body = await self._open_any(image, start, length)
        if body is None:
            return None
        return Download(image=image, total=total, start=start, length=length, partial=requested is not None, body=body)

    async def _open_any(self, image: Image, start: int, length: int) -> AsyncIterator[bytes] | None:
        """Open the heaviest store's copy; fall back to the next copy when one cannot be read.

        None when every copy is missing (as Glance, the download is then a 204); StoreUnavailable when a
        copy may exist but no store could serve it.
        """
        unavailable: StoreError | None = None
        urls = {loc.store: loc.url for loc in image.locations}
        for store in self.stores.by_weight(image.stores):
            stream = aiter(store.open(urls[store.id], start, length))
            try:
                first = await anext(stream, b"")
            except NotFound as exc:
                log.error("image %s: its data is missing from store %s: %s", image.id, store.id, exc)
                continue
            except StoreError as exc:
                log.warning("image %s: store %s could not serve its copy: %s", image.id, store.id, exc)
                unavailable = exc
                continue
            return _prepend(first, stream, functools.partial(self.metrics.bytes_out, store.id))
        if unavailable is not None:
            raise StoreUnavailable(f"No store could serve the data of image {image.id}") from unavailable
        return None


async def _prepend(first: bytes, rest: AsyncIterator[bytes], sent: Callable[[int], None]) -> AsyncIterator[bytes]:
    if first:
        sent(len(first))
        yield first
    async for chunk in rest:
        sent(len(chunk))
        yield chunk


async def _quietly(awaitable: Any) -> None:
    try:
        await asyncio.shield(awaitable)
    except Exception:
        log.exception("cleanup failed")


async def write_to_stores(
    stores: list[Store], key: str, blocks: AsyncIterator[Block], *, size_hint: int | None, all_must_succeed: bool
) -> tuple[dict[str, StoredObject], dict[str, BaseException]]:
    """Write one stream to several stores at once, reading the source once.

    Each store consumes its own bounded queue, so a slow store slows the source instead of buffering the
    image. A store that fails is dropped (or, with ``all_must_succeed``, everything stops and what was
    written is deleted). Returns what each store stored and why each failed store failed.
    """
    queues: dict[str, asyncio.Queue[Block | None]] = {store.id: asyncio.Queue(maxsize=2) for store in stores}

    async def drain(queue: asyncio.Queue[Block | None]) -> AsyncIterator[Block]:
        while (block := await queue.get()) is not None:
            yield block

    writers = {store.id: asyncio.create_task(store.put(key, drain(queues[store.id]), size_hint)) for store in stores}
    failures: dict[str, BaseException] = {}

    def check_writers() -> None:
        for store_id, writer in writers.items():
            if writer.done() and store_id not in failures and writer.exception() is not None:
                failures[store_id] = writer.exception()  # type: ignore[assignment]
                queues.pop(store_id, None)
                log.warning("write to store %s failed: %s", store_id, failures[store_id])
        if failures and (all_must_succeed or not queues):
            raise next(iter(failures.values()))

    try:
        async for block in blocks:
            check_writers()
            for store_id, queue in list(queues.items()):
                while True:
                    try:
                        await asyncio.wait_for(queue.put(block), timeout=1.0)
                        break
                    except TimeoutError:
                        check_writers()
                        if store_id not in queues:
                            break
        for queue in queues.values():
            await queue.put(None)
        await asyncio.wait(writers.values())
        check_writers()
    except BaseException as exc:
        for writer in writers.values():
            writer.cancel()
        results = await asyncio.gather(*writers.values(), return_exceptions=True)
        # a cancelled import was abandoned by a worker that lost its task: what it finished writing has the
        # name the run now owning the task writes to, so it is left alone (at worst an orphan for fsck)
        if not isinstance(exc, asyncio.CancelledError):
            for result in results:
                if isinstance(result, StoredObject):
                    await delete_quietly(stores, result)
        raise
    stored = {store_id: writer.result() for store_id, writer in writers.items() if store_id not in failures}
    return stored, failures


async def delete_quietly(stores: list[Store], stored: StoredObject) -> None:
    for store in stores:
        try:
            await store.delete(stored.url)
            return
        except NotFound:
            continue
        except Exception:
            log.exception("could not remove %s after a failed write", stored.url)
            return
