"""The artifact repository: scope locks, reads (one artifact, searches, a page's statement), writes, quota
usage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, exists, false, func, insert, not_, or_, select, update
from sqlalchemy.orm import Session, aliased

from glimpse.db.models import ArtifactBlobRow, ArtifactLockRow, ArtifactPropertyRow, ArtifactRow, ArtifactTagRow
from glimpse.db.repositories.artifacts.queries import Sortable, _after, _readable, _version_compare, filters
from glimpse.db.repositories.artifacts.records import COLUMN_FIELDS, VALUE_COLUMNS, A, ArtifactRecord, T, Viewer
from glimpse.domain.artifacts import semver
from glimpse.domain.artifacts.fields import Field
from glimpse.domain.artifacts.queries import ListQuery, SortKey
from glimpse.errors import NotFound


class ArtifactRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- scope locks and uniqueness --------------------------------------------------------------------
    def lock_scope(self, scope: str, now: datetime) -> None:
        """Hold ``scope`` until :meth:`unlock_scope` in this transaction: a concurrent holder waits (row lock on
        PostgreSQL, the write lock on SQLite), so the check that follows sees what the other one committed."""
        self.session.execute(insert(ArtifactLockRow).values(id=scope, acquired_at=now))

    def unlock_scope(self, scope: str) -> None:
        self.session.execute(delete(ArtifactLockRow).where(ArtifactLockRow.id == scope))

    def scope_taken(
        self, type_name: str, name: str, version: semver.SemVer, owner: str | None, visibility: str, exclude: str
    ) -> bool:
        terms = [
            A.type_name == type_name,
            A.name == name,
            _version_compare("eq", version),
            A.status != "deleted",
            A.id != exclude,
        ]
        terms.append(
            A.visibility == "public" if visibility == "public" else and_(A.owner == owner, A.visibility == "private")
        )
        return self.session.execute(select(A.id).where(*terms).limit(1)).first() is not None

    # -- reading ---------------------------------------------------------------------------------------
    def get(self, artifact_id: str, type_name: str | None, viewer: Viewer, *, details: bool = True) -> ArtifactRecord:
        terms = [A.id == artifact_id, _readable(viewer)]
        if type_name is not None:
            terms.append(A.type_name == type_name)
        row = self.session.execute(select(*(A[name] for name in COLUMN_FIELDS)).where(*terms)).mappings().first()
        if row is None:
            raise NotFound(f"Artifact with id={artifact_id} not found")
        return self._load([dict(row)], details=details)[0]

    def exists(self, artifact_id: str, type_name: str | None, viewer: Viewer) -> bool:
        terms = [A.id == artifact_id, _readable(viewer), A.status != "deleted"]
        if type_name is not None:
            terms.append(A.type_name == type_name)
        return self.session.execute(select(A.id).where(*terms)).first() is not None

    def _load(self, rows: list[dict[str, Any]], *, details: bool = True) -> list[ArtifactRecord]:
        """Records of ``rows`` with their tags and, with ``details``, their property values and blobs."""
        records = {row["id"]: ArtifactRecord(columns=row) for row in rows}
        if not records:
            return []
        ids = list(records)
        for tag_row in self.session.execute(
            select(T.artifact_id, T.value).where(T.artifact_id.in_(ids)).order_by(T.value)
        ):
            records[tag_row.artifact_id].tags.append(tag_row.value)
        if not details:
            return [records[row["id"]] for row in rows]
        props = self.session.execute(
            select(ArtifactPropertyRow).where(ArtifactPropertyRow.artifact_id.in_(ids)).order_by(ArtifactPropertyRow.id)
        ).scalars()
        lists: dict[tuple[str, str], list[tuple[int, Any]]] = {}
        for prop in props:
            value = next(
                (v for v in (prop.string_value, prop.int_value, prop.numeric_value, prop.bool_value) if v is not None),
                None,
            )
            record = records[prop.artifact_id]
            if prop.position is not None:
                lists.setdefault((prop.artifact_id, prop.name), []).append((prop.position, value))
            elif prop.key_name is not None:
                record.properties.setdefault(prop.name, {})[prop.key_name] = value
            else:
                record.properties[prop.name] = value
        for (artifact_id, name), items in lists.items():
            records[artifact_id].properties[name] = [value for _, value in sorted(items, key=lambda item: item[0])]
        blobs = self.session.execute(select(ArtifactBlobRow).where(ArtifactBlobRow.artifact_id.in_(ids))).scalars()
        for blob in blobs:
            records[blob.artifact_id].blobs.setdefault(blob.name, {})[blob.key_name] = {
                "status": blob.status,
                "external": blob.external,
                "size": blob.size,
                "md5": blob.md5,
                "sha1": blob.sha1,
                "sha256": blob.sha256,
                "content_type": blob.content_type,
                "url": blob.url,
            }
        return [records[row["id"]] for row in rows]

    def search(
        self, query: ListQuery, type_name: str | None, viewer: Viewer, marker: ArtifactRecord | None,
        *, summary: bool = False,
    ) -> tuple[list[ArtifactRecord], int | None]:  # fmt: skip
        """A page of the artifacts matching ``query`` and how many match in all; ``summary``: the page's columns
        and tags only, not counted (None)."""
        terms = filters(query, type_name, viewer)
        if query.latest:
            terms.append(self._latest(terms))
        total = None
        if not summary:
            total = self.session.execute(select(func.count()).select_from(ArtifactRow).where(*terms)).scalar_one()
        stmt = self.page_statement(query, terms, marker)
        rows = [dict(row) for row in self.session.execute(stmt).mappings()]
        return self._load(rows, details=not summary), total

    def page_statement(self, query: ListQuery, terms: list[ColumnElement[bool]], marker: ArtifactRecord | None
                       ) -> Select[Any]:  # fmt: skip
        """The statement of a page's rows: ``terms`` (see ``filters``), sorted, after ``marker``, limited."""
        stmt: Select[Any] = select(*(A[name] for name in COLUMN_FIELDS)).where(*terms)
        return self._sorted(stmt, query.sort, marker).limit(query.limit)

    @staticmethod
    def _latest(terms: list[ColumnElement[bool]]) -> ColumnElement[bool]:
        """Only the highest version of each name (and type) among the matching artifacts."""
        other = aliased(ArtifactRow)
        candidates = select(other.id).where(
            other.type_name == A.type_name,
            other.name == A.name,
            or_(
                other.version_prefix > A.version_prefix,
                and_(other.version_prefix == A.version_prefix, other.version_suffix > A.version_suffix),
            ),
        )
        matching = select(A.id).where(*terms).scalar_subquery()
        return not_(exists(candidates.where(other.id.in_(matching))))

    def _sorted(self, stmt: Select[Any], keys: Sequence[SortKey], marker: ArtifactRecord | None) -> Select[Any]:
        """Order by ``keys`` (NULLs first ascending, last descending), after ``marker`` when given. A column that
        is never NULL is ordered without a NULLS clause, so an index on it serves the order (PostgreSQL walks
        a plain index backwards as ``DESC NULLS FIRST``, which ``DESC NULLS LAST`` is not), and the page after a
        marker starts at the marker's first sort value in that index (``column <= value``) instead of walking
        every row before it."""
        columns: list[Sortable] = []
        for key in keys:
            if key.field == "version":
                parsed = semver.parse(marker.columns["version"]) if marker else None
                columns.append(Sortable(A.version_prefix, key.direction, parsed.prefix if parsed else None, False))
                columns.append(Sortable(A.version_suffix, key.direction, parsed.suffix if parsed else None, False))
                columns.append(Sortable(A.version_meta, key.direction, parsed.meta if parsed else None, False))
            elif key.column:
                value = marker.columns.get(key.field) if marker else None
                columns.append(Sortable(A[key.field], key.direction, value, bool(A[key.field].nullable)))
            else:
                prop = aliased(ArtifactPropertyRow)
                stmt = stmt.outerjoin(prop, and_(prop.artifact_id == A.id, prop.name == key.field))
                column = getattr(prop, VALUE_COLUMNS[key.kind])
                value = marker.properties.get(key.field) if marker else None
                columns.append(Sortable(column, key.direction, value, True))  # no row: NULL
        for item in columns:
            ordered = item.column.asc() if item.direction == "asc" else item.column.desc()
            if item.nullable:
                ordered = ordered.nulls_first() if item.direction == "asc" else ordered.nulls_last()
            stmt = stmt.order_by(ordered)
        if marker is not None:
            stmt = stmt.where(_after(columns))
            first = columns[0]
            if not first.nullable and first.value is not None:
                bound = first.column >= first.value if first.direction == "asc" else first.column <= first.value
                stmt = stmt.where(bound)
        return stmt

    # -- writing ---------------------------------------------------------------------------------------
    def create(
        self, columns: Mapping[str, Any], properties: Mapping[str, tuple[Field, Any]], tags: Iterable[str]
    ) -> None:
        version = semver.parse(columns["version"])
        self.session.add(
            ArtifactRow(
                **columns,
                version_prefix=version.prefix,
                version_suffix=version.suffix,
                version_meta=version.meta,
            )
        )
        self.session.flush()
        self.set_properties(columns["id"], properties)
        self.set_tags(columns["id"], tags)

    def update_columns(self, artifact_id: str, values: Mapping[str, Any]) -> None:
        values = dict(values)
        if "version" in values:
            version = semver.parse(values["version"])
            values.update(version_prefix=version.prefix, version_suffix=version.suffix, version_meta=version.meta)
        if values:
            self.session.execute(update(ArtifactRow).where(ArtifactRow.id == artifact_id).values(**values))

    def set_properties(self, artifact_id: str, properties: Mapping[str, tuple[Field, Any]]) -> None:
        """Replace the rows of the named fields."""
        if not properties:
            return
        self.session.execute(
            delete(ArtifactPropertyRow).where(
                ArtifactPropertyRow.artifact_id == artifact_id, ArtifactPropertyRow.name.in_(list(properties))
            )
        )
        rows: list[dict[str, Any]] = []
        for name, (item, value) in properties.items():
            if value is None:
                continue
            column = VALUE_COLUMNS[item.value_kind]
            if item.kind == "List":
                rows.extend(
                    {"artifact_id": artifact_id, "name": name, column: element, "position": position}
                    for position, element in enumerate(value)
                )
            elif item.kind == "Dict":
                rows.extend(
                    {"artifact_id": artifact_id, "name": name, column: element, "key_name": key}
                    for key, element in value.items()
                    if element is not None
                )
            else:
                rows.append({"artifact_id": artifact_id, "name": name, column: value})
        for row in rows:
            self.session.add(ArtifactPropertyRow(**row))
        self.session.flush()

    def set_tags(self, artifact_id: str, tags: Iterable[str]) -> None:
        self.session.execute(delete(ArtifactTagRow).where(ArtifactTagRow.artifact_id == artifact_id))
        for tag in dict.fromkeys(tags):
            self.session.add(ArtifactTagRow(artifact_id=artifact_id, value=tag))
        self.session.flush()

    def set_blob(self, artifact_id: str, name: str, key: str, blob: Mapping[str, Any] | None) -> None:
        """Create, replace (``blob``) or remove (None) one blob of an artifact."""
        self.session.execute(
            delete(ArtifactBlobRow).where(
                ArtifactBlobRow.artifact_id == artifact_id,
                ArtifactBlobRow.name == name,
                ArtifactBlobRow.key_name == key,
            )
        )
        if blob is not None:
            self.session.add(ArtifactBlobRow(artifact_id=artifact_id, name=name, key_name=key, **blob))
        self.session.flush()

    def delete(self, artifact_id: str) -> None:
        for table in (ArtifactBlobRow, ArtifactPropertyRow, ArtifactTagRow):
            self.session.execute(delete(table).where(table.artifact_id == artifact_id))
        self.session.execute(delete(ArtifactRow).where(ArtifactRow.id == artifact_id))

    def deleted_ids(self, limit: int) -> list[str]:
        """Artifacts deleted with delayed_delete, waiting for the scrubber (the oldest first)."""
        query = select(A.id).where(A.status == "deleted").order_by(A.updated_at, A.id).limit(limit)
        return list(self.session.execute(query).scalars())

    # -- quota usage ----------------------------------------------------------------------------------
    def count_by_type(self, owner: str) -> dict[str, int]:
        """The project's artifacts by type (every status: a deleted one waiting for the scrubber counts)."""
        rows = self.session.execute(
            select(A.type_name, func.count()).where(A.owner == owner).group_by(A.type_name)
        ).all()
        return {type_name: int(count) for type_name, count in rows}

    def uploaded_by_type(self, owner: str) -> dict[str, int]:
        """Bytes of uploaded blobs (not external ones) of the project's artifacts, by type."""
        rows = self.session.execute(
            select(A.type_name, func.coalesce(func.sum(ArtifactBlobRow.size), 0))
            .select_from(ArtifactBlobRow)
            .join(ArtifactRow, ArtifactRow.id == ArtifactBlobRow.artifact_id)
            .where(A.owner == owner, ArtifactBlobRow.external == false(), ArtifactBlobRow.size.is_not(None))
            .group_by(A.type_name)
        ).all()
        return {type_name: int(size) for type_name, size in rows}
