"""Image data: the upload (and the start of every client data stream) and the download.

The bytes themselves go through THE data pipeline, ``glimpse.data.pipeline.run``: an upload is
request stream -> pipeline (blocks, size cap, quota, inspection of a bare container, md5 + the multihash in
parallel threads) -> the store -> ``Image.activate``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from glimpse.context import RequestContext
from glimpse.data import pipeline
from glimpse.data.atrest import AtRest
from glimpse.data.inspect import verdict
from glimpse.data.sealing import SealBroken
from glimpse.db import Database
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.formats import inspected
from glimpse.domain.images import Digests, Image, Location, Status
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
from glimpse.events import NO_EVENTS, Events, payloads
from glimpse.events.emit import Priority
from glimpse.metrics import Metrics
from glimpse.policy import Policy
from glimpse.services.images import ImageService, target_of
from glimpse.settings import Settings
from glimpse.stores.base import READ_ONLY_TYPES, RegionStore, Store, StoredObject
from glimpse.stores.region import FileRegion
from glimpse.stores.registry import StoreRegistry

if TYPE_CHECKING:
    from glimpse.services.cache import NodeCache

log = logging.getLogger(__name__)

# after a failed upload, while the database is unavailable: retry putting the image back to queued
SETTLE_FIRST_RETRY = 0.5
SETTLE_MAX_RETRY = 5.0
SETTLE_PATIENCE = 600.0


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an upload failed, for its ``image.upload`` error event (and whose image it was)."""

    owner: str | None
    reason: str


def plan(
    settings: Settings,
    *,
    expected: int | None = None,
    algorithms: tuple[str, ...] = (),
    inspect: bool = False,
    quota: Callable[[int], Awaitable[None]] | None = None,
    progress: Callable[[int], None] | None = None,
    checks: tuple[pipeline.Check | None, ...] = (),
    sealing: AtRest | None = None,
) -> pipeline.Plan:
    """The pipeline's plan with this deployment's block size and image size cap (``sealing``: the stores that
    encrypt at rest, for a plan that writes to the configured stores)."""
    return pipeline.Plan(
        block_size=settings.upload_block_size,
        cap=settings.image_size_cap,
        expected=expected,
        algorithms=algorithms,
        inspect=inspect,
        quota=quota,
        progress=progress,
        checks=tuple(check for check in checks if check is not None),
        sealing=sealing,
    )


def image_hashes(settings: Settings, algorithm: str | None = None) -> tuple[str, ...]:
    """What an image records: md5 (``checksum``) and the multihash (``os_hash_value``)."""
    return ("md5", algorithm or settings.hashing_algorithm)


def record(settings: Settings, image: Image, out: pipeline.Outcome, algorithm: str | None = None) -> Digests:
    """The digests an image becomes active with, once its data passed the format rules (ImageFormatError,
    a 415 on upload, when not)."""
    virtual_size = verdict(
        out.inspection,
        disk_format=image.disk_format,
        size=out.size,
        properties=image.properties,
        max_virtual_size=settings.max_virtual_size,
        require_match=settings.require_image_format_match,
    )
    return out.digests(algorithm or settings.hashing_algorithm, virtual_size=virtual_size)


