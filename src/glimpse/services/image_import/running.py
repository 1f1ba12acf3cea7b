"""Running an import task: the source opened once and streamed through the data pipeline into every target store;
the image finished in the transaction that marks the task a success, or put back when the task is undone.

Each attempt writes under a key of its own (``<image id>.attempt-<token>``, stores/base.attempt_key): a worker
that was paused past task_stale_after and resumes after the retry finished can complete its download, but its
copy lands beside the retry's, never over it; the task is not its own any more, so nothing records its copy,
and it removes it (``abandon``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from glimpse.data import pipeline
from glimpse.data.fanout import delete_quietly
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.formats import inspected
from glimpse.domain.images import READ_ONLY, Digests, Image, Location, Status
from glimpse.domain.quotas import Resource
from glimpse.domain.tasks import Task, TaskStatus
from glimpse.errors import BadRequest, Conflict, NotFound
from glimpse.events import payloads
from glimpse.services.image_data import image_hashes, plan, record
from glimpse.services.image_import.base import ImportBase
from glimpse.services.image_import.bookkeeping import IMPORT_TASK, IMPORTING_TO, PROGRESS, _end_import, change_image
from glimpse.services.quotas import Claim
from glimpse.services.remote_glance import RemoteImages
from glimpse.services.task_queue import TASK_TTL, Outcome, Progress, Step
from glimpse.settings import HASH_ALGORITHMS
from glimpse.stores.base import Store, StoredObject, attempt_key

Copied = tuple[dict[str, StoredObject], dict[str, BaseException], Digests]
"""What a run wrote: the copies by store, the stores that failed, the data's digests."""

log = logging.getLogger("glimpse.services.image_import")  # the package's name: what operators filter on


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
# attributes of a remote image's representation that are not extra properties
REMOTE_CORE = READ_ONLY | frozenset(
    {"name", "visibility", "protected", "os_hidden", "min_disk", "min_ram", "container_format", "disk_format",
     "owner", "tags", "locations"}
)  # fmt: skip


class ImportRun(ImportBase):
    """Running an import task (called by a worker): open the source once, write every target, finish or undo."""

    def holding(self, task: Task) -> AbstractAsyncContextManager[None]:
        """The image's writer lock, held by the worker from before this attempt writes until its data is
        recorded or undone: once that worker dies, any node's recovery removes what it left, and never sooner."""
        assert task.image_id is not None
        return self.db.writers.holding(task.image_id)

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

            outcome = await self._copy(task, image, method, source, targets, must, total, progress, known, quota)
        except BaseException:
            await asyncio.shield(claim.release())
            raise
        finally:
            close = getattr(source, "aclose", None)
            if close is not None:
                await close()
        # held until the outcome's transaction records the copies (it settles the claim); a refused outcome's
        # undo releases it, and a run that another attempt took over leaves it to that attempt
        return self._outcome(task, outcome, claim)

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
    ) -> Copied:
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
            sealing=self.at_rest,
        )
        # under this attempt's own key: an earlier attempt resuming late never writes over this one's data
        key = attempt_key(image_id, secrets.token_hex(4))
        out = await pipeline.run(source, steps, targets, key, size_hint=expected, all_must_succeed=must)
        try:
            digests = record(self.settings, image, out, algorithm)
            if known_hash and digests.hash_algo == known_algo and digests.hash_value != known_hash:
                raise BadRequest(f"The data read for image {image_id} does not match its recorded {known_algo} hash")
        except BadRequest:
            for obj in out.stored.values():
                await delete_quietly(targets, obj)
            raise
        return out.stored, out.failures, digests

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
            return self.at_rest.stream(store, copies[store.id], size=image.size)
        raise Conflict(f"Image {image.id} has no data to copy")

    def _outcome(self, task: Task, copied: Copied, claim: Claim[Resource]) -> Outcome:
        """The end of a run: the image is finished in the transaction that marks the task a success."""
        stored, failures, digests = copied
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
            claim.settle(session)  # the copies count from this commit on, instead of the hold

        async def abort() -> None:  # the image went away or changed: remove the copies nothing references
            for obj in stored.values():
                if obj.url not in referenced:
                    await delete_quietly(list(self.stores), obj)

        async def abandon() -> None:  # another attempt took the task over: these copies are this attempt's own
            for obj in stored.values():
                await delete_quietly(list(self.stores), obj)

        async def after() -> None:
            if method == "glance-direct":
                await self.staging.delete(self.staged_url(image_id))

        return Outcome(
            result={"image_id": image_id, "stores": sorted(stored), "failed_stores": sorted(failures)},
            finish=finish,
            after=after,
            abort=abort,
            abandon=abandon,
        )

    async def undo(self, task: Task, reason: str) -> Step:
        """Undo an import that will not complete: the image goes back to where the import found it."""
        image_id = task.image_id
        assert image_id is not None
        method = task.input["method"]["name"]
        staged = method == "glance-direct" and await self.staging.stat(self.staged_url(image_id)) is not None
        await asyncio.shield(self.images.quotas.release(f"import:{task.id}", None))

        writing = [False]  # the import had started writing the image's data (Glance's set_data failed)

        def change(image: Image) -> bool:
            if image.properties.get(IMPORT_TASK) not in (task.id, None):
                return False  # a later import owns the image now
            writing[0] = image.status == Status.IMPORTING or bool(image.properties.get(IMPORTING_TO))
            if image.status == Status.IMPORTING:
                image.move_to(Status.UPLOADING if staged else Status.QUEUED, utcnow())
            _end_import(image, failed=sorted(task.input["stores"]))
            return True

        def saved(session: Any, image: Image) -> None:
            if writing[0]:  # as Glance: image.upload at ERROR priority, its payload the reason
                self.events.emit(
                    session, "image.upload", payloads.import_failure(image_id, method, reason), "ERROR",
                    project=image.owner,
                )  # fmt: skip
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
