"""The check itself (`glimpse fsck`) and the start-up recovery: list each store, compare with the database,
repair under the image's row lock.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio.from_thread

from glimpse.data.atrest import AtRest
from glimpse.db import Database
from glimpse.db.repositories.artifact_blobs import BlobRepository
from glimpse.db.repositories.images import ImageRepository
from glimpse.db.repositories.integrity import ImageRecord, ImageState, IntegrityRepository
from glimpse.db.writers import exclude_writers
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Status
from glimpse.errors import NotFound, StoreError
from glimpse.services.fsck.report import Finding, FsckReport, Kind, StoreTally, _bytes
from glimpse.services.fsck.rules import ARTIFACT_KEY_PREFIX, classify
from glimpse.stores.base import ListedObject, Store, written_for
from glimpse.stores.registry import StoreRegistry

log = logging.getLogger("glimpse.services.fsck")  # the package's name: what operators filter on


class Fsck:
    """Compares the stores with the database and repairs what can be repaired without inventing data."""

    def __init__(self, db: Database, stores: StoreRegistry, at_rest: AtRest | None = None) -> None:
        self.db = db
        self.stores = stores
        self.at_rest = at_rest or AtRest()  # a sealed object is larger than its data by a known amount

    async def check(self, *, repair: bool, uploads_may_run: bool) -> FsckReport:
        """The full check (`glimpse fsck`); ``uploads_may_run`` when a server may be uploading right now (on
        PostgreSQL the writer locks tell, image by image, whether a live process on any node is: `_may_run`)."""
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
        whose delete committed but whose data was not yet removed are removed, and so are import attempts'
        copies that nothing references (left by an attempt that lost its task). Everything else is left to
        `glimpse fsck`. On PostgreSQL other nodes may be serving the same database and stores: an image a
        live process on any node is writing (its writer lock is held) is left alone, so only dead uploads
        and dead writes are recovered.
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
                states = await self._states(store, listing)
                deleted = {key for key, state in states.items() if state.deleted}
                leftovers = [
                    obj
                    for obj in listing.values()
                    if (
                        obj.partial
                        or (obj.attempt and obj.key in states and obj.url not in states[obj.key].urls)
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

    async def _states(self, store: Store, listing: dict[str, ListedObject]) -> dict[str, ImageState]:
        """The state of each image the finished objects of ``listing`` are of (deleted ones: a delete killed
        after it committed; an import attempt's copy its image does not record: the attempt lost its task)."""
        keys = {obj.key for obj in listing.values() if not obj.partial}
        if not keys:
            return {}
        return await self.db.run(lambda s: IntegrityRepository(s).states(keys, store.id))

    # -- the steps -------------------------------------------------------------------------------------
    async def _list(self, report: FsckReport) -> dict[str, dict[str, ListedObject] | None]:
        listings: dict[str, dict[str, ListedObject] | None] = {}
        for store in self.stores:
            tally = report.stores[store.id] = StoreTally()
            try:
                # an import attempt's copy counts as its image's data (its key: the image's id)
                listing = {obj.url: written_for(obj) async for obj in store.list_objects()}
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
            if await self._may_run(record.id, uploads_may_run):
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
                    finding.repair_error = "its status changed, or a writer started, meanwhile"
        return requeued

    async def _requeue(self, image_id: str) -> bool:
        def work(session: Any) -> bool:
            if exclude_writers(session, image_id) is False:  # an upload of it took the writer lock meanwhile
                return False
            return ImageRepository(session).set_status(image_id, [Status.SAVING], Status.QUEUED, utcnow())

        return await self.db.run(work)

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
                if record.size is not None and size not in self.at_rest.stored_sizes(store.id, record.size):
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
            may_run = await self._may_run(obj.key, uploads_may_run)
            verdict = classify(obj, states.get(obj.key), referenced=False, uploads_may_run=may_run)
            if verdict is None:  # became live after the snapshot of locations
                report.stores[store.id].referenced += 1
                continue
            kind, detail = verdict
            image_id = obj.key if obj.key in states else None
            finding = Finding(kind, detail, store.id, image_id, obj.url, obj.size)
            report.findings.append(finding)
            if repair and kind == Kind.ORPHAN:
                if _removable(states.get(obj.key), uploads_may_run=may_run):
                    await self._remove(store, obj, finding, uploads_may_run=may_run)
                else:
                    finding.repair_error = (
                        "a server is running and the image is live, so this may be a copy being written; "
                        "repair it with the servers stopped"
                    )

    async def _may_run(self, key: str, uploads_may_run: bool) -> bool:
        """Whether a live process may be writing the data stored under ``key`` (an image id, or an artifact blob
        upload's key) right now. On PostgreSQL its writer lock answers for every node's processes
        (db/writers.py); elsewhere ``uploads_may_run``: whether a process shares this data directory."""
        writing = await self.db.writers.writing(key)
        return uploads_may_run if writing is None else writing

    async def _remove(self, store: Store, obj: ListedObject, finding: Finding, *, uploads_may_run: bool) -> None:
        """Delete an orphan while holding its image's row lock, after checking again under that lock."""

        def work(session: Any) -> tuple[Kind, str] | None:
            repo = IntegrityRepository(session)
            state = repo.lock(obj.key, store.id)
            # asked again under the row lock, and held: no writer of it starts until the removal commits
            excluded = exclude_writers(session, obj.key)
            may_run = uploads_may_run if excluded is None else not excluded
            referenced = repo.is_referenced(store.id, obj.url)
            verdict = classify(obj, state, referenced=referenced, uploads_may_run=may_run)
            if verdict is None or verdict[0] != Kind.ORPHAN or not _removable(state, uploads_may_run=may_run):
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
