"""Queries for `glimpse fsck` and the start-up recovery: what the database says about stored data.

These look at every image regardless of who may see it: they serve the operator's consistency check,
never a request.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exists, false, select, update
from sqlalchemy.orm import Session, aliased

from glimpse.db.models import ArtifactBlobObjectRow, ImageLocationRow, ImageRow
from glimpse.domain.images import Location, Status

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """An image's status and size with its locations: what fsck compares with the stores."""

    id: str
    status: Status
    size: int | None
    updated_at: datetime
    locations: list[Location] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ImageState:
    """An image as seen from one store: its status, whether it is deleted, and its locations there."""

    status: Status
    deleted: bool
    urls: tuple[str, ...] = ()


def _chunks(items: Iterable[str]) -> Iterable[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


class IntegrityRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def live_images(self, statuses: Collection[Status] | None = None) -> list[ImageRecord]:
        """Images not deleted that have data or are in ``saving`` (only those in ``statuses`` when given)."""
        other = aliased(ImageLocationRow)
        has_location = exists().where(other.image_id == ImageRow.id)
        stmt = (
            select(
                ImageRow.id,
                ImageRow.status,
                ImageRow.size,
                ImageRow.updated_at,
                ImageLocationRow.store,
                ImageLocationRow.url,
            )
            .outerjoin(ImageLocationRow, ImageLocationRow.image_id == ImageRow.id)
            .where(ImageRow.deleted == false())
            .order_by(ImageRow.id, ImageLocationRow.id)
        )
        if statuses is not None:
            stmt = stmt.where(ImageRow.status.in_([s.value for s in statuses]))
        else:
            stmt = stmt.where(has_location | (ImageRow.status == Status.SAVING.value))
        records: list[ImageRecord] = []
        for image_id, status, size, updated_at, store, url in self.session.execute(stmt):
            if not records or records[-1].id != image_id:
                records.append(ImageRecord(id=image_id, status=Status(status), size=size, updated_at=updated_at))
            if url is not None:
                records[-1].locations.append(Location(url=url, store=store))
        return records

    def states(self, image_ids: Collection[str], store: str) -> dict[str, ImageState]:
        """The state of each image that exists (deleted ones included), with its locations in ``store``."""
        found: dict[str, ImageState] = {}
        for batch in _chunks(sorted(set(image_ids))):
            urls: dict[str, list[str]] = {}
            located = select(ImageLocationRow.image_id, ImageLocationRow.url).where(
                ImageLocationRow.image_id.in_(batch), ImageLocationRow.store == store
            )
            for image_id, url in self.session.execute(located):
                urls.setdefault(image_id, []).append(url)
            rows = select(ImageRow.id, ImageRow.status, ImageRow.deleted).where(ImageRow.id.in_(batch))
            for image_id, status, deleted in self.session.execute(rows):
                found[image_id] = ImageState(Status(status), bool(deleted), tuple(urls.get(image_id, ())))
        return found

    def lock(self, image_id: str, store: str) -> ImageState | None:
        """Lock the image's row until the transaction ends and return its state (None: no such image).

        While the lock is held no upload of the image can start or finish, since both change its row.
        """
        stmt = select(ImageRow.status, ImageRow.deleted).where(ImageRow.id == image_id)
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        else:
            # SQLite locks the whole database for writing: a write that changes nothing takes that lock
            self.session.execute(update(ImageRow).where(ImageRow.id == image_id).values(updated_at=ImageRow.updated_at))
        row = self.session.execute(stmt).one_or_none()
        if row is None:
            return None
        return self.states([image_id], store).get(image_id, ImageState(Status(row.status), bool(row.deleted)))

    def is_referenced(self, store: str, url: str) -> bool:
        """True when an image that is not deleted keeps data at ``url`` in ``store``."""
        stmt = (
            select(ImageLocationRow.id)
            .join(ImageRow, ImageRow.id == ImageLocationRow.image_id)
            .where(ImageLocationRow.store == store, ImageLocationRow.url == url, ImageRow.deleted == false())
            .limit(1)
        )
        if self.session.scalar(stmt) is not None:
            return True
        blob = select(ArtifactBlobObjectRow.sha256).where(
            ArtifactBlobObjectRow.store == store, ArtifactBlobObjectRow.location == url
        )  # artifact blobs' data, possibly an image's that they share
        return self.session.scalar(blob.limit(1)) is not None
