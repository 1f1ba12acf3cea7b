"""The plan the backend under test chooses for a statement, compiled with bound parameters as repositories run it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Executable, text

# an almost empty table makes any plan cheap: forbid the ones that ignore an index. The incremental sort too: over
# a shorter index (e.g. ix_images_deleted_created_at) it can cost the same as the full walk, and was chosen once
FORBIDDEN = ("enable_seqscan", "enable_sort", "enable_incremental_sort")


def explain(connection: Connection, statement: Executable, forbidden: Sequence[str] = FORBIDDEN) -> str:
    """PostgreSQL's EXPLAIN with the ``forbidden`` plan kinds turned off for the transaction; SQLite's EXPLAIN QUERY
    PLAN (its details, one a line)."""
    compiled = statement.compile(dialect=connection.dialect)
    params: Any = compiled.params
    if compiled.positiontup is not None:
        params = tuple(compiled.params[name] for name in compiled.positiontup)
    if connection.dialect.name == "postgresql":
        for setting in forbidden:
            connection.execute(text(f"SET LOCAL {setting} = off"))
        rows: Any = connection.exec_driver_sql(f"EXPLAIN {compiled}", params)
        return "\n".join(row[0] for row in rows)
    rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params)
    return "\n".join(str(row[-1]) for row in rows)
