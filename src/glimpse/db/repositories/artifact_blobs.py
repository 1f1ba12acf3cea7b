"""Blob data of artifacts, stored content-addressed: one ``artifact_blob_objects`` row per sha256, however many
blobs (``artifact_blobs`` rows) hold those bytes, and possibly the very object an image keeps its data in.

The reference count of an object is not stored: it is the number of internal blob rows naming its sha256,
counted under the object's lock (see ``glimpse.services.artifacts.blobs`` for the protocol).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from glimpse.db.models import ArtifactBlobObjectRow, ArtifactBlobRow, ImageLocationRow, ImageRow
from glimpse.db.writers import blob_writer, exclude_writers

B = ArtifactBlobRow.__table__.c
LIVE_IMAGE_STATUSES = ("active", "deactivated")  # images whose data may be shared with a blob


class BlobRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def _postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    # -- objects ---------------------------------------------------------------------------------------
    def object(self, sha256: str) -> ArtifactBlobObjectRow | None:
        return self.session.get(ArtifactBlobObjectRow, sha256)

    def add_object(self, row: ArtifactBlobObjectRow) -> None:
        self.session.add(row)
        self.session.flush()

    def remove_object(self, sha256: str) -> None:
        self.session.execute(delete(ArtifactBlobObjectRow).where(ArtifactBlobObjectRow.sha256 == sha256))

    def references(self, sha256: str) -> int:
        """How many blobs hold the object (uploaded blobs, those being re-uploaded included)."""
        return self.session.execute(
            select(func.count()).where(B.sha256 == sha256, B.external.is_(False), B.url.is_(None))
        ).scalar_one()

    def shared_urls(self, urls: Iterable[str]) -> set[str]:
        """Those of ``urls`` that a blob object keeps its data at (an image's data shared with blobs)."""
        wanted = list(urls)
        if not wanted:
            return set()
        rows = self.session.execute(
            select(ArtifactBlobObjectRow.location).where(ArtifactBlobObjectRow.location.in_(wanted))
        )
        return {row.location for row in rows}

    def object_locations(self) -> dict[str, set[str]]:
        """Every object's location, by store (for `glimpse fsck`)."""
        found: dict[str, set[str]] = {}
        for row in self.session.execute(select(ArtifactBlobObjectRow.store, ArtifactBlobObjectRow.location)):
            found.setdefault(row.store, set()).add(row.location)
        return found

    # -- images sharing their data ---------------------------------------------------------------------
    def image_copy(self, store: str, size: int, md5: str, algorithm: str, hexdigest: str) -> tuple[str, str] | None:
        """A live image holding exactly these bytes in ``store``: (image id, its location URL), its row locked
        until commit so that it cannot be deleted before the blob object naming its data is committed."""
        stmt = (
            select(ImageRow.id, ImageLocationRow.url)
            .join(ImageLocationRow, ImageLocationRow.image_id == ImageRow.id)
            .where(
                ImageRow.status.in_(LIVE_IMAGE_STATUSES),
                ImageRow.deleted.is_(False),
                ImageRow.size == size,
                ImageRow.checksum == md5,
                ImageRow.os_hash_algo == algorithm,
                ImageRow.os_hash_value == hexdigest,
                ImageLocationRow.store == store,
            )
            .order_by(ImageRow.created_at)
            .limit(1)
        )
        if self._postgresql:
            stmt = stmt.with_for_update(of=ImageRow)
        row = self.session.execute(stmt).first()
        return (row.id, row.url) if row is not None else None

    def image_holds(self, store: str, url: str) -> bool:
        """Whether an image that is not deleted keeps its data at ``url`` (its row locked until commit, so
        its delete, which removes its data after commit, sees this transaction's outcome)."""
        stmt = (
            select(ImageRow.id)
            .join(ImageLocationRow, ImageLocationRow.image_id == ImageRow.id)
            .where(ImageRow.deleted.is_(False), ImageLocationRow.store == store, ImageLocationRow.url == url)
            .limit(1)
        )
        if self._postgresql:
            stmt = stmt.with_for_update(of=ImageRow)
        return self.session.execute(stmt).first() is not None

    # -- blobs left in 'saving' by a crash --------------------------------------------------------------
    def settle_saving(self) -> int:
        """Blobs whose upload a crash interrupted: back to what they were (a re-upload keeps its previous
        data) or gone (a first upload). Returns how many were settled. On PostgreSQL a blob a live process on
        any node is uploading (its writer lock is held) is left alone: only dead uploads are settled."""
        saving = B.status == "saving"
        rows = self.session.execute(select(B.id, B.artifact_id, B.name, B.key_name, B.sha256).where(saving)).all()
        dead = [
            r
            for r in rows
            if exclude_writers(self.session, blob_writer(r.artifact_id, r.name, r.key_name)) is not False
        ]
        restore = [r.id for r in dead if r.sha256 is not None]
        remove = [r.id for r in dead if r.sha256 is None]
        if restore:
            self.session.execute(update(ArtifactBlobRow).where(saving, B.id.in_(restore)).values(status="active"))
        if remove:
            self.session.execute(delete(ArtifactBlobRow).where(saving, B.id.in_(remove)))
        return len(dead)
