"""`glimpse fsck` and the start-up recovery: make the stores and the database agree again after a crash.

Found, per store: orphan objects (data that no location of a live image references, unfinished
``*.partial`` writes included), missing data (a location whose object is gone), size mismatches; and
images stuck in ``saving`` by a process that died during their upload. Repaired: orphans are deleted and
stuck images go back to ``queued``, as after any failed upload. Lost data is reported, never papered over:
no image is marked active, or anything else, to hide it.

The rules that keep a repair from ever destroying good data:

- An object is deleted only inside a transaction that holds its image's row lock, after checking again,
  under that lock, that no live location references it and that no upload of the image can be running.
  A new upload of that image must change the row, so it waits until the deletion is over.
- A complete object whose key names no image at all was not written through this database: it is
  reported and left alone, so a wrong ``--config`` cannot empty a store.
- Whether an upload can be running is decided by the data directory lock (``DataDirLock``): every
  `glimpse serve` holds it shared; fsck and the start-up recovery try to take it exclusively. Without it,
  images in ``saving`` and their unfinished writes belong to uploads in progress and are left alone.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import anyio.from_thread

from glimpse.db import Database
from glimpse.db.repositories.artifact_blobs import BlobRepository
from glimpse.db.repositories.images import ImageRepository
from glimpse.db.repositories.integrity import ImageRecord, ImageState, IntegrityRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Status
from glimpse.errors import NotFound, StoreError
from glimpse.stores.base import ListedObject, Store
from glimpse.stores.registry import StoreRegistry

log = logging.getLogger(__name__)

LOCK_NAME = "glimpse.lock"
ARTIFACT_KEY_PREFIX = "artifact-"  # the store keys of artifact blob uploads (glimpse.services.artifacts.blobs)
IMPORT_STATUSES = frozenset({Status.UPLOADING, Status.IMPORTING})


class Kind(StrEnum):
    ORPHAN = "orphan"  # no live image references it: deleted by --repair
    UNKNOWN_OBJECT = "unknown_object"  # not attributable to an image of this database: left alone
    MISSING = "missing"  # a location whose object is gone
    SIZE_MISMATCH = "size_mismatch"  # the object's size is not the image's size
    DATA_LOST = "data_lost"  # an active (or deactivated) image none of whose copies exists
    STUCK = "stuck"  # in 'saving' with no upload running: put back to 'queued' by --repair
    UNREADABLE = "unreadable"  # a store or an object could not be examined
    UNKNOWN_STORE = "unknown_store"  # a location in a store that is not configured
    IN_PROGRESS = "in_progress"  # not a problem: an upload that may be running right now


@dataclass(slots=True)
class Finding:
    kind: Kind
    detail: str
    store: str | None = None
    image_id: str | None = None
    url: str | None = None
    size: int | None = None
    repaired: bool = False
    repair_error: str | None = None

    @property
    def problem(self) -> bool:
        return self.kind != Kind.IN_PROGRESS

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "store": self.store,
            "image_id": self.image_id,
            "url": self.url,
            "size": self.size,
            "detail": self.detail,
            "problem": self.problem,
            "repaired": self.repaired,
            "repair_error": self.repair_error,
        }


@dataclass(slots=True)
class StoreTally:
    available: bool = True
    objects: int = 0
    bytes: int = 0
    referenced: int = 0
    partial: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "objects": self.objects,
            "bytes": self.bytes,
            "referenced": self.referenced,
            "partial": self.partial,
        }


@dataclass(slots=True)
class FsckReport:
    repair: bool
    uploads_may_run: bool
    images_checked: int = 0
    stores: dict[str, StoreTally] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.problem]

    @property
    def remaining(self) -> list[Finding]:
        """Problems still there after this run (all of them without --repair)."""
        return [f for f in self.problems if not f.repaired]

    @property
    def clean(self) -> bool:
        return not self.remaining

    def as_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "repair": self.repair,
            "uploads_may_run": self.uploads_may_run,
            "images_checked": self.images_checked,
            "stores": {store_id: tally.as_dict() for store_id, tally in self.stores.items()},
            "findings": [f.as_dict() for f in self.findings],
            "problems": len(self.problems),
            "repaired": sum(1 for f in self.problems if f.repaired),
            "remaining": len(self.remaining),
        }

    def render(self) -> str:
        """The human summary: per store, then the images, then the verdict."""
        lines = [f"{len(self.stores)} store(s), {self.images_checked} image(s) with data or in 'saving' checked"]
        if self.uploads_may_run:
            lines.append("a glimpse serve is using this data directory: uploads in progress are left alone")
        for store_id, tally in self.stores.items():
            if tally.available:
                lines.append(
                    f"store {store_id}: {tally.objects} object(s), {_bytes(tally.bytes)}, {tally.referenced} "
                    f"referenced, {tally.partial} unfinished write(s)"
                )
            else:
                lines.append(f"store {store_id}: could not be listed")
            lines += [_line(f) for f in self.findings if f.store == store_id]
        others = [f for f in self.findings if f.store not in self.stores]
        if others:
            lines.append("images:")
            lines += [_line(f) for f in others]
        problems, remaining = len(self.problems), len(self.remaining)
        if not problems:
            lines.append("clean: no problems found")
        elif self.repair:
            lines.append(f"{problems} problem(s): {problems - remaining} repaired, {remaining} remaining")
        else:
            lines.append(f"{problems} problem(s) found; `glimpse fsck --repair` repairs orphans and stuck uploads")
        return "\n".join(lines)


_LABELS = {Kind.DATA_LOST: "DATA LOST", Kind.IN_PROGRESS: "in progress"}


def _line(finding: Finding) -> str:
    label = _LABELS.get(finding.kind, finding.kind.value.replace("_", " "))
    text = f"  {label:<15} {finding.detail}"
    if finding.repaired:
        text += f"  -> {'back to queued' if finding.kind == Kind.STUCK else 'removed'}"
    elif finding.repair_error:
        text += f"  -> NOT repaired: {finding.repair_error}"
    return text


def _bytes(count: int) -> str:
    size = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{count} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def classify(
    obj: ListedObject, state: ImageState | None, *, referenced: bool, uploads_may_run: bool
) -> tuple[Kind, str] | None:
    """What a stored object is: None when live data references it, else the finding it makes.

    ``state`` is the image its key names (None: no such image); ``referenced`` says whether any live
    location in the store holds the object's URL.
    """
    live = state is not None and not state.deleted
    if referenced or (live and state is not None and obj.url in state.urls):
        return None
    if live and state is not None and state.status in IMPORT_STATUSES and (uploads_may_run or not obj.partial):
        # staged or being imported: the import's task owns this data, and resumes or cleans it up itself;
        # but with no server running, an unfinished write is a dead attempt's (a retry writes its own)
        return Kind.IN_PROGRESS, f"{obj.url}: held by the import of image {obj.key} ('{state.status.value}')"
    if live and state is not None and state.status == Status.SAVING and uploads_may_run:
        return Kind.IN_PROGRESS, f"{obj.url}: being written by an upload of image {obj.key} ({_bytes(obj.size)} so far)"
    if live and obj.partial and uploads_may_run:
        return Kind.IN_PROGRESS, (
            f"{obj.url}: an unfinished write for image {obj.key}, in progress or left by a crash (the next start "
            f"removes those)"
        )
    what = "unfinished write" if obj.partial else "object"
    if state is None and obj.key.startswith(ARTIFACT_KEY_PREFIX):  # an artifact blob's upload, never committed
        if uploads_may_run:
            return Kind.IN_PROGRESS, f"{obj.url}: an artifact blob upload in progress, or left by a crash"
        return Kind.ORPHAN, f"{obj.url}: {what} of an artifact blob upload no blob references ({_bytes(obj.size)})"
    if state is None:
        if obj.partial:
            return Kind.ORPHAN, f"{obj.url}: unfinished write ({_bytes(obj.size)})"
        return Kind.UNKNOWN_OBJECT, (
            f"{obj.url}: no image {obj.key} in the database, so this was not written through it; left alone "
            f"({_bytes(obj.size)})"
        )
    if live and state.urls and not obj.partial:
        return Kind.UNKNOWN_OBJECT, (
            f"{obj.url}: image {obj.key} keeps its data in this store at another location; left alone"
        )
    status = "deleted" if state.deleted else f"'{state.status.value}'"
    return Kind.ORPHAN, f"{obj.url}: {what} of image {obj.key}, which is {status} ({_bytes(obj.size)})"


class Fsck:
    """Compares the stores with the database and repairs what can be repaired without inventing data."""

    def __init__(self, db: Database, stores: StoreRegistry) -> None:
        self.db = db
        self.stores = stores

    async def check(self, *, repair: bool, uploads_may_run: bool) -> FsckReport:
        """The full check (`glimpse fsck`); ``uploads_may_run`` when a server may be uploading right now."""
        report = FsckReport(repair=repair, uploads_may_run=uploads_may_run)
        # the stores are listed before the database is read: an object that became live in between is
        # then referenced in what we read, and cannot pass for an orphan
        listings = await self._list(report)
        records = await self.db.run(lambda s: IntegrityRepository(s).live_images())
        report.images_checked = len(records)
        saving = [r for r in records if r.status == Status.SAVING]
        await self._transient(report, saving, repair=repair, uploads_may_run=uploads_may_run)
        await self._locations(report, [r for r in records if r.locations], listings)
        referenced = await self.db.run(lambda s: BlobRepository(s).object_locations())
        for record in records:
            for location in record.locations:
                referenced.setdefault(location.store, set()).add(location.url)
        for store in self.stores:
            listing = listings.get(store.id)
            if listing is not None:
                unreferenced = [obj for obj in listing.values() if obj.url not in referenced.get(store.id, set())]
                report.stores[store.id].referenced = len(listing) - len(unreferenced)
                await self._objects(report, store, unreferenced, repair=repair, uploads_may_run=uploads_may_run)
        return report

    async def recover(self) -> FsckReport:
        """The start-up recovery: only what a crash leaves behind, before this process serves anything.

        Images in ``saving`` go back to ``queued`` (no upload can be running: the caller holds the data
        directory exclusively and serves nothing yet); unfinished writes (also those of imports a killed
        worker was running: the retry writes its own), the data of those images, and the data of images
        whose delete committed but whose data was not yet removed are removed. Everything else is left to
        `glimpse fsck`.
        """
        report = FsckReport(repair=True, uploads_may_run=False)
        listings = await self._list(report)
        saving = await self.db.run(lambda s: IntegrityRepository(s).live_images([Status.SAVING]))
        report.images_checked = len(saving)
        requeued = await self._transient(report, saving, repair=True, uploads_may_run=False)
        settled = await self.db.run(lambda s: BlobRepository(s).settle_saving())
        if settled:
            log.warning("start-up recovery: %d artifact blob upload(s) interrupted; blobs back as they were", settled)
        blob_data = await self.db.run(lambda s: BlobRepository(s).object_locations())
        for store in self.stores:
            listing = listings.get(store.id)
            if listing is not None:
                deleted = await self._deleted_images(store, listing)
                leftovers = [
                    obj
                    for obj in listing.values()
                    if (
                        obj.partial
                        or obj.key in requeued
                        or obj.key in deleted
                        or obj.key.startswith(ARTIFACT_KEY_PREFIX)
                    )
                    and obj.url not in blob_data.get(store.id, set())
                ]
                await self._objects(report, store, leftovers, repair=True, uploads_may_run=False)
        for finding in report.problems:
            _log_recovery(finding)
        removed = [f for f in report.findings if f.repaired and f.kind == Kind.ORPHAN]
        if report.problems:
            log.warning(
                "start-up recovery: %d interrupted upload(s) put back to queued, %d leftover object(s) (%s) removed,"
                " %d problem(s) left for `glimpse fsck`",
                len(requeued),
                len(removed),
                _bytes(sum(f.size or 0 for f in removed)),
                len(report.remaining),
            )
        else:
            log.info("start-up recovery: no interrupted upload to recover")
        return report

    async def _deleted_images(self, store: Store, listing: dict[str, ListedObject]) -> set[str]:
        """The keys of ``listing`` that name deleted images (a delete killed after it committed)."""
        keys = {obj.key for obj in listing.values() if not obj.partial}
        if not keys:
            return set()
        states = await self.db.run(lambda s: IntegrityRepository(s).states(keys, store.id))
        return {key for key, state in states.items() if state.deleted}

    # -- the steps -------------------------------------------------------------------------------------
    async def _list(self, report: FsckReport) -> dict[str, dict[str, ListedObject] | None]:
        listings: dict[str, dict[str, ListedObject] | None] = {}
        for store in self.stores:
            tally = report.stores[store.id] = StoreTally()
            try:
                listing = {obj.url: obj async for obj in store.list_objects()}
            except StoreError as exc:
                tally.available = False
                listings[store.id] = None
                report.findings.append(Finding(Kind.UNREADABLE, f"cannot list the store: {exc.message}", store.id))
                continue
            listings[store.id] = listing
            tally.objects = len(listing)
            tally.bytes = sum(obj.size for obj in listing.values())
            tally.partial = sum(1 for obj in listing.values() if obj.partial)
        return listings

    async def _transient(
        self, report: FsckReport, saving: list[ImageRecord], *, repair: bool, uploads_may_run: bool
    ) -> set[str]:
        """Images in ``saving``: uploads in progress, or stuck (then back to ``queued`` on repair)."""
        requeued: set[str] = set()
        for record in saving:
            since = record.updated_at.isoformat(timespec="seconds")
            if uploads_may_run:
                detail = f"image {record.id}: in 'saving' since {since}; its upload may still be running"
                report.findings.append(Finding(Kind.IN_PROGRESS, detail, image_id=record.id))
                continue
            finding = Finding(
                Kind.STUCK,
                f"image {record.id}: in 'saving' since {since} with no upload running (interrupted by a crash)",
                image_id=record.id,
            )
            report.findings.append(finding)
            if repair:
                finding.repaired = await self._requeue(record.id)
                if finding.repaired:
                    requeued.add(record.id)
                else:
                    finding.repair_error = "its status changed meanwhile"
        return requeued

    async def _requeue(self, image_id: str) -> bool:
        return await self.db.run(
            lambda s: ImageRepository(s).set_status(image_id, [Status.SAVING], Status.QUEUED, utcnow())
        )

    async def _locations(
        self, report: FsckReport, records: list[ImageRecord], listings: dict[str, dict[str, ListedObject] | None]
    ) -> None:
        """Every location of a live image: does its object exist, with the image's size?"""
        for record in records:
            present = unknown = 0
            for location in record.locations:
                if location.store not in self.stores:
                    unknown += 1
                    detail = f"image {record.id}: has a location in store {location.store}, which is not configured"
                    report.findings.append(Finding(Kind.UNKNOWN_STORE, detail, image_id=record.id, url=location.url))
                    continue
                listing = listings.get(location.store)
                if listing is None:  # the store could not be listed: reported once already
                    unknown += 1
                    continue
                store = self.stores.get(location.store)
                size, problem = await self._size_of(store, location.url, listing)
                if problem is not None:
                    unknown += 1
                    detail = f"image {record.id}: {location.url} cannot be examined: {problem}"
                    report.findings.append(Finding(Kind.UNREADABLE, detail, store.id, record.id, location.url))
                    continue
                if size is None:
                    if await self._still_referenced(store.id, location.url):
                        detail = f"image {record.id} ({record.status.value}): its data at {location.url} is missing"
                        report.findings.append(Finding(Kind.MISSING, detail, store.id, record.id, location.url))
                    else:  # the image was deleted (or its copy removed) while we looked
                        present += 1
                    continue
                present += 1
                if record.size is not None and size != record.size:
                    detail = (
                        f"image {record.id}: {location.url} holds {size} bytes but the image has {record.size} bytes"
                    )
                    report.findings.append(Finding(Kind.SIZE_MISMATCH, detail, store.id, record.id, location.url, size))
            lost = record.status in (Status.ACTIVE, Status.DEACTIVATED) and not present and not unknown
            if lost:
                detail = (
                    f"image {record.id} is {record.status.value} but every copy of its data is missing; "
                    f"restore it from a backup, or delete the image"
                )
                log.error("fsck: DATA LOST: %s", detail)
                report.findings.append(Finding(Kind.DATA_LOST, detail, image_id=record.id))

    async def _size_of(self, store: Store, url: str, listing: dict[str, ListedObject]) -> tuple[int | None, str | None]:
        """(size or None when absent, None) or (None, why it cannot be examined)."""
        if url in listing:
            return listing[url].size, None
        try:  # not listed: it may have been written after the listing, so ask the store itself
            return await store.stat(url), None
        except NotFound as exc:  # a URL outside the store's place
            return None, exc.message
        except StoreError as exc:
            return None, exc.message

    async def _still_referenced(self, store_id: str, url: str) -> bool:
        return await self.db.run(lambda s: IntegrityRepository(s).is_referenced(store_id, url))

    async def _objects(
        self, report: FsckReport, store: Store, objects: list[ListedObject], *, repair: bool, uploads_may_run: bool
    ) -> None:
        """Objects no live location referenced when the database was read: orphans, uploads, strangers."""
        if not objects:
            return
        keys = {obj.key for obj in objects}
        states = await self.db.run(lambda s: IntegrityRepository(s).states(keys, store.id))
        for obj in objects:
            verdict = classify(obj, states.get(obj.key), referenced=False, uploads_may_run=uploads_may_run)
            if verdict is None:  # became live after the snapshot of locations
                report.stores[store.id].referenced += 1
                continue
            kind, detail = verdict
            image_id = obj.key if obj.key in states else None
            finding = Finding(kind, detail, store.id, image_id, obj.url, obj.size)
            report.findings.append(finding)
            if repair and kind == Kind.ORPHAN:
                if _removable(states.get(obj.key), uploads_may_run=uploads_may_run):
                    await self._remove(store, obj, finding, uploads_may_run=uploads_may_run)
                else:
                    finding.repair_error = (
                        "a server is running and the image is live, so this may be a copy being written; "
                        "repair it with the servers stopped"
                    )

    async def _remove(self, store: Store, obj: ListedObject, finding: Finding, *, uploads_may_run: bool) -> None:
        """Delete an orphan while holding its image's row lock, after checking again under that lock."""

        def work(session: Any) -> tuple[Kind, str] | None:
            repo = IntegrityRepository(session)
            state = repo.lock(obj.key, store.id)
            referenced = repo.is_referenced(store.id, obj.url)
            verdict = classify(obj, state, referenced=referenced, uploads_may_run=uploads_may_run)
            if verdict is None or verdict[0] != Kind.ORPHAN or not _removable(state, uploads_may_run=uploads_may_run):
                return None
            # still inside the transaction, so the lock is held while the data goes away
            anyio.from_thread.run(store.delete, obj.url)
            return verdict

        try:
            verdict = await self.db.run(work)
        except StoreError as exc:
            finding.repair_error = exc.message
            return
        if verdict is not None and verdict[0] == Kind.ORPHAN:
            finding.repaired = True
        else:
            finding.repair_error = "it is no longer an orphan"


