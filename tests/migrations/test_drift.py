"""The models and the Alembic migrations describe the same schema, on the backend under test."""

from glimpse.db.migrate import current_revision, drift, head_revision


def test_database_is_at_head(database_url: str) -> None:
    assert current_revision(database_url) == head_revision()


def test_models_match_migrations(database_url: str) -> None:
    assert drift(database_url) == []
