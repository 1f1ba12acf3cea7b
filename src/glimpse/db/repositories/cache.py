"""The node-aware image cache table: which node holds (or waits to fill) which image, its hits and last use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from glimpse.db.models import CachedImageRow, ImageRow
from glimpse.domain.images import Status

CACHED = "cached"
QUEUED = "queued"


@dataclass(frozen=True, slots=True)
class CachedImage:
    node: str
    image_id: str
    state: str
    size: int
    hits: int
    checksum: str | None
    last_accessed: datetime
    last_modified: datetime


def _domain(row: CachedImageRow) -> CachedImage:
    return CachedImage(row.node, row.image_id, row.state, row.size, row.hits, row.checksum, row.last_accessed,
                       row.last_modified)  # fmt: skip


class CacheRepository:
    def __init__(self, session: Session, node: str) -> None:
        self.session = session
        self.node = node

    def _row(self, image_id: str) -> CachedImageRow | None:
        return self.session.get(CachedImageRow, (self.node, image_id))

    def entries(self, state: str | None = None) -> list[CachedImage]:
        """This node's entries (of ``state``), least recently used first."""
        stmt = select(CachedImageRow).where(CachedImageRow.node == self.node)
        if state is not None:
            stmt = stmt.where(CachedImageRow.state == state)
        stmt = stmt.order_by(CachedImageRow.last_accessed, CachedImageRow.image_id)
        return [_domain(row) for row in self.session.scalars(stmt)]

    def get(self, image_id: str) -> CachedImage | None:
        row = self._row(image_id)
        return _domain(row) if row is not None else None

    def queue(self, image_id: str, now: datetime) -> bool:
        """Record ``image_id`` as waiting for this node's cache; False if it is already queued or cached."""
        if self._row(image_id) is not None:
            return False
        self.session.add(CachedImageRow(node=self.node, image_id=image_id, state=QUEUED, size=0, hits=0,
                                        checksum=None, last_accessed=now, last_modified=now))  # fmt: skip
        self.session.flush()
        return True

    def cached(self, image_id: str, size: int, checksum: str | None, now: datetime) -> None:
        """``image_id`` is now in this node's cache (queued or not before)."""
        row = self._row(image_id)
        if row is None:
            self.session.add(CachedImageRow(node=self.node, image_id=image_id, state=CACHED, size=size, hits=0,
                                            checksum=checksum, last_accessed=now, last_modified=now))  # fmt: skip
        else:
            row.state, row.size, row.checksum, row.last_modified, row.last_accessed = CACHED, size, checksum, now, now
        self.session.flush()

    def hit(self, image_id: str, now: datetime) -> None:
        self.session.execute(
            update(CachedImageRow)
            .where(CachedImageRow.node == self.node, CachedImageRow.image_id == image_id)
            .values(hits=CachedImageRow.hits + 1, last_accessed=now)
        )

    def remove(self, image_ids: list[str], state: str | None = None) -> int:
        """Remove this node's entries of these images (in ``state`` only, when given)."""
        if not image_ids:
            return 0
        stmt = delete(CachedImageRow).where(CachedImageRow.node == self.node, CachedImageRow.image_id.in_(image_ids))
        if state is not None:
            stmt = stmt.where(CachedImageRow.state == state)
        return int(getattr(self.session.execute(stmt), "rowcount", 0) or 0)

    def remove_all(self, state: str) -> int:
        stmt = delete(CachedImageRow).where(CachedImageRow.node == self.node, CachedImageRow.state == state)
        return int(getattr(self.session.execute(stmt), "rowcount", 0) or 0)

    def not_servable(self) -> list[str]:
        """This node's cached images that are gone, deleted or no longer active (one indexed query: the
        worker asks at every poll, so a delete or deactivate on any node reaches every cache within seconds)."""
        stmt = (
            select(CachedImageRow.image_id)
            .outerjoin(ImageRow, ImageRow.id == CachedImageRow.image_id)
            .where(CachedImageRow.node == self.node, CachedImageRow.state == CACHED)
            .where(or_(ImageRow.id.is_(None), ImageRow.deleted.is_(True), ImageRow.status != Status.ACTIVE.value))
            .order_by(CachedImageRow.image_id)
        )
        return list(self.session.scalars(stmt))

    def nodes_holding(self, image_id: str) -> list[str]:
        """Every node whose cache holds ``image_id`` (any node, not only this one)."""
        stmt = (
            select(CachedImageRow.node)
            .where(CachedImageRow.image_id == image_id, CachedImageRow.state == CACHED)
            .order_by(CachedImageRow.node)
        )
        return list(self.session.scalars(stmt))
