"""Persistence: the only package that imports SQLAlchemy and Alembic."""

from glimpse.db.engine import Database

__all__ = ["Database"]
