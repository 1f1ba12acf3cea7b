"""Artifacts (Glare): artifacts, their properties, tags, blobs, stored blob objects and locks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from glimpse.db.models.base import Base


class ArtifactRow(Base):
    """An artifact of the artifacts API (Glare's). Type-specific fields live in ``artifact_properties``."""

    __tablename__ = "artifacts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type_name: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(255))
    # the version in sortable parts (domain.artifacts.semver): numbers and release flag, pre-release, build
    version_prefix: Mapped[int] = mapped_column(BigInteger)
    version_suffix: Mapped[str] = mapped_column(String(255), default="")
    version_meta: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(String(255))
    display_type_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        Index("ix_artifacts_type_name_status", "type_name", "status"),
        Index("ix_artifacts_name_version_prefix", "name", "version_prefix"),
        Index("ix_artifacts_owner", "owner"),
        Index("ix_artifacts_visibility", "visibility"),
        Index("ix_artifacts_created_at", "created_at"),
        # the dashboard's list, newest change first (migration 0016), walked backwards
        Index("ix_artifacts_list_updated", "updated_at", "created_at", "id"),
    )


class ArtifactPropertyRow(Base):
    """One scalar of a type-specific field: a list item has a position, a dict value a key."""

    __tablename__ = "artifact_properties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    artifact_id: Mapped[str] = mapped_column(ForeignKey("artifacts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    string_value: Mapped[str | None] = mapped_column(Text)
    int_value: Mapped[int | None] = mapped_column(BigInteger)
    numeric_value: Mapped[float | None] = mapped_column(Float)
    bool_value: Mapped[bool | None] = mapped_column(Boolean)
    key_name: Mapped[str | None] = mapped_column(String(255))
    position: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_artifact_properties_artifact_id", "artifact_id"),
        Index("ix_artifact_properties_name", "name"),
    )


class ArtifactTagRow(Base):
    __tablename__ = "artifact_tags"

    artifact_id: Mapped[str] = mapped_column(ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)

    __table_args__ = (Index("ix_artifact_tags_value", "value"),)


class ArtifactBlobRow(Base):
    """A blob of an artifact (``key_name`` is '' for a Blob field, the key in a Folder). Uploaded data is
    stored once per sha256 (``artifact_blob_objects``); an external blob has only a URL."""

    __tablename__ = "artifact_blobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    artifact_id: Mapped[str] = mapped_column(ForeignKey("artifacts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    key_name: Mapped[str] = mapped_column(Text, default="")  # a folder key may be long (Glare's tests: 900)
    status: Mapped[str] = mapped_column(String(32))
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    size: Mapped[int | None] = mapped_column(BigInteger)
    md5: Mapped[str | None] = mapped_column(String(32))
    sha1: Mapped[str | None] = mapped_column(String(40))
    sha256: Mapped[str | None] = mapped_column(String(64))
    content_type: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("artifact_id", "name", "key_name"),
        Index("ix_artifact_blobs_sha256", "sha256"),
    )


class ArtifactBlobObjectRow(Base):
    """Stored blob data, content-addressed: one object per sha256 whatever the number of blobs holding it."""

    __tablename__ = "artifact_blob_objects"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    store: Mapped[str] = mapped_column(String(255))
    location: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str] = mapped_column(String(32))
    sha1: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ArtifactLockRow(Base):
    """A held scope (type, name, version, owner or public): creating the row serialises the uniqueness check."""

    __tablename__ = "artifact_locks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the scope
    acquired_at: Mapped[datetime] = mapped_column(DateTime)
