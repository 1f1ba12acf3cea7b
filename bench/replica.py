"""What a read replica costs per unit of work: the log position kept after each change, the replay check
before a caller's read, against the same work without a replica.

    .venv/bin/python bench/replica.py              # 500 rounds; needs scripts/pg-replica-up (127.0.0.1:5433)

A new database on 127.0.0.1:5432 (dropped at the end, so the replica replays its creation and its drop). Each
round: an insert through a Database without a replica and through one with it (the tracked path), the same
caller's read straight after its change (replay check on the replica, then the primary if it is behind), a
trivial read on the primary and one on the replica by a caller with nothing pending. Prints p50/p90 in ms.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from glimpse.context import Caller, current_caller
from glimpse.db import Database
from glimpse.db.migrate import upgrade

ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def insert(session: Session) -> None:
    session.execute(sa.text("INSERT INTO quota_projects (project_id, claims) VALUES (:p, 0)"), {"p": uuid.uuid4().hex})


def count(session: Session) -> int:
    return int(session.execute(sa.text("SELECT count(*) FROM quota_projects")).scalar_one())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()
    admin = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    name = f"glimpse_bench_replica_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    samples: dict[str, list[float]] = {}

    def timed(label: str, work: Callable[[], object]) -> None:
        started = time.perf_counter()
        work()
        samples.setdefault(label, []).append((time.perf_counter() - started) * 1000)

    try:
        upgrade(url)
        plain, tracked = Database(url), Database(url, replica_url=url.replace(":5432/", ":5433/"))
        alice, carol = Caller("alice@alpha"), Caller("carol@alpha")
        plain.run_sync(count)
        tracked.read_sync(count)
        for _ in range(args.rounds):
            current_caller.set(alice)
            timed("change, no replica", lambda: plain.run_sync(insert))
            timed("change, with a replica", lambda: tracked.run_sync(insert))
            timed("own read right after the change", lambda: tracked.read_sync(count))
            current_caller.set(carol)
            timed("read on the primary", lambda: plain.run_sync(count))
            timed("read on the replica", lambda: tracked.read_sync(count))
        plain.dispose()
        tracked.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    for label, values in samples.items():
        values.sort()
        p50, p90 = values[len(values) // 2], values[int(len(values) * 0.9)]
        print(f"{label:34} p50 {p50:6.2f} ms   p90 {p90:6.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