def _removable(state: ImageState | None, *, uploads_may_run: bool) -> bool:
    """Whether an orphan may be deleted now. With a server running, only when its image is gone for good:
    a live image may be getting a new copy written (renamed into place, its location not yet recorded)."""
    return not uploads_may_run or state is None or state.deleted


def _log_recovery(finding: Finding) -> None:
    if finding.kind == Kind.STUCK and finding.repaired:
        log.warning(
            "start-up recovery: image %s was left in 'saving' by an interrupted upload: back to queued",
            finding.image_id,
        )
    elif finding.kind == Kind.ORPHAN and finding.repaired:
        log.warning("start-up recovery: removed %s", finding.detail)
    else:
        log.error("start-up recovery could not repair: %s (%s)", finding.detail, finding.repair_error or "")


# -- the data directory lock ---------------------------------------------------------------------------------
class DataDirLock:
    """``<data_dir>/glimpse.lock``: held shared by each running `glimpse serve`, exclusively by fsck and by
    the start-up recovery. The kernel releases it when its process ends, however it ends (``flock``).
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def _descriptor(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        return self._fd

    def _try(self, mode: int) -> bool:
        try:
            fcntl.flock(self._descriptor(), mode | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def try_exclusive(self) -> bool:
        """Take the lock alone; False when a server (or another fsck) holds it."""
        return self._try(fcntl.LOCK_EX)

    def try_shared(self) -> bool:
        """Share the lock with other servers (turning an exclusive hold into a shared one)."""
        return self._try(fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def claim_data_dir(
    lock: DataDirLock, recover: Callable[[], object], *, poll: float = 0.5, sleep: Callable[[float], None] = time.sleep
) -> bool:
    """Join the servers of a data directory, running ``recover`` first when no other server uses it.

    Returns whether ``recover`` ran. Waits while `glimpse fsck` holds the directory. On return the lock is
    held shared, for as long as this process lives.
    """
    waiting = False
    while True:
        if lock.try_exclusive():
            recover()
            while not lock.try_shared():  # fsck may slip in while an exclusive hold turns shared
                sleep(poll)
            return True
        if lock.try_shared():
            log.warning(
                "another glimpse serve uses %s: start-up recovery skipped (run `glimpse fsck` when it stops)",
                lock.path.parent,
            )
            return False
        if not waiting:
            log.warning("waiting for `glimpse fsck` to finish with %s", lock.path.parent)
            waiting = True
        sleep(poll)
