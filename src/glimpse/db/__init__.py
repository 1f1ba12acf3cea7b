"""Persistence: the only package that imports SQLAlchemy and Alembic."""

from glimpse.db.engine import Database, after_commit

__all__ = ["Database", "after_commit"]
