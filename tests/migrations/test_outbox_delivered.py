"""Migration 0018 removes the outbox messages earlier versions kept once delivered, and only those."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from glimpse.db.migrate import upgrade
from tests.migrations.upgrades import database_at

BEFORE = "0017_expand_image_list_name_asc"
DAY = "2026-01-01"
DONE = f"{DAY} 00:01:00"
MESSAGE = """INSERT INTO outbox (id, topic, payload, created_at, delivered_at)
    VALUES (:id, 'image.create', '{}', :at, :done)"""


def test_upgrade_removes_the_delivered_messages_and_keeps_the_waiting_ones(tmp_path: Path) -> None:
    with database_at(tmp_path, "glimpse_outbox_delivered", BEFORE) as (url, engine):
        with engine.begin() as connection:
            connection.execute(
                sa.text(MESSAGE),
                [{"id": f"m{i}", "at": f"{DAY} 00:00:0{i}", "done": DONE if i % 2 else None} for i in range(6)],
            )
        upgrade(url)
        with engine.begin() as connection:
            left = connection.execute(sa.text("SELECT id, delivered_at FROM outbox ORDER BY id")).all()
    assert [tuple(row) for row in left] == [("m0", None), ("m2", None), ("m4", None)]
