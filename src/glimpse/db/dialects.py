"""Statements whose SQL differs by database (PostgreSQL or SQLite), written once."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_conflicts(session: Session, table: Any) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` into ``table`` (a model or a Table) in the session's dialect: a row
    whose key is already there is skipped, not an error."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing()
