"""The application catalog: remotes, their assets and installs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from glimpse.db.models.base import Base


class CatalogRemoteRow(Base):
    """A subscribed catalog's state: the versions of its last verified metadata, and its last failure."""

    __tablename__ = "catalog_remotes"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    root_version: Mapped[int | None] = mapped_column(Integer)
    targets_version: Mapped[int | None] = mapped_column(Integer)
    timestamp_version: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    signers: Mapped[list[str]] = mapped_column(JSON, default=list)  # key ids that signed its targets
    refreshed_at: Mapped[datetime | None] = mapped_column(DateTime)  # the last good refresh
    attempted_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")


class CatalogAssetRow(Base):
    """An asset of a subscribed catalog, as its last verified targets metadata lists it."""

    __tablename__ = "catalog_assets"

    remote: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    length: Mapped[int] = mapped_column(BigInteger)
    depends: Mapped[list[str]] = mapped_column(JSON, default=list)
    details: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # description, license, ...

    __table_args__ = (Index("ix_catalog_assets_sha256", "sha256"),)


class CatalogInstallRow(Base):
    """An asset installed into a project, known by its digest: what was made of it and where it came from."""

    __tablename__ = "catalog_installs"

    project: Mapped[str] = mapped_column(String(255), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    remote: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    local_type: Mapped[str] = mapped_column(String(64))  # "image", an artifact type, or "bundle"
    local_id: Mapped[str | None] = mapped_column(String(36))
    signers: Mapped[list[str]] = mapped_column(JSON, default=list)
    task_id: Mapped[str] = mapped_column(String(36))
    installed_at: Mapped[datetime] = mapped_column(DateTime)
