"""The real PostgreSQL streaming replica of the read-replica tests (scripts/pg-replica-up, 127.0.0.1:5433).

The replica copies the whole primary cluster, so the database a PostgreSQL test session creates on the
primary is on the replica too, under the same name. One replica serves every test run on the machine, so a
test that uses it holds an advisory lock on the primary for its whole length (other runs' replica tests
wait): a test may pause replay or stop the replica without another run's test seeing it. The lock's holder
finds the replica running, replaying and caught up with the primary, and leaves it so.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "pg-replica-up"
PORT = 5433
LOCK_KEY = 0x676C696D7073  # "glimps": the advisory lock every replica test holds on the primary
WAIT = 30.0  # seconds a replica of this machine takes at most to catch up or to pause


def up() -> None:
    """Start the replica (or reuse the healthy one)."""
    subprocess.run([str(SCRIPT)], check=True, capture_output=True, timeout=180)


def replica_url(database_url: str) -> str:
    """The same database on the replica."""
    return make_url(database_url).set(port=PORT).render_as_string(hide_password=False)


def _engine(url: str) -> sa.Engine:
    url = url.replace("postgresql://", "postgresql+psycopg://")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


class ReplicaControl:
    """Look at and steer the replica of ``database_url``'s database: lag, pause, stop."""

    def __init__(self, database_url: str) -> None:
        self.primary_url = database_url
        self.url = replica_url(database_url)
        self.primary = _engine(database_url)
        self.replica = _engine(self.url)
        self.stopped = False

    def primary_lsn(self) -> str:
        with self.primary.connect() as conn:
            return str(conn.execute(sa.text("SELECT pg_current_wal_lsn()")).scalar_one())

    def caught_up(self) -> None:
        """Wait until the replica has replayed everything the primary had committed when this was called."""
        target = self.primary_lsn()
        deadline = time.monotonic() + WAIT
        query = sa.text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)")
        while True:
            with self.replica.connect() as conn:
                if conn.execute(query, {"lsn": target}).scalar_one():
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"the replica did not replay up to {target} within {WAIT} s")
            time.sleep(0.05)

    def _replay_state(self) -> str:
        with self.replica.connect() as conn:
            return str(conn.execute(sa.text("SELECT pg_get_wal_replay_pause_state()")).scalar_one())

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The replica stops replaying (its data stays as it is now, a lagging replica) until the block ends."""
        self.caught_up()
        with self.replica.connect() as conn:
            conn.execute(sa.text("SELECT pg_wal_replay_pause()"))
        deadline = time.monotonic() + WAIT
        while self._replay_state() != "paused":
            assert time.monotonic() < deadline, "the replica did not pause"
            time.sleep(0.02)
        try:
            yield
        finally:
            self.resume()

    def resume(self) -> None:
        with self.replica.connect() as conn:
            conn.execute(sa.text("SELECT pg_wal_replay_resume()"))

    def stop(self) -> None:
        """Take the replica away (a fast shutdown: its connections are cut); it is started again afterwards."""
        self.stopped = True
        subprocess.run([str(SCRIPT), "--stop"], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        up()
        self.stopped = False

    def close(self) -> None:
        self.primary.dispose()
        self.replica.dispose()


@contextmanager
def exclusive(database_url: str) -> Iterator[ReplicaControl]:
    """Hold the replica for one test: the advisory lock, then a running, replaying, caught-up replica; put back
    the same way afterwards (started again if the test stopped it)."""
    control = ReplicaControl(database_url)
    lock = control.primary.connect()
    try:
        lock.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
        try:
            control.resume()  # a run that died while it held the replica paused leaves it so
        except sa.exc.OperationalError:  # or stopped
            control.start()
        control.caught_up()
        yield control
    finally:
        try:
            if control.stopped:
                control.start()
            control.resume()
        finally:
            lock.close()  # ends the session: the advisory lock goes with it
            control.close()
