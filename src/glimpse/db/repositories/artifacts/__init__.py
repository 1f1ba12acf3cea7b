"""Artifacts of the artifacts API: rows, property rows, tags and blobs; list queries in SQL.

Type-specific field values are stored one scalar per row in ``artifact_properties`` (a list item with its
position, a dict value with its key) in a column of its kind, so that filters and sorts on them are SQL on
both databases. Visibility is part of every query: another project's private artifact is never loaded
unless the caller may see every project's.

The package: ``records`` (the stored shape, the viewer, the scope lock's name), ``queries`` (list queries in
SQL), ``repository`` (:class:`ArtifactRepository`). Import from here.
"""

from __future__ import annotations

from glimpse.db.repositories.artifacts.queries import filters
from glimpse.db.repositories.artifacts.records import COLUMN_FIELDS, VALUE_COLUMNS, ArtifactRecord, Viewer, scope_id
from glimpse.db.repositories.artifacts.repository import ArtifactRepository

__all__ = ["COLUMN_FIELDS", "VALUE_COLUMNS", "ArtifactRecord", "ArtifactRepository", "Viewer", "filters", "scope_id"]
