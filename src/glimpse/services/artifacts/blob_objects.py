"""The content-addressed store of blob data: one ``artifact_blob_objects`` row per sha256, placed, reference
counted and released under a per-object lock, its data deleted by the ``artifact_blob_delete`` task once no
blob references it (see ``glimpse.services.artifacts.blobs`` for the whole protocol)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from glimpse.db import Database
from glimpse.db.models import ArtifactBlobObjectRow
from glimpse.db.repositories.artifact_blobs import BlobRepository
from glimpse.db.repositories.artifacts import ArtifactRepository, scope_id
from glimpse.domain.clock import utcnow
from glimpse.domain.images import new_id
from glimpse.domain.tasks import Task, TaskStatus, TaskType
from glimpse.services.task_queue import TASK_TTL, Outcome, Progress, Step, TaskQueue
from glimpse.settings import Settings
from glimpse.stores.registry import StoreRegistry

log = logging.getLogger(__name__)


def object_lock(sha256: str) -> str:
    """The ``artifact_locks`` row that serialises everything done to the object of ``sha256``."""
    return scope_id("blob-object", sha256, "", None, "public")


class BlobObjects:
    def __init__(self, settings: Settings, db: Database, stores: StoreRegistry, queue: TaskQueue) -> None:
        self.settings = settings
        self.db = db
        self.stores = stores
        self.queue = queue

    def place(
        self, session: Any, blob: Mapping[str, Any], store_id: str, written: str, multihash: str, now: datetime
    ) -> bool:
        """The object of ``blob``'s sha256 (its lock held): the existing one, else one at the location of a live
        image with the same bytes in ``store_id``, else one at ``written``. True when ``written`` is kept."""
        blobs = BlobRepository(session)
        sha256 = blob["sha256"]
        if blobs.object(sha256) is not None:
            return False
        copy = blobs.image_copy(store_id, blob["size"], blob["md5"], self.settings.hashing_algorithm, multihash)
        if copy is not None:
            log.info("blob data %s: the same bytes as image %s: stored once", sha256, copy[0])
        blobs.add_object(
            ArtifactBlobObjectRow(
                sha256=sha256,
                store=store_id,
                location=copy[1] if copy is not None else written,
                size=blob["size"],
                md5=blob["md5"],
                sha1=blob["sha1"],
                created_at=now,
            )
        )
        return copy is None

    def release(self, session: Any, sha256s: list[str]) -> None:
        """Called in the transaction that removed blob rows naming these objects (an artifact's delete)."""
        repo = ArtifactRepository(session)
        locks = sorted({object_lock(sha) for sha in sha256s})
        for lock in locks:
            repo.lock_scope(lock, utcnow())
        for sha in dict.fromkeys(sha256s):
            self.release_locked(session, sha)
        for lock in locks:
            repo.unlock_scope(lock)

    def release_locked(self, session: Any, sha256: str) -> None:
        """The object's lock is held: if no blob references it any more, it goes, and its data with it
        (by a durable task enqueued in this transaction) unless a live image keeps its data there."""
        blobs = BlobRepository(session)
        if blobs.references(sha256) > 0:
            return
        obj = blobs.object(sha256)
        if obj is None:
            return
        blobs.remove_object(sha256)
        if blobs.image_holds(obj.store, obj.location):
            return
        now = utcnow()
        self.queue.enqueue(
            session,
            Task(
                id=new_id(),
                type=TaskType.ARTIFACT_BLOB_DELETE,
                status=TaskStatus.PENDING,
                owner=None,
                created_at=now,
                updated_at=now,
                expires_at=now + TASK_TTL,
                input={"store": obj.store, "url": obj.location, "sha256": sha256},
            ),
        )

    # -- the task runner: delete an object's data --------------------------------------------------------
    async def run(self, task: Task, progress: Progress) -> Outcome:
        store_id, url = task.input["store"], task.input["url"]

        def still_used(session: Any) -> bool:
            blobs = BlobRepository(session)
            return bool(blobs.shared_urls([url])) or blobs.image_holds(store_id, url)

        if await self.db.run(still_used):  # the same location was taken again meanwhile (an image's)
            return Outcome(result={"deleted": False})
        if store_id in self.stores:
            await self.stores.get(store_id).delete(url)
        else:
            log.warning("blob data at %s: store %s is not configured; left for `glimpse fsck`", url, store_id)
        return Outcome(result={"deleted": True})

    async def undo(self, task: Task, reason: str) -> Step | None:
        log.warning("could not delete blob data at %s: %s; `glimpse fsck` finds it", task.input.get("url"), reason)
        return None

    def on_progress(self, task: Task, done: int, total: int | None, session: Any) -> None:
        pass
