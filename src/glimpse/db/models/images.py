"""Images: the image, its properties, tags, locations and members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from glimpse.db.models.base import Base

# the sort expression of a nullable name (glimpse.db.repositories.image_list), indexed as written there
_NAME_SORT = text("coalesce(name, '')")


class ImageRow(Base):
    __tablename__ = "images"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(30))
    visibility: Mapped[str] = mapped_column(String(20))
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    os_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    min_disk: Mapped[int] = mapped_column(Integer, default=0)
    min_ram: Mapped[int] = mapped_column(Integer, default=0)
    container_format: Mapped[str | None] = mapped_column(String(32))
    disk_format: Mapped[str | None] = mapped_column(String(32))
    owner: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column(BigInteger)
    virtual_size: Mapped[int | None] = mapped_column(BigInteger)
    checksum: Mapped[str | None] = mapped_column(String(32))
    os_hash_algo: Mapped[str | None] = mapped_column(String(64))
    os_hash_value: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)

    properties: Mapped[list[ImagePropertyRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ImagePropertyRow.name"
    )
    tags: Mapped[list[ImageTagRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ImageTagRow.value"
    )
    locations: Mapped[list[ImageLocationRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ImageLocationRow.id"
    )

    __table_args__ = (
        Index("ix_images_deleted_created_at", "deleted", "created_at"),
        Index("ix_images_owner", "owner"),
        Index("ix_images_visibility", "visibility"),
        Index("ix_images_status", "status"),
        Index("ix_images_name", "name"),
        Index("ix_images_os_hash_value", "os_hash_value"),
        # image lists (migration 0014): each sort and visibility branch an index can walk in order
        Index("ix_images_list_created", "deleted", "created_at", "id"),
        Index("ix_images_list_name", "deleted", _NAME_SORT, text("created_at DESC"), text("id DESC")),
        Index("ix_images_visibility_list_created", "visibility", "deleted", "created_at", "id"),
        Index(
            "ix_images_visibility_list_name",
            "visibility",
            "deleted",
            _NAME_SORT,
            text("created_at DESC"),
            text("id DESC"),
        ),
        Index("ix_images_owner_list_created", "owner", "deleted", "created_at", "id"),
        # migration 0017: name first, then created_at and id in the same direction (Glance's default ties)
        Index("ix_images_list_name_asc", "deleted", _NAME_SORT, "created_at", "id"),
        Index("ix_images_visibility_list_name_asc", "visibility", "deleted", _NAME_SORT, "created_at", "id"),
        Index("ix_images_owner_list_name", "owner", "deleted", _NAME_SORT, "created_at", "id"),
    )


class ImagePropertyRow(Base):
    __tablename__ = "image_properties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("image_id", "name"),
        Index("ix_image_properties_name", "name"),
    )


class ImageTagRow(Base):
    __tablename__ = "image_tags"

    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)

    __table_args__ = (Index("ix_image_tags_value", "value"),)


class ImageLocationRow(Base):
    __tablename__ = "image_locations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    store: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_image_locations_image_id", "image_id"),)


class ImageMemberRow(Base):
    __tablename__ = "image_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    member: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (
        UniqueConstraint("image_id", "member"),
        Index("ix_image_members_member_status", "member", "status"),
    )
