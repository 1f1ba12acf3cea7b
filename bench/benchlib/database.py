"""A fresh PostgreSQL database for one benchmark run, dropped at the end."""

from __future__ import annotations

import uuid

import psycopg
from psycopg import sql

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"  # the machine's server (trust auth on loopback)


class Database:
    """``CREATE DATABASE <prefix>_<random>`` through ``admin_url``; ``url`` reaches it; ``drop()`` removes it."""

    def __init__(self, admin_url: str, prefix: str = "glimpse_load") -> None:
        self.admin_url = admin_url
        self.name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        self.url = admin_url.rsplit("/", 1)[0] + f"/{self.name}"

    def drop(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))
