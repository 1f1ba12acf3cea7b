"""What every client data stream shares: the pipeline's plan, the digests an image records, the start by
compare-and-set (upload, stage, import and location import use them)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from glimpse.data import pipeline
from glimpse.data.atrest import AtRest
from glimpse.data.inspect import verdict
from glimpse.db import Database
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Digests, Image, Status
from glimpse.errors import InvalidTransition, TooLarge
from glimpse.events import NO_EVENTS, Events, payloads
from glimpse.settings import Settings


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
