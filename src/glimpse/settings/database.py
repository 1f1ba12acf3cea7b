"""The database: its URL (the password inside is secret) and SQLite's lock wait."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from glimpse.settings.masking import SecretUrl
from glimpse.settings.sources import Env, Ini


class DatabaseGroup(BaseModel):
    """Settings' fields for the database."""

    # default sqlite:///<data_dir>/glimpse.db; a password in it is a secret
    database_url: Annotated[SecretUrl, Ini("database", "connection"), Env("GLIMPSE_DATABASE_URL")] = SecretUrl("")
    # seconds SQLite waits for a lock held elsewhere
    database_busy_timeout: Annotated[float, Ini("database", "busy_timeout"), Env("GLIMPSE_DATABASE_BUSY_TIMEOUT")] = (
        Field(default=30.0, ge=0)
    )
