"""Real `glimpse serve` processes for the suites that need one (e2e, fault): start, wait, stop, kill.

A server gets the test run's environment without its GLIMPSE_* and OS_* variables, plus its own data
directory and database (a new SQLite file, or a new PostgreSQL database when GLIMPSE_TEST_DB=postgresql).
"""

from __future__ import annotations

import fcntl
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

VENV_BIN = Path(sys.executable).parent
GLIMPSE = str(VENV_BIN / "glimpse")
PG_ADMIN_URL = os.environ.get("GLIMPSE_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
STARTUP_TIMEOUT = 30.0


def backend() -> str:
    """The database backend of this run: GLIMPSE_TEST_DB, `sqlite` (default) or `postgresql`."""
    name = os.environ.get("GLIMPSE_TEST_DB", "sqlite")
    if name not in ("sqlite", "postgresql"):
        raise pytest.UsageError(f"GLIMPSE_TEST_DB must be sqlite or postgresql, not {name!r}")
    return name


@contextmanager
def new_database(directory: Path, prefix: str = "glimpse_proc") -> Iterator[str]:
    """The URL of a new, empty database on this run's backend (a PostgreSQL one is dropped afterwards)."""
    if backend() == "sqlite":
        yield f"sqlite:///{directory / 'glimpse.db'}"
        return
    with new_pg_database(prefix) as url:
        yield url


@contextmanager
def new_pg_database(prefix: str = "glimpse_proc") -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database on the machine's server, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def machine_lock(name: str) -> Iterator[None]:
    """Held by one test run on this machine at a time (the other pass of `make test`, a helper's run): for
    tests that change state every run shares, such as Keystone's registered limits of the glance service.
    flock: the kernel lets go when the process ends, however it ends."""
    with open(f"/tmp/glimpse-test-{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(data_dir: Path, database_url: str, home: Path) -> dict[str, str]:
    """The caller's environment without GLIMPSE_* and OS_* settings, plus this server's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLIMPSE_", "OS_"))}
    env.update(
        GLIMPSE_DATA_DIR=str(data_dir),
        GLIMPSE_DATABASE_URL=database_url,
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        PYTHONUNBUFFERED="1",
    )
    return env


def answers_root(port: int) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def spawn(
    port: int, env: dict[str, str], log_file: Path, *, append: bool = False, config: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start `glimpse serve` on 127.0.0.1:port (with ``--config config``), its output going to ``log_file``."""
    extra = ["--config", str(config)] if config is not None else []
    with log_file.open("ab" if append else "wb") as log:
        return subprocess.Popen(
            [GLIMPSE, "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def spawn_worker(
    env: dict[str, str], log_file: Path, *, append: bool = False, config: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a `glimpse worker` (task worker, no API), its output going to ``log_file``."""
    extra = ["--config", str(config)] if config is not None else []
    with log_file.open("ab" if append else "wb") as log:
        return subprocess.Popen(
            [GLIMPSE, "worker", *extra],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_root(process: subprocess.Popen[bytes], port: int, timeout: float = STARTUP_TIMEOUT) -> int | None:
    """The status of GET / once the server answers; None when it exits or stays silent too long."""
    deadline = time.monotonic() + timeout
    while (status := answers_root(port)) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            return None
        time.sleep(0.05)
    return status


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL when the server does not exit within 10 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: the process gets no chance to clean anything up."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


class ManagedProcess:
    """Stop, kill and read the log of a server process: a base for dataclasses with ``process`` and ``log_file``."""

    process: subprocess.Popen[bytes] | None
    log_file: Path

    def kill(self) -> None:
        """kill -9: no shutdown, no cleanup, exactly like a crash."""
        assert self.process is not None
        kill(self.process)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def log_text(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace") if self.log_file.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])
