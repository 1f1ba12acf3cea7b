"""The audit log: entries written in batches, read newest first with filters and keyset paging, purged by age."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, delete, or_, select
from sqlalchemy.orm import Session

from glimpse.db.dialects import insert_ignoring_conflicts
from glimpse.db.models import AuditRow
from glimpse.domain.audit import AuditEntry, AuditQuery

AUDIT_TABLE = cast(Table, AuditRow.__table__)
_FIELDS = tuple(field.name for field in fields(AuditEntry))
_EXACT = ("user_id", "project_id", "request_id", "method", "action", "target", "outcome")


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        id=row.id, created_at=row.created_at, request_id=row.request_id, user_id=row.user_id,
        project_id=row.project_id, roles=tuple(row.roles or ()), method=row.method, action=row.action,
        path=row.path, target=row.target, status=row.status, outcome=row.outcome,
    )  # fmt: skip


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_many(self, entries: Sequence[AuditEntry]) -> None:
        """One executemany INSERT for a batch (Core: none of the ORM's per-row bookkeeping)."""
        if entries:
            # a shallow row per entry (dataclasses.asdict deep-copies every value)
            rows = [
                {**{name: getattr(entry, name) for name in _FIELDS}, "roles": list(entry.roles)} for entry in entries
            ]
            # an entry already there was written by an earlier try of this batch whose commit was not
            # acknowledged (the connection dropped after COMMIT): entry ids are unique, so skip it
            self.session.execute(insert_ignoring_conflicts(self.session, AUDIT_TABLE), rows)

    def exists(self, entry_id: str) -> bool:
        return self.session.get(AuditRow, entry_id) is not None

    def search(self, query: AuditQuery, limit: int, marker: str | None = None) -> list[AuditEntry]:
        """Entries matching ``query``, newest first; ``marker``: after that entry."""
        stmt = select(AuditRow)
        for name in _EXACT:
            value = getattr(query, name)
            if value is not None:
                stmt = stmt.where(getattr(AuditRow, name) == value)
        if query.since is not None:
            stmt = stmt.where(AuditRow.created_at >= query.since)
        if query.until is not None:
            stmt = stmt.where(AuditRow.created_at < query.until)
        if marker is not None:
            after = self.session.get(AuditRow, marker)
            if after is None:
                return []
            stmt = stmt.where(
                or_(
                    AuditRow.created_at < after.created_at,
                    and_(AuditRow.created_at == after.created_at, AuditRow.id < after.id),
                )
            )
        stmt = stmt.order_by(AuditRow.created_at.desc(), AuditRow.id.desc()).limit(limit)
        return [_entry(row) for row in self.session.scalars(stmt)]

    def purge(self, before: datetime) -> int:
        result = self.session.execute(delete(AuditRow).where(AuditRow.created_at < before))
        return int(getattr(result, "rowcount", 0) or 0)
