"""The outbox's INSERT is written in the driver's own SQL: a message reads back exactly as written, whole
microseconds and all, and sorts among messages written through SQLAlchemy's Core by its time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from glimpse.container import Services
from glimpse.db.repositories.outbox import _OUTBOX, OutboxRepository
from glimpse.domain.images import new_id
from glimpse.domain.outbox import OutboxMessage

PAYLOAD: dict[str, Any] = {
    "priority": "INFO",
    "payload": {"name": "ünïcode \"quoted\" \\ name", "size": None, "tags": ["a", "b"], "min_disk": 0,
                "properties": {"nested": {"deep": [1, 2.5, True]}}},
}  # fmt: skip


def test_a_message_reads_back_as_written_and_in_time_order_with_core_rows(services: Services) -> None:
    start = datetime(2026, 12, 7, 5, 0, 0)  # microsecond 0: written "…00.000000", as SQLAlchemy writes it
    mine = [
        OutboxMessage(id=new_id(), topic="image.create", created_at=start + timedelta(microseconds=n), payload=PAYLOAD)
        for n in (0, 2, 999_999)
    ]
    later = start + timedelta(microseconds=1)
    core = {"id": new_id(), "topic": "image.update", "payload": PAYLOAD, "created_at": later}

    def write(session: Any) -> None:
        repo = OutboxRepository(session)
        for message in mine:
            repo.add(message)
        session.execute(insert(_OUTBOX), core)

    services.db.run_sync(write)
    found = services.db.run_sync(lambda s: OutboxRepository(s).undelivered(10))
    assert [message.id for message in found] == [mine[0].id, core["id"], mine[1].id, mine[2].id]
    assert [message.created_at for message in found] == [start + timedelta(microseconds=n) for n in (0, 1, 2, 999_999)]
    assert all(message.payload == PAYLOAD for message in found)
    again = services.db.run_sync(lambda s: OutboxRepository(s).get(mine[0].id))
    assert again is not None
    assert (again.topic, again.payload, again.created_at) == ("image.create", PAYLOAD, start)