async def start_receiving(
    db: Database,
    settings: Settings,
    image: Image,
    target: Status,
    declared_size: int | None,
    events: Events = NO_EVENTS,
    backend: str | None = None,
) -> None:
    """The start of every client data stream (upload: saving; stage: uploading): the image must be queued
    and is moved to ``target`` by compare-and-set, so two streams can never race for one image. As in
    Glance, that is an ``image.update``, and an upload's start an ``image.prepare`` (to ``backend``)."""
    if image.status != Status.QUEUED:
        raise InvalidTransition(image.status.value, target.value)
    if declared_size is not None and declared_size > settings.image_size_cap:
        raise TooLarge(f"Image size {declared_size} exceeds the image size cap of {settings.image_size_cap} bytes")

    def work(session: Any) -> bool:
        now = utcnow()
        if not ImageRepository(session).set_status(image.id, [Status.QUEUED], target, now):
            return False
        moved = dataclasses.replace(image, status=target, updated_at=now)
        events.emit(session, "image.update", payloads.image(moved))
        if target == Status.SAVING:
            events.emit(session, "image.prepare", payloads.image_data(moved, backend=backend))
        return True

    moved = await db.run(work)
    if not moved:
        raise InvalidTransition(target.value, target.value)


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
        self.cache: NodeCache | None = None  # this node's image cache, when it is on (set by the container)
        self.events: Events = NO_EVENTS  # the container sets it
        self.at_rest = AtRest()  # the stores that encrypt at rest (the container sets it)

    # -- upload ---------------------------------------------------------------------------------------
    async def upload(
        self,
        ctx: RequestContext,
        image_id: str,
        source: AsyncIterator[bytes],
        *,
        declared_size: int | None,
        store_id: str | None,
        checks: Sequence[pipeline.Check] = (),
    ) -> Image:
        """Stream ``source`` into the image; ``checks`` judge the whole stream's digest (with the signature's)
        before any store is told the data is complete (the catalog's pinned sha256)."""
        try:
            return await self._upload(ctx, image_id, source, declared_size=declared_size, store_id=store_id,
                                      checks=checks)  # fmt: skip
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
        checks: Sequence[pipeline.Check] = (),
    ) -> Image:
        image = await self.images.load(ctx, image_id, "upload_image")
        store = self.stores.for_upload(store_id)
        if store.type in READ_ONLY_TYPES:
            raise BadRequest(f"Store {store.id} is read-only: image data cannot be uploaded to it")
        if image.status == Status.QUEUED and (not image.disk_format or not image.container_format):
            raise BadRequest("Properties disk_format, container_format must be set prior to saving data.")
        verify = None
        if image.status == Status.QUEUED:
            self.images.keys.admit(image)
            verify = await self.images.signatures.prepare(ctx, image)
        claim = await self.images.quotas.claim(
            image.owner,
            {Resource.IMAGE_COUNT_UPLOADING: 1, Resource.IMAGE_SIZE_TOTAL: declared_size or 0},
            holder=f"upload:{image_id}",
        )
        try:
            await start_receiving(
                self.db, self.settings, image, Status.SAVING, declared_size, self.events, backend=store.id
            )
            await claim.drop(Resource.IMAGE_COUNT_UPLOADING)  # the image counts as uploading while 'saving'
            steps = plan(
                self.settings,
                expected=declared_size,
                algorithms=image_hashes(self.settings),
                inspect=inspected(image.container_format),
                quota=functools.partial(claim.cover, Resource.IMAGE_SIZE_TOTAL),
                checks=(verify, *checks),
                sealing=self.at_rest,
            )
            out = pipeline.Outcome()
            stored: StoredObject | None = None
            try:
                await pipeline.run(source, steps, [store], image_id, size_hint=declared_size, out=out)
                stored = out.stored[store.id]
                digests = record(self.settings, image, out)
                return await self._activate(image_id, store, stored, digests)
            except BaseException as exc:
                failure = Failure(image.owner, payloads.upload_failure(image_id, exc))
                unknown = isinstance(exc, DatabaseUnavailable)
                await self._undo(image_id, store, stored, outcome_unknown=unknown, failure=failure)
                raise
            finally:
                self.metrics.bytes_in(store.id, out.received)
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
            image.activate(digests, [Location(url=stored.url, store=store.id)], utcnow())
            repo.save(image)
            self.events.emit(session, "image.upload", payloads.image_data(image))
            self.events.emit(session, "image.activate", payloads.image(image))
            self.events.emit(session, "image.update", payloads.image(image))
            return image

        return await self.db.run(work)

    async def _undo(
        self, image_id: str, store: Store, stored: StoredObject | None, *, outcome_unknown: bool,
        failure: Failure | None = None,
    ) -> None:  # fmt: skip
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
            await asyncio.shield(self._settle(image_id, store, stored, failure))
        except DatabaseUnavailable:
            log.warning("image %s: the database is unavailable; back to queued once it answers", image_id)
            task = asyncio.get_running_loop().create_task(self._settle_patiently(image_id, store, stored, failure))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        except Exception:
            log.exception("could not put image %s back to queued after a failed upload", image_id)

    async def _settle(
        self, image_id: str, store: Store, stored: StoredObject | None, failure: Failure | None = None
    ) -> None:
        """Remove ``stored`` unless a committed activation references it, then put the image back to queued
        (with Glance's events of a failed upload: ``image.upload`` at ERROR priority, its payload the reason,
        then ``image.update``)."""
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

        def back_to_queued(session: Any) -> None:
            repo = ImageRepository(session)
            if repo.set_status(image_id, [Status.SAVING], Status.QUEUED, utcnow()) and failure is not None:
                self.events.emit(session, "image.upload", failure.reason, "ERROR", project=failure.owner)
                self.events.emit(session, "image.update", payloads.image(repo.get(image_id, None)))

        await self.db.run(back_to_queued)

    async def _settle_patiently(
        self, image_id: str, store: Store, stored: StoredObject | None, failure: Failure | None
    ) -> None:
        delay = waited = 0.0
        while True:
            delay = min(max(delay * 2, SETTLE_FIRST_RETRY), SETTLE_MAX_RETRY)
            await asyncio.sleep(delay)
            waited += delay
            try:
                await self._settle(image_id, store, stored, failure)
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


async def _quietly(awaitable: Any) -> None:
    try:
        await asyncio.shield(awaitable)
    except Exception:
        log.exception("cleanup failed")
