"""Image persistence. Visibility and ownership are part of every query, never a check after loading."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from glimpse.context import RequestContext
from glimpse.db.models import ImageLocationRow, ImageMemberRow, ImagePropertyRow, ImageRow, ImageTagRow
from glimpse.db.repositories.image_list import list_statement
from glimpse.domain.images import Image, Location, Status, Visibility, check_transition
from glimpse.domain.queries import ImageQuery
from glimpse.errors import BadRequest, NotFound

_COLUMNS = (
    "name", "status", "visibility", "protected", "os_hidden", "min_disk", "min_ram", "container_format",
    "disk_format", "owner", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value",
    "created_at", "updated_at",
)  # fmt: skip


def to_domain(row: ImageRow) -> Image:
    return Image(
        id=row.id,
        owner=row.owner,
        created_at=row.created_at,
        updated_at=row.updated_at,
        name=row.name,
        status=Status(row.status),
        visibility=Visibility(row.visibility),
        protected=row.protected,
        os_hidden=row.os_hidden,
        min_disk=row.min_disk,
        min_ram=row.min_ram,
        container_format=row.container_format,
        disk_format=row.disk_format,
        size=row.size,
        virtual_size=row.virtual_size,
        checksum=row.checksum,
        os_hash_algo=row.os_hash_algo,
        os_hash_value=row.os_hash_value,
        tags={tag.value for tag in row.tags},
        properties={prop.name: prop.value for prop in row.properties},
        locations=[Location(url=loc.url, store=loc.store, metadata=dict(loc.meta or {})) for loc in row.locations],
    )


_IMAGE_SELECT = select(*(ImageRow.__table__.c[name] for name in ("id", *_COLUMNS)))


# Built once: properties, tags and locations of a set of images in one round trip. Locations come first
# because a UNION takes its column types (here the JSON of `meta`) from its first select.
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_RELATED = union_all(
    select(
        literal("l"), ImageLocationRow.image_id, ImageLocationRow.store, ImageLocationRow.url, ImageLocationRow.id,
        ImageLocationRow.meta,
    ).where(ImageLocationRow.image_id.in_(_IDS)),
    select(
        literal("p"), ImagePropertyRow.image_id, ImagePropertyRow.name, ImagePropertyRow.value, literal(0), null()
    ).where(ImagePropertyRow.image_id.in_(_IDS)),
    select(literal("t"), ImageTagRow.image_id, ImageTagRow.value, null(), literal(0), null()).where(
        ImageTagRow.image_id.in_(_IDS)
    ),
)  # fmt: skip


_GET_ANY = _IMAGE_SELECT.where(ImageRow.id == bindparam("image_id"), ImageRow.deleted == false())
_GET_PUBLIC = _GET_ANY.where(ImageRow.visibility.in_([Visibility.PUBLIC.value, Visibility.COMMUNITY.value]))


# _GET_FOR_PROJECT follows readable_by below
def _image_from_row(row: Any) -> Image:
    values = row._mapping
    return Image(
        **{name: values[name] for name in ("id", *_COLUMNS) if name not in ("status", "visibility")},
        status=Status(values["status"]),
        visibility=Visibility(values["visibility"]),
    )


def _member_of(project_id: Any, status: str | None) -> ColumnElement[bool]:
    conditions = [ImageMemberRow.image_id == ImageRow.id, ImageMemberRow.member == project_id]
    if status is not None:
        conditions.append(ImageMemberRow.status == status)
    return exists().where(*conditions)


def readable_by(viewer: RequestContext) -> ColumnElement[bool]:
    """Images the viewer may show: admin all; else public, community, own, or shared with the project."""
    if viewer.is_admin:
        return true()
    if viewer.project_id is None:
        return _PUBLIC_OR_COMMUNITY
    return _readable_by_project(literal(viewer.project_id))


_PUBLIC_OR_COMMUNITY = ImageRow.visibility.in_([Visibility.PUBLIC.value, Visibility.COMMUNITY.value])


def _readable_by_project(project: Any) -> ColumnElement[bool]:
    return or_(
        _PUBLIC_OR_COMMUNITY,
        ImageRow.owner == project,
        and_(ImageRow.visibility == Visibility.SHARED.value, _member_of(project, None)),
    )


_GET_FOR_PROJECT = _GET_ANY.where(_readable_by_project(bindparam("project")))


class ImageRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- reads -----------------------------------------------------------------------------------------
    def _row(self, image_id: str, viewer: RequestContext | None, *, for_update: bool = False) -> ImageRow:
        stmt = select(ImageRow).where(ImageRow.id == image_id, ImageRow.deleted == false())
        if viewer is not None:
            stmt = stmt.where(readable_by(viewer))
        if for_update and self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=ImageRow)
        row = self.session.scalars(stmt).one_or_none()
        if row is None:
            raise NotFound(f"No image found with ID {image_id}")
        return row

    def get(self, image_id: str, viewer: RequestContext | None, *, for_update: bool = False) -> Image:
        # statements are built once per kind of viewer; the ids travel as bound parameters
        params: dict[str, Any] = {"image_id": image_id}
        if viewer is None or viewer.is_admin:
            stmt = _GET_ANY
        elif viewer.project_id is None:
            stmt = _GET_PUBLIC
        else:
            stmt, params["project"] = _GET_FOR_PROJECT, viewer.project_id
        if for_update and self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        images = self._hydrate(stmt, params)
        if not images:
            raise NotFound(f"No image found with ID {image_id}")
        return images[0]

    def _hydrate(self, stmt: Select[Any], params: dict[str, Any] | None = None) -> list[Image]:
        """Images from a select of image columns, with properties, tags and locations in one more query.

        Reads use SQLAlchemy Core, not ORM objects: a show is two round trips and no identity-map work.
        """
        connection = self.session.connection()
        images = [_image_from_row(row) for row in connection.execute(stmt, params or {})]
        if not images:
            return images
        by_id = {image.id: image for image in images}
        ids = list(by_id)
        related = connection.execute(_RELATED, {"ids": ids})
        locations: list[tuple[int, str, str, str, dict[str, str]]] = []
        for kind, image_id, first, second, position, meta in related:
            image = by_id[image_id]
            if kind == "p":
                image.properties[first] = second
            elif kind == "t":
                image.tags.add(first)
            else:
                locations.append((position, image_id, first, second, dict(meta or {})))
        for _, image_id, store, url, meta in sorted(locations, key=lambda loc: loc[0]):
            by_id[image_id].locations.append(Location(url=url, store=store, metadata=meta))
        return images

    def list(self, viewer: RequestContext, query: ImageQuery) -> list[Image]:
        marker = None
        if query.marker is not None:
            try:
                marker = self.get(query.marker, viewer)
            except NotFound:
                raise BadRequest(f"Invalid marker. Image {query.marker} could not be found.") from None
        if self.session.get_bind().dialect.name == "postgresql":
            # a page's lookups are a few ms of index probes; a parallel plan's worker start-up costs more
            # (this transaction only; docs/operations.md, "Image lists at scale")
            self.session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        return self._hydrate(list_statement(_IMAGE_SELECT, viewer, query, marker))

    def statuses(self, image_ids: Sequence[str]) -> dict[str, Status]:
        """The status of each existing, not deleted image among ``image_ids``."""
        if not image_ids:
            return {}
        stmt = select(ImageRow.id, ImageRow.status).where(ImageRow.id.in_(list(image_ids)), ImageRow.deleted == false())
        return {image_id: Status(status) for image_id, status in self.session.execute(stmt)}

    def using_location(self, url: str) -> set[str]:
        """The ids of the live images one of whose locations is ``url``."""
        stmt = (
            select(ImageRow.id)
            .join(ImageLocationRow, ImageLocationRow.image_id == ImageRow.id)
            .where(ImageLocationRow.url == url, ImageRow.deleted == false())
            .distinct()
        )
        return set(self.session.scalars(stmt))

    def count_owned(self, owner: str) -> int:
        stmt = select(func.count()).select_from(ImageRow).where(ImageRow.owner == owner, ImageRow.deleted == false())
        return int(self.session.scalar(stmt) or 0)

    # -- writes ----------------------------------------------------------------------------------------
    def add(self, image: Image) -> None:
        row = ImageRow(id=image.id, deleted=False)
        self._copy(image, row)
        self.session.add(row)
        self.session.flush()

    def save(self, image: Image) -> None:
        """Write the image's whole state (columns, properties, tags, locations). A change of status must be
        a move the status table allows (InvalidTransition, a 409, when not): this and ``set_status`` are
        the only writers of an image's status."""
        row = self._row(image.id, None)
        check_transition(row.status, image.status)
        self._copy(image, row)
        self.session.flush()

    def _copy(self, image: Image, row: ImageRow) -> None:
        for name in _COLUMNS:
            setattr(row, name, getattr(image, name))
        current_props = {prop.name: prop for prop in row.properties}
        for name in set(current_props) - set(image.properties):
            row.properties.remove(current_props[name])
        for name, value in image.properties.items():
            if name in current_props:
                current_props[name].value = value
            else:
                row.properties.append(ImagePropertyRow(name=name, value=value))
        current_tags = {tag.value: tag for tag in row.tags}
        for value in set(current_tags) - image.tags:
            row.tags.remove(current_tags[value])
        for value in sorted(image.tags - set(current_tags)):
            row.tags.append(ImageTagRow(value=value))
        wanted = [(loc.store, loc.url, loc.metadata) for loc in image.locations]
        if [(loc.store, loc.url, loc.meta or {}) for loc in row.locations] != wanted:
            row.locations.clear()
            self.session.flush()
            for loc in image.locations:
                row.locations.append(ImageLocationRow(store=loc.store, url=loc.url, meta=dict(loc.metadata)))

    def set_status(self, image_id: str, expected: Sequence[Status], new: Status, now: datetime, **columns: Any) -> bool:
        """Compare-and-set the status; returns False when the image was not in an expected status. Every
        expected status must be allowed to move to ``new`` (InvalidTransition when not)."""
        for current in expected:
            check_transition(current, new)
        stmt = (
            update(ImageRow)
            .where(
                ImageRow.id == image_id,
                ImageRow.deleted == false(),
                ImageRow.status.in_([s.value for s in expected]),
            )
            .values(status=new.value, updated_at=now, **columns)
        )
        result = self.session.execute(stmt)
        return bool(getattr(result, "rowcount", 0))

    def mark_deleted(self, image_id: str, now: datetime) -> None:
        self.session.execute(
            update(ImageRow)
            .where(ImageRow.id == image_id)
            .values(status=Status.DELETED.value, deleted=True, deleted_at=now, updated_at=now)
        )
        self.session.execute(delete(ImageLocationRow).where(ImageLocationRow.image_id == image_id))
        self.session.execute(delete(ImageMemberRow).where(ImageMemberRow.image_id == image_id))

    def exists_any(self, image_id: str) -> bool:
        """True when a row with this id exists, deleted or not (ids are never reused)."""
        return bool(self.session.scalar(select(exists().where(ImageRow.id == image_id))))
