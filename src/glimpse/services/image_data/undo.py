"""The undo of a failed upload: its data removed, the image back to queued, patiently while the database
is unavailable."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Status
from glimpse.errors import DatabaseUnavailable, NotFound
from glimpse.events import payloads
from glimpse.services.image_data.base import ImageDataBase
from glimpse.stores.base import Store, StoredObject

log = logging.getLogger("glimpse.services.image_data")  # the package's name: what operators filter on

# after a failed upload, while the database is unavailable: retry putting the image back to queued
SETTLE_FIRST_RETRY = 0.5
SETTLE_MAX_RETRY = 5.0
SETTLE_PATIENCE = 600.0


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an upload failed, for its ``image.upload`` error event (and whose image it was)."""

    owner: str | None
    reason: str


class UploadUndo(ImageDataBase):
    """Putting things back after a failed upload (``Uploading`` calls :meth:`_undo`)."""

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


async def _quietly(awaitable: Any) -> None:
    try:
        await asyncio.shield(awaitable)
    except Exception:
        log.exception("cleanup failed")
