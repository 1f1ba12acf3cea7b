"""SQLAlchemy 2 typed models. Every change here needs an Alembic revision (CI checks for drift)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


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


class TaskRow(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(30))
    owner: Mapped[str | None] = mapped_column(String(255))
    image_id: Mapped[str | None] = mapped_column(String(36))
    user_id: Mapped[str | None] = mapped_column(String(255))
    request_id: Mapped[str | None] = mapped_column(String(64))
    input: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    # claiming: a worker owns a processing task while its heartbeat is fresh
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_total: Mapped[int | None] = mapped_column(BigInteger)
    # a task only one node may run (filling that node's image cache); None: any worker
    node: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        Index("ix_tasks_status_created_at", "status", "created_at"),
        Index("ix_tasks_image_id", "image_id"),
        Index("ix_tasks_owner", "owner"),
    )


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


class OutboxRow(Base):
    """A message recorded in the transaction of the change it describes, delivered after commit."""

    __tablename__ = "outbox"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    topic: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_outbox_delivered_at_created_at", "delivered_at", "created_at"),)


class WebhookRow(Base):
    """A URL that receives signed CloudEvents for one project's events (or, project NULL, every project's)."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(String(128))
    audience: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_webhooks_project_id", "project_id"),)


class WebhookDeliveryRow(Base):
    """One event for one webhook: its signed body, and how its attempts went (the delivery log)."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(36))
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_id_created_at", "webhook_id", "created_at"),
    )


class AuditRow(Base):
    """One audited request: a state-changing one, or one that was refused."""

    __tablename__ = "audit_log"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    request_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(255))
    project_id: Mapped[str | None] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    method: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(Text)
    target: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))

    __table_args__ = (
        Index("ix_audit_log_created_at", "created_at"),
        Index("ix_audit_log_project_id_created_at", "project_id", "created_at"),
        Index("ix_audit_log_user_id_created_at", "user_id", "created_at"),
    )


class QuotaLimitRow(Base):
    """Glimpse's own limits (embedded mode): per project, or the default for all (project ``*``)."""

    __tablename__ = "quota_limits"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class QuotaProjectRow(Base):
    """One row per project that has claimed quota: locking it serialises that project's claims."""

    __tablename__ = "quota_projects"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    claims: Mapped[int] = mapped_column(BigInteger, default=0)


class QuotaReservationRow(Base):
    """Quota held by work in progress (an upload, a stage, an import) until its result is recorded."""

    __tablename__ = "quota_reservations"

    holder: Mapped[str] = mapped_column(String(80), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_quota_reservations_project_id", "project_id"),)


class MetadefNamespaceRow(Base):
    """A metadata definition namespace (Glance's ``metadef_namespaces``)."""

    __tablename__ = "metadef_namespaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(32))
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)  # None: never changed since it was loaded

    __table_args__ = (Index("ix_metadef_namespaces_owner", "owner"),)


class MetadefObjectRow(Base):
    __tablename__ = "metadef_objects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("metadef_namespaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    required: Mapped[list[str] | None] = mapped_column(JSON)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)  # None: never changed since it was loaded

    __table_args__ = (UniqueConstraint("namespace_id", "name"),)


class MetadefPropertyRow(Base):
    __tablename__ = "metadef_properties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("metadef_namespaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    schema: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)  # None: never changed since it was loaded

    __table_args__ = (UniqueConstraint("namespace_id", "name"),)


class MetadefTagRow(Base):
    __tablename__ = "metadef_tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("metadef_namespaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)  # None: never changed since it was loaded

    __table_args__ = (UniqueConstraint("namespace_id", "name"),)


class MetadefResourceTypeRow(Base):
    __tablename__ = "metadef_resource_types"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)  # None: never changed since it was loaded


class MetadefAssociationRow(Base):
    """A resource type associated with a namespace, with the prefix its property names take there."""

    __tablename__ = "metadef_namespace_resource_types"

    namespace_id: Mapped[int] = mapped_column(ForeignKey("metadef_namespaces.id", ondelete="CASCADE"), primary_key=True)
    resource_type_id: Mapped[int] = mapped_column(
        ForeignKey("metadef_resource_types.id", ondelete="CASCADE"), primary_key=True
    )
    properties_target: Mapped[str | None] = mapped_column(String(80))
    prefix: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)  # None: never changed since it was loaded

    __table_args__ = (Index("ix_metadef_namespace_resource_types_resource_type_id", "resource_type_id"),)


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
