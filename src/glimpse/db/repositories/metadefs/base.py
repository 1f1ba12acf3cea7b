"""What every part of the metadef repository shares: the session, the flush that maps a lost unique race to
409, and the update time and sort column rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import func
from sqlalchemy.orm import Session

from glimpse.errors import Conflict


def _updated(now: datetime, loaded: bool) -> datetime | None:
    """A new row's update time: none for what the definition loader writes (Glance shows none then)."""
    return None if loaded else now


def _sort_column(model: Any, sort_key: str) -> Any:
    """The column to sort by; a row never updated sorts by its creation time under ``updated_at`` (the same
    order on every database, and a marker on such a row still pages)."""
    if sort_key == "updated_at":
        return func.coalesce(model.updated_at, model.created_at)
    return getattr(model, sort_key)


class MetadefRowsBase:
    """The session the metadef rows are read and written in."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _flush(self, conflict: str) -> None:
        """Flush; a unique constraint another transaction got to first is the same 409 as one seen before."""
        try:
            self.session.flush()
        except sa_exc.IntegrityError:
            raise Conflict(conflict) from None
