"""The upload: a client's stream through the pipeline into one store, then ``Image.activate``."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Sequence
from typing import Any

from glimpse.context import RequestContext
from glimpse.data import pipeline
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.formats import inspected
from glimpse.domain.images import Digests, Image, Location, Status
from glimpse.domain.quotas import Resource
from glimpse.errors import BadRequest, DatabaseUnavailable, InvalidTransition, NotFound
from glimpse.events import payloads
from glimpse.services.image_data.streams import image_hashes, plan, record, start_receiving
from glimpse.services.image_data.undo import Failure, UploadUndo
from glimpse.services.quotas import Claim
from glimpse.stores.base import READ_ONLY_TYPES, Store, StoredObject


class Uploading(UploadUndo):
    """``PUT /v2/images/{id}/file`` and every other upload of a whole image (the catalog's installs)."""

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
            # held until the data is recorded or undone: any node can tell a dead upload from a live one
            async with self.db.writers.holding(image_id):
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
                    return await self._activate(image_id, store, stored, digests, claim)
                except BaseException as exc:
                    failure = Failure(image.owner, payloads.upload_failure(image_id, exc))
                    unknown = isinstance(exc, DatabaseUnavailable)
                    await self._undo(image_id, store, stored, outcome_unknown=unknown, failure=failure)
                    raise
                finally:
                    self.metrics.bytes_in(store.id, out.received)
        finally:
            await asyncio.shield(claim.release())

    async def _activate(
        self, image_id: str, store: Store, stored: StoredObject, digests: Digests, claim: Claim[Resource]
    ) -> Image:
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
            claim.settle(session)  # the image's size counts from this commit on, instead of the reservation
            self.events.emit(session, "image.upload", payloads.image_data(image))
            self.events.emit(session, "image.activate", payloads.image(image))
            self.events.emit(session, "image.update", payloads.image(image))
            return image

        return await self.db.run(work)
