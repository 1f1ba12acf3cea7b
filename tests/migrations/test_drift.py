"""The models and the Alembic migrations describe the same schema, on the backend under test."""

from glimpse.db.migrate import EXPRESSION_INDEXES, current_revision, drift, expression_indexes, head_revision


def test_database_is_at_head(database_url: str) -> None:
    assert current_revision(database_url) == head_revision()


def test_models_match_migrations(database_url: str) -> None:
    assert drift(database_url) == []


def test_expression_indexes_exist(database_url: str) -> None:
    # drift() leaves them out (reflection skips expression indexes), so they are checked by name
    assert expression_indexes(database_url) == EXPRESSION_INDEXES
