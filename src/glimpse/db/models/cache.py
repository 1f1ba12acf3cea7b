"""The image cache's record of what each node holds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from glimpse.db.models.base import Base


class CachedImageRow(Base):
    """An image in one node's image cache (``state`` cached) or waiting for it (``queued``)."""

    __tablename__ = "cached_images"

    node: Mapped[str] = mapped_column(String(255), primary_key=True)
    image_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    checksum: Mapped[str | None] = mapped_column(String(32))
    last_accessed: Mapped[datetime] = mapped_column(DateTime)
    last_modified: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_cached_images_image_id", "image_id"),)
