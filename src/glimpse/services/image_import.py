"""Interoperable image import: staging, the import call, and running an import task.

The import call only validates, moves the image to `importing` and records a durable task; a worker
(in-process by default, `glimpse worker` for scale) claims the task and runs it: it opens the source once
and writes it to every target store in parallel, hashing and inspecting it on the way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from glimpse.context import RequestContext
from glimpse.data import pipeline
from glimpse.data.fanout import delete_quietly
from glimpse.db import Database
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.formats import inspected
from glimpse.domain.images import READ_ONLY, Digests, Image, Location, Status, is_uuid, new_id
from glimpse.domain.quotas import Resource
from glimpse.domain.tasks import Task, TaskStatus, TaskType
from glimpse.errors import BadRequest, Conflict, NotFound
from glimpse.events import NO_EVENTS, Events, payloads
from glimpse.policy import Policy
from glimpse.services.image_data import image_hashes, plan, record, start_receiving
from glimpse.services.images import ImageService, target_of
from glimpse.services.remote_glance import RegionCatalog, RemoteImages
from glimpse.services.task_queue import TASK_TTL, Outcome, Progress, Step, TaskQueue
from glimpse.settings import HASH_ALGORITHMS, Settings
from glimpse.stores.base import READ_ONLY_TYPES, Store, StoredObject
from glimpse.stores.registry import StoreRegistry

log = logging.getLogger(__name__)

METHODS = ("glance-direct", "web-download", "copy-image", "glance-download")
# what glance-download does not copy from the remote image: the server's own and the import bookkeeping
_NOT_COPIED = frozenset(
    {
        "os_glance_import_task",
        "os_glance_importing_to_stores",
        "os_glance_failed_import",
        "os_glance_import_progress",
        "stores",
    }
)
IMPORT_TASK = "os_glance_import_task"
IMPORTING_TO = "os_glance_importing_to_stores"
FAILED_IMPORT = "os_glance_failed_import"
PROGRESS = "os_glance_import_progress"
# attributes of a remote image's representation that are not extra properties
REMOTE_CORE = READ_ONLY | frozenset(
    {"name", "visibility", "protected", "os_hidden", "min_disk", "min_ram", "container_format", "disk_format",
     "owner", "tags", "locations"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImportRequest:
    method: str
    uri: str | None
    remote: dict[str, str] | None
    stores: list[str]
    all_must_succeed: bool


def _requeue_stalled(image_id: str, session: Any) -> bool:
    return ImageRepository(session).set_status(image_id, [Status.UPLOADING], Status.QUEUED, utcnow(), size=None)


def _record_staged_size(image_id: str, size: int, session: Any) -> None:
    ImageRepository(session).set_status(image_id, [Status.UPLOADING], Status.UPLOADING, utcnow(), size=size)


def change_image(
    image_id: str, change: Callable[[Image], bool], saved: Callable[[Any, Image], None] | None = None
) -> Step:
    """A step that applies ``change`` to the image (locked; saved when ``change`` returns True, then
    ``saved(session, image)``); nothing when the image is gone."""

    def step(session: Any) -> None:
        repo = ImageRepository(session)
        try:
            image = repo.get(image_id, None, for_update=True)
        except NotFound:
            return
        if change(image):
            image.updated_at = utcnow()
            repo.save(image)
            if saved is not None:
                saved(session, image)

    return step


def _import_claim(image: Image, request: ImportRequest) -> dict[Resource, int]:
    """What an import reserves when it is asked for: a place among the uploading images (a staged image
    already has one), and the size of the copies when it is known (else reserved as the data arrives)."""
    known = image.size if request.method in ("glance-direct", "copy-image") and image.size is not None else 0
    return {
        Resource.IMAGE_COUNT_UPLOADING: 0 if request.method == "glance-direct" else 1,
        Resource.IMAGE_SIZE_TOTAL: known * len(request.stores),
    }


def _mtime(url: str) -> float:
    try:
        return os.stat(url.removeprefix("file://")).st_mtime
    except OSError:
        return time.time()


def _csv(values: list[str]) -> str:
    return ",".join(values)


_EXPECTED_STATUS = {
    "glance-direct": Status.UPLOADING,
    "web-download": Status.QUEUED,
    "copy-image": Status.ACTIVE,
    "glance-download": Status.QUEUED,
}


def _check_import_status(image: Image, method: str) -> None:
    """Conflict while another import runs, or unless ``image`` is in the status ``method`` imports from."""
    if IMPORT_TASK in image.properties and image.properties.get(IMPORTING_TO):
        raise Conflict(f"Image {image.id} is already being imported")
    if image.status == _EXPECTED_STATUS[method]:
        return
    if method == "glance-direct" and image.status == Status.QUEUED:
        raise Conflict(f"Image {image.id} has no staged data: use PUT /v2/images/{image.id}/stage first")
    raise Conflict(f"Image status transition from {image.status.value} to importing is not allowed for {method}")


class ImportService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        policy: Policy,
        images: ImageService,
        stores: StoreRegistry,
        staging: Store,
        open_url: Callable[[str], Awaitable[AsyncIterator[bytes]]],
        check_url: Callable[[str], Awaitable[None]],
        queue: TaskQueue,
    ) -> None:
        self.settings = settings
        self.db = db
        self.policy = policy
        self.images = images
        self.stores = stores
        self.staging = staging
        self.open_url = open_url
        self.check_url = check_url
        self.queue = queue
        self.events: Events = NO_EVENTS  # the container sets it
        self.regions = RegionCatalog(settings, None)  # the container gives it Keystone's catalog

    @property
    def methods(self) -> list[str]:
        return [
            method
            for method in self.settings.enabled_import_methods
            if method in METHODS and (method != "glance-download" or self.regions.available)
        ]

    # -- staging --------------------------------------------------------------------------------------
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
                # the staged size is what image_stage_total counts from now on (and Glance shows it)
                await self.db.run(functools.partial(_record_staged_size, image_id, out.size))
            except BaseException:
                await asyncio.shield(
                    self.db.run(
                        lambda s: ImageRepository(s).set_status(image_id, [Status.UPLOADING], Status.QUEUED, utcnow())
                    )
                )
                raise
        finally:
            await asyncio.shield(claim.release())

    def staged_url(self, image_id: str) -> str:
        url_for: Callable[[str], str] = getattr(self.staging, "url_for")  # noqa: B009
        return url_for(image_id)

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

    # -- the import call ------------------------------------------------------------------------------
    def _parse(self, image: Image, body: Mapping[str, Any]) -> ImportRequest:
        method = body.get("method")
        if not isinstance(method, dict) or not isinstance(method.get("name"), str):
            raise BadRequest("Import request requires a 'method' object with a 'name'.")
        name = method["name"]
        if name not in self.methods:
            raise BadRequest(f"Import method {name} is not supported by this deployment.")
        uri = method.get("uri")
        if name == "web-download" and (not isinstance(uri, str) or not uri):
            raise BadRequest("URI for web-download does not pass filtering: a 'uri' is required.")
        remote = None
        if name == "glance-download":  # Glance's checks; the region is looked up when the task runs
            remote_id, region = method.get("glance_image_id"), method.get("glance_region")
            if "glance_region" not in method:
                raise BadRequest("'glance_region' needs to be set for glance-download import method")
            if "glance_image_id" not in method:
                raise BadRequest("'glance_image_id' needs to be set for glance-download import method")
            if not isinstance(remote_id, str) or not is_uuid(remote_id):
                raise BadRequest(f"Remote image id does not look like a UUID: {remote_id}")
            remote = {
                "glance_image_id": remote_id,
                "glance_region": str(region),
                "glance_service_interface": str(method.get("glance_service_interface", "public")),
            }
        all_stores = body.get("all_stores", False)
        stores = body.get("stores")
        if not isinstance(all_stores, bool):
            raise BadRequest("'all_stores' must be a boolean")
        if stores is not None and (not isinstance(stores, list) or not all(isinstance(x, str) for x in stores)):
            raise BadRequest("'stores' must be a list of store identifiers")
        if all_stores and stores:
            raise BadRequest("All_stores parameter can't be used with x-image-meta-store header or stores parameter")
        must = body.get("all_stores_must_succeed", True)
        if not isinstance(must, bool):
            raise BadRequest("'all_stores_must_succeed' must be a boolean")
        if all_stores:  # read-only stores (http) only serve locations: never an import's target
            targets = [store.id for store in self.stores if store.type not in READ_ONLY_TYPES]
        elif stores:
            targets = list(dict.fromkeys(stores))
        else:
            targets = [self.stores.default_id]
        for store_id in targets:
            if store_id not in self.stores:  # Glance: 409 for an import (an upload says 400)
                raise Conflict(f"Store for identifier {store_id} not found")
            if self.stores.get(store_id).type in READ_ONLY_TYPES:
                raise Conflict(f"Store {store_id} is read-only: data cannot be imported into it")
        if name == "copy-image":
            if not all_stores:  # stores named one by one must all be new (Glance)
                for store_id in targets:
                    if store_id in image.stores:
                        raise BadRequest(f"Image is already present at store '{store_id}'")
            targets = [store_id for store_id in targets if store_id not in image.stores]
            if not targets:
                raise BadRequest("Image is already present at all requested stores")
        return ImportRequest(
            method=name,
            uri=uri if name == "web-download" else None,
            remote=remote,
            stores=targets,
            all_must_succeed=must,
        )

    async def start(
        self,
        ctx: RequestContext,
        image_id: str,
        body: Mapping[str, Any],
        *,
        task_type: TaskType = TaskType.API_IMAGE_IMPORT,
        task_input: Mapping[str, Any] | None = None,
    ) -> Task:
        image = await self.images.load(ctx, image_id)
        request = self._parse(image, body)
        if request.method == "copy-image":
            self.policy.enforce(ctx, "copy_image", target_of(image))
        else:
            self.policy.enforce(ctx, "modify_image", target_of(image))
        # Glance's order: the image's status, its formats (409), then web-download's filtering (400)
        _check_import_status(image, request.method)
        if not image.container_format:
            raise Conflict("'container_format' needs to be set before import")
        if not image.disk_format:
            raise Conflict("'disk_format' needs to be set before import")
        if request.method == "web-download":
            assert request.uri is not None
            await self.check_url(request.uri)
        task_input = {
            **(task_input or {}),
            **await self.images.signatures.task_input(ctx, image, copy=request.method == "copy-image"),
        }
        now = utcnow()
        task = Task(
            id=new_id(), type=task_type, status=TaskStatus.PENDING, owner=image.owner,
            created_at=now, updated_at=now, image_id=image_id, user_id=ctx.user_id, request_id=ctx.request_id,
            input={"image_id": image_id,
                   "method": {"name": request.method, "uri": request.uri, **(request.remote or {})},
                   "stores": request.stores, "all_stores_must_succeed": request.all_must_succeed,
                   "backend": request.stores, "import_req": dict(body), **(task_input or {})},
            expires_at=now + TASK_TTL,
        )  # fmt: skip
        if request.method == "glance-download" and ctx.auth_token:
            self.regions.hold_token(task.id, ctx.auth_token)

        def work(session: Any) -> None:
            repo = ImageRepository(session)
            current = repo.get(image_id, ctx, for_update=True)
            _check_import_status(current, request.method)
            if request.method != "copy-image":
                current.move_to(Status.IMPORTING, now)
            current.properties[IMPORT_TASK] = task.id
            current.properties[IMPORTING_TO] = _csv(request.stores)
            # as Glance: the stores of this import leave the failed list (which then usually reads "")
            failed = set(current.properties.get(FAILED_IMPORT, "").split(",")) - set(request.stores) - {""}
            current.properties[FAILED_IMPORT] = _csv(sorted(failed))
            current.updated_at = now
            repo.save(current)
            self.queue.enqueue(session, task)
            self.events.emit(session, "task.create", payloads.task(task))
            self.events.emit(session, "image.update", payloads.image(current))

        claim = await self.images.quotas.claim(
            image.owner, _import_claim(image, request), holder=f"import:{task.id}", hold=TASK_TTL
        )
        try:
            await self.db.run(work)
        except BaseException:
            await asyncio.shield(claim.release())
            raise
        await claim.drop(Resource.IMAGE_COUNT_UPLOADING)  # the image counts as uploading while importing
        return task

    # -- running a task (called by a worker) ----------------------------------------------------------
    async def run(self, task: Task, progress: Progress) -> Outcome:
        image_id = task.image_id
        assert image_id is not None
        method = task.input["method"]["name"]
        targets = [self.stores.get(store_id) for store_id in task.input["stores"]]
        must = bool(task.input.get("all_stores_must_succeed", True))
        image = await self.db.run(lambda s: ImageRepository(s).get(image_id, None))
        if self.events.on:  # as Glance: the task is processing, the data is about to be written
            await self.db.run(functools.partial(self._started, task, image))
        total: int | None = image.size if method == "copy-image" else None
        remote: dict[str, Any] | None = None
        remote_images: RemoteImages | None = None
        if method == "glance-download":
            remote_images = await self._remote(task)
            remote = await remote_images.show(task.input["method"]["glance_image_id"])
            if remote.get("status") != "active":
                raise BadRequest(f"Source image status should be active instead of {remote.get('status')}")
            total = remote.get("size")
            # the remote's formats become the image's (as Glance), and its data is inspected against them
            image = await self._copy_remote_properties(image.id, remote)
        claim = await self.images.quotas.resume(image.owner, f"import:{task.id}", hold=TASK_TTL)
        source = await self._open_source(image, method, task, remote_images)
        try:
            if method == "copy-image":
                known = (image.os_hash_algo, image.os_hash_value)
            elif remote is not None:
                known = (remote.get("os_hash_algo"), remote.get("os_hash_value"))
            else:
                known = (None, None)
            copies = len(targets)

            async def quota(size: int) -> None:  # every target store keeps a copy
                await claim.cover(Resource.IMAGE_SIZE_TOTAL, size * copies)

            return await self._copy(task, image, method, source, targets, must, total, progress, known, quota)
        finally:
            close = getattr(source, "aclose", None)
            if close is not None:
                await close()
            await asyncio.shield(claim.release())

    async def _copy(
        self,
        task: Task,
        image: Image,
        method: str,
        source: AsyncIterator[bytes],
        targets: list[Store],
        must: bool,
        total: int | None,
        progress: Progress,
        known: tuple[str | None, str | None],
        quota: Callable[[int], Awaitable[None]],
    ) -> Outcome:
        """Stream ``source`` into the targets; ``known`` is the (algorithm, digest) the data must match."""
        image_id = image.id
        known_algo, known_hash = known
        algorithm = known_algo if known_algo in HASH_ALGORITHMS and known_hash else self.settings.hashing_algorithm
        expected = image.size if method == "copy-image" else total if method == "glance-download" else None
        steps = plan(
            self.settings,
            expected=expected,
            algorithms=image_hashes(self.settings, algorithm),
            inspect=method != "copy-image" and inspected(image.container_format),
            quota=quota,
            progress=lambda done: progress(done, total),
            checks=(self.images.signatures.for_task(task.input, image, copy=method == "copy-image"),),
        )
        out = await pipeline.run(source, steps, targets, image_id, size_hint=expected, all_must_succeed=must)
        try:
            digests = record(self.settings, image, out, algorithm)
            if known_hash and digests.hash_algo == known_algo and digests.hash_value != known_hash:
                raise BadRequest(f"The data read for image {image_id} does not match its recorded {known_algo} hash")
        except BadRequest:
            for obj in out.stored.values():
                await delete_quietly(targets, obj)
            raise
        return self._outcome(task, out.stored, out.failures, digests)

    async def _remote(self, task: Task) -> RemoteImages:
        method = task.input["method"]
        return await self.regions.remote(
            str(method["glance_region"]), str(method.get("glance_service_interface")), task.id
        )

    async def _copy_remote_properties(self, image_id: str, remote: Mapping[str, Any]) -> Image:
        """The remote image's formats, extra properties (and boot requirements) come along, as Glance does."""
        core = ("min_disk", "min_ram")

        def work(session: Any) -> Image:
            repo = ImageRepository(session)
            image = repo.get(image_id, None, for_update=True)
            for name in ("disk_format", "container_format"):
                if isinstance(remote.get(name), str) and remote[name]:
                    setattr(image, name, remote[name])
            for name in core:
                if isinstance(remote.get(name), int):
                    setattr(image, name, remote[name])
            for name, value in remote.items():
                if (
                    isinstance(value, str)
                    and name not in _NOT_COPIED
                    and name not in image.properties
                    and not name.startswith("os_glance")
                    and name not in REMOTE_CORE
                ):
                    image.properties[name] = value
            repo.save(image)
            return image

        return await self.db.run(work)

    async def _open_source(
        self, image: Image, method: str, task: Task, remote: RemoteImages | None = None
    ) -> AsyncIterator[bytes]:
        if method == "glance-download":
            assert remote is not None
            return remote.data(task.input["method"]["glance_image_id"])
        if method == "glance-direct":
            return aiter(self.staging.open(self.staged_url(image.id)))
        if method == "web-download":
            return await self.open_url(str(task.input["method"]["uri"]))
        copies = {loc.store: loc.url for loc in image.locations}
        for store in self.stores.by_weight(image.stores):
            return aiter(store.open(copies[store.id]))
        raise Conflict(f"Image {image.id} has no data to copy")

    def _outcome(
        self, task: Task, stored: dict[str, StoredObject], failures: dict[str, BaseException], digests: Digests
    ) -> Outcome:
        """The end of a run: the image is finished in the transaction that marks the task a success."""
        image_id = task.image_id
        assert image_id is not None
        method = task.input["method"]["name"]
        referenced: set[str] = set()

        def finish(session: Any) -> None:
            repo = ImageRepository(session)
            try:
                image = repo.get(image_id, None, for_update=True)
            except NotFound:
                raise Conflict(f"Image {image_id} was deleted while it was being imported") from None
            referenced.update(location.url for location in image.locations)
            if image.properties.get(IMPORT_TASK) != task.id or (
                method != "copy-image" and image.status != Status.IMPORTING
            ):
                raise Conflict(f"Image {image_id} was deleted or changed while it was being imported")
            copies = [Location(url=obj.url, store=store_id) for store_id, obj in stored.items()]
            if method == "copy-image":
                image.locations = [*image.locations, *copies]
            else:
                image.activate(digests, copies, utcnow())
            _end_import(image, failed=sorted(failures))
            image.updated_at = utcnow()
            repo.save(image)
            self.events.emit(session, "image.upload", payloads.image_data(image))
            if method != "copy-image":
                self.events.emit(session, "image.activate", payloads.image(image))
            self.events.emit(session, "image.update", payloads.image(image))
            self._task_event(session, task, "task.success", TaskStatus.SUCCESS)

        async def abort() -> None:  # the image went away or changed: remove the copies nothing references
            for obj in stored.values():
                if obj.url not in referenced:
                    await delete_quietly(list(self.stores), obj)

        async def after() -> None:
            if method == "glance-direct":
                await self.staging.delete(self.staged_url(image_id))

        return Outcome(
            result={"image_id": image_id, "stores": sorted(stored), "failed_stores": sorted(failures)},
            finish=finish,
            after=after,
            abort=abort,
        )

    async def undo(self, task: Task, reason: str) -> Step:
        """Undo an import that will not complete: the image goes back to where the import found it."""
        image_id = task.image_id
        assert image_id is not None
        method = task.input["method"]["name"]
        staged = method == "glance-direct" and await self.staging.stat(self.staged_url(image_id)) is not None
        await asyncio.shield(self.images.quotas.release(f"import:{task.id}", None))

        def change(image: Image) -> bool:
            if image.properties.get(IMPORT_TASK) not in (task.id, None):
                return False  # a later import owns the image now
            if image.status == Status.IMPORTING:
                image.move_to(Status.UPLOADING if staged else Status.QUEUED, utcnow())
            _end_import(image, failed=sorted(task.input["stores"]))
            return True

        def saved(session: Any, image: Image) -> None:
            self.events.emit(session, "image.update", payloads.image(image))
            self._task_event(session, task, "task.failure", TaskStatus.FAILURE)

        log.warning("import task %s for image %s failed: %s", task.id, image_id, reason)
        return change_image(image_id, change, saved)

    def _started(self, task: Task, image: Image, session: Any) -> None:
        self._task_event(session, task, "task.processing", TaskStatus.PROCESSING)
        self.events.emit(session, "image.prepare", payloads.image_data(image))

    def _task_event(self, session: Any, task: Task, event_type: str, status: TaskStatus) -> None:
        self.events.emit(
            session, event_type, payloads.task(dataclasses.replace(task, status=status, updated_at=utcnow()))
        )

    def on_progress(self, task: Task, done: int, total: int | None, session: Any) -> None:
        """Progress is visible on the image too, as `os_glance_import_progress` = "done/total"."""
        image_id = task.image_id
        assert image_id is not None
        repo = ImageRepository(session)
        try:
            image = repo.get(image_id, None)
        except NotFound:
            return
        if image.properties.get(IMPORT_TASK) == task.id and image.properties.get(IMPORTING_TO):
            image.properties[PROGRESS] = f"{done}/{total if total is not None else '?'}"
            repo.save(image)


def _end_import(image: Image, *, failed: list[str]) -> None:
    """The bookkeeping of a finished import, as Glance keeps it: the lock (``os_glance_import_task``) is
    dropped, nothing is importing any more, and the stores that failed are listed, sorted."""
    image.properties.pop(IMPORT_TASK, None)
    image.properties.pop(PROGRESS, None)
    image.properties[IMPORTING_TO] = ""
    known = set(image.properties.get(FAILED_IMPORT, "").split(",")) - {""}
    image.properties[FAILED_IMPORT] = _csv(sorted(known | set(failed)))


@dataclass(frozen=True, slots=True)
class SweepReport:
    removed: list[str]
    freed_bytes: int
    requeued: list[str]
