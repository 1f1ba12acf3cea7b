"""The database: its URL (the password inside is secret), the read replica's, and SQLite's lock wait."""

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
    # SQLite: seconds between checkpoints of the write-ahead log, made in a thread of each process that writes
    # (db/checkpoints.py); 0: by the commit that fills the log, as SQLite does on its own
    database_checkpoint_interval: Annotated[float, Ini("database", "checkpoint_interval")] = Field(
        default=0.25, ge=0, le=60
    )
    # a PostgreSQL streaming replica for the image lists and shows (oslo.db's option); empty: none. Reads fall
    # back to the primary when it cannot serve them (docs/operations.md, "Read replica")
    database_slave_url: Annotated[SecretUrl, Ini("database", "slave_connection"), Env("GLIMPSE_DATABASE_SLAVE_URL")] = (
        SecretUrl("")
    )
    # seconds: a change the replica has not replayed this long after it was made through this process sends every
    # read to the primary until it has (a stuck or far-behind replica serves nothing that old); 0: no bound
    database_replica_max_lag: Annotated[
        float, Ini("database", "replica_max_lag"), Env("GLIMPSE_DATABASE_REPLICA_MAX_LAG")
    ] = Field(default=30.0, ge=0)

    def _check_replica(self) -> None:
        """A read replica is a PostgreSQL standby of a PostgreSQL primary."""
        replica = self.database_slave_url.get_secret_value()
        if not replica:
            return
        primary = self.database_url.get_secret_value()
        for option, url in (("slave_connection", replica), ("connection", primary)):
            if not url.startswith("postgresql"):
                raise ValueError(f"[database] slave_connection needs PostgreSQL: {option} is not a postgresql:// URL")
