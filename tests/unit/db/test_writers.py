"""The writer locks (db/writers.py) on the real PostgreSQL: each Database is a process of its own here (its own
connections, hence its own advisory-lock sessions)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from glimpse.db import Database
from glimpse.db.writers import exclude_writers
from tests.serverproc import backend

# advisory locks waited for in this test's database
WAITERS = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="writer locks are PostgreSQL advisory locks")


@pytest.fixture
def nodes(clean_db: str) -> Iterator[tuple[Database, Database]]:
    first, second = Database(clean_db), Database(clean_db)
    yield first, second
    first.dispose()
    second.dispose()


def test_writers_of_one_image_never_wait_for_each_other(nodes: tuple[Database, Database]) -> None:
    """A retry on another node takes the lock while the first attempt (stopped, say) still holds it."""
    first, second = nodes

    async def scenario() -> list[bool | None]:
        seen = [await second.writers.writing("img")]
        async with first.writers.holding("img"):
            async with second.writers.holding("img"):
                seen.append(await first.writers.writing("img"))
            seen.append(await second.writers.writing("img"))
        seen.append(await second.writers.writing("img"))
        return seen

    assert asyncio.run(scenario()) == [False, True, True, False]


def test_a_repair_shuts_writers_out_of_its_image_only_until_it_commits(nodes: tuple[Database, Database]) -> None:
    """While a repair's transaction holds an image's lock exclusively, a writer of that image waits for its end,
    and the writers of other images of the same process go on meanwhile (they share one connection)."""
    repairing, writer = nodes
    excluded: list[bool | None] = []
    in_repair, repaired = threading.Event(), threading.Event()

    def repair(session: Session) -> None:
        excluded.append(exclude_writers(session, "img"))
        in_repair.set()
        assert repaired.wait(30)

    async def scenario() -> bool:
        repair_done = asyncio.ensure_future(asyncio.to_thread(repairing.run_sync, repair))
        await asyncio.to_thread(in_repair.wait, 30)

        async def write_img() -> None:
            async with writer.writers.holding("img"):
                pass

        waiting = asyncio.ensure_future(write_img())
        deadline = time.monotonic() + 30
        while not repairing.run_sync(lambda s: s.execute(text(WAITERS)).scalar_one()):  # its wait has begun
            assert time.monotonic() < deadline, "the writer never asked for the lock"
            await asyncio.sleep(0.02)
        async with writer.writers.holding("other"):  # not stuck behind the waiting one
            pending = not waiting.done()
        repaired.set()
        await repair_done
        await asyncio.wait_for(waiting, 30)
        return pending

    assert asyncio.run(scenario()) is True
    assert excluded == [True]


def test_a_repair_never_takes_an_image_a_writer_holds(nodes: tuple[Database, Database]) -> None:
    repairing, writer = nodes

    async def scenario() -> bool | None:
        async with writer.writers.holding("img"):
            return await asyncio.to_thread(repairing.run_sync, lambda s: exclude_writers(s, "img"))

    assert asyncio.run(scenario()) is False
    assert repairing.run_sync(lambda s: exclude_writers(s, "img")) is True


def test_locks_lost_with_their_connection_are_taken_again_by_the_next_call(nodes: tuple[Database, Database]) -> None:
    """The connection holding a process's writer locks dies (the server restarted it, a network cut): as
    soon as the process takes or lets go of any writer lock again, it holds every lock it held before."""
    writer, other = nodes

    def lock_holders(session: Session) -> list[int]:
        query = WAITERS.replace("count(*)", "pid").replace("NOT granted", "granted")
        return [row[0] for row in session.execute(text(query))]

    async def scenario() -> list[bool | None]:
        seen: list[bool | None] = []
        async with writer.writers.holding("img"):
            [pid] = other.run_sync(lock_holders)
            other.run_sync(lambda s: s.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid}))
            seen.append(await other.writers.writing("img"))  # gone with its connection
            async with writer.writers.holding("next"):
                seen.append(await other.writers.writing("img"))  # taken again
            seen.append(await other.writers.writing("img"))
        seen.append(await other.writers.writing("img"))
        return seen

    assert asyncio.run(scenario()) == [False, True, True, False]
