"""Shared fixtures. The database is chosen by GLIMPSE_TEST_DB: `sqlite` (default) or `postgresql`.

PostgreSQL runs for real on 127.0.0.1:5432 (trust auth): each pytest session creates its own database,
migrates it with Alembic, and drops it at the end. Tests start from empty tables.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from glimpse.app import create_app
from glimpse.container import Services, build_services
from glimpse.db.migrate import upgrade
from glimpse.db.models import Base
from glimpse.settings import Settings, load_settings
from tests import pgreplica

PG_ADMIN_URL = os.environ.get("GLIMPSE_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _backend() -> str:
    backend = os.environ.get("GLIMPSE_TEST_DB", "sqlite")
    if backend not in ("sqlite", "postgresql"):
        raise pytest.UsageError(f"GLIMPSE_TEST_DB must be sqlite or postgresql, not {backend!r}")
    return backend


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run every selected test N times (to show that a test is not flaky: say -x --repeat 200)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    times: int = metafunc.config.getoption("repeat")
    if times > 1:
        metafunc.fixturenames.append("repeat_round")
        metafunc.parametrize("repeat_round", range(times), ids=lambda i: f"round{i + 1}")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for this session, on the backend GLIMPSE_TEST_DB names."""
    if _backend() == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'glimpse.db'}"
        upgrade(url)
        yield url
        return
    name = f"glimpse_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def _emptier(database_url: str) -> Iterator[Callable[[], None]]:
    """Empties every table of the session's database in one transaction, on one kept connection.

    On PostgreSQL the DELETEs go as one multi-statement string: one round trip instead of one per table, and no
    new connection (a new PostgreSQL backend) per test; that was about 45 ms of every test's set-up.
    """
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"), pool_pre_ping=True)
    tables = list(reversed(Base.metadata.sorted_tables))
    script = "; ".join(f'DELETE FROM "{table.name}"' for table in tables)

    def empty() -> None:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(script)
            else:
                for table in tables:
                    conn.execute(table.delete())

    yield empty
    engine.dispose()


@pytest.fixture
def clean_db(database_url: str, _emptier: Callable[[], None]) -> str:
    """Empty every table before the test (cheaper than a new database per test)."""
    _emptier()
    return database_url


@pytest.fixture(scope="session")
def pg_replica_server() -> None:
    """The machine's streaming replica of the primary, started once a session (scripts/pg-replica-up)."""
    if _backend() != "postgresql":
        pytest.skip("a read replica is a PostgreSQL standby: GLIMPSE_TEST_DB=postgresql runs this")
    pgreplica.up()


@pytest.fixture
def pg_replica(pg_replica_server: None, clean_db: str) -> Iterator[pgreplica.ReplicaControl]:
    """The replica of this session's (emptied) database, held for this test alone (tests/pgreplica.py)."""
    with pgreplica.exclusive(clean_db) as control:
        yield control


@pytest.fixture
def settings(tmp_path: Path, clean_db: str) -> Settings:
    return load_settings(env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth")


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    svc = build_services(settings)
    yield svc
    svc.close()


def make_client(settings: Settings, services: Services, **options: Any) -> TestClient:
    """An in-process client for an app built from these settings and services.

    It sends ``Accept: text/plain``: webob (and so Glance) answers errors in plain text to a client that
    accepts neither HTML nor JSON, and the tests compare those bodies. HTML for ``*/*`` is tested on its own.
    """
    return TestClient(create_app(settings, services), headers={"accept": "text/plain"}, **options)


@contextmanager
def running_app(settings: Settings, **options: Any) -> Iterator[TestClient]:
    """A client for an app with its own services, built from ``settings`` and closed afterwards."""
    with running_services(settings, **options) as (test_client, _):
        yield test_client


@contextmanager
def running_services(settings: Settings, **options: Any) -> Iterator[tuple[TestClient, Services]]:
    """``running_app``'s client with the services behind it (for tests that look behind the API)."""
    services = build_services(settings)
    try:
        with make_client(settings, services, **options) as test_client:
            yield test_client, services
    finally:
        services.close()


@pytest.fixture
def client(settings: Settings, services: Services) -> Iterator[TestClient]:
    with make_client(settings, services) as test_client:
        yield test_client


HEAT_UP = Path(__file__).resolve().parents[1] / "scripts" / "heat-up"
HEAT_URL = "http://127.0.0.1:8004"  # scripts/heat-up; its endpoints are in Keystone's catalog as `orchestration`


def bring_up(script: Path) -> None:
    """Run a scripts/*-up (it reuses a healthy server in about a second, starts it otherwise); fail when it fails."""
    started = subprocess.run(
        [str(script)], capture_output=True, text=True, timeout=900, check=False, stdin=subprocess.DEVNULL
    )
    if started.returncode != 0:
        pytest.fail(f"scripts/{script.name} failed ({started.returncode}):\n{started.stderr[-4000:]}", pytrace=False)


@pytest.fixture(scope="session")
def heat() -> str:
    """The real Heat of scripts/heat-up (reused while healthy, about a second; started otherwise), with Keystone."""
    bring_up(HEAT_UP)
    return HEAT_URL


NOVA_UP = Path(__file__).resolve().parents[1] / "scripts" / "nova-up"
NOVA_URL = "http://127.0.0.1:8774"  # scripts/nova-up; in Keystone's catalog as `compute` (/v2.1)


@pytest.fixture(scope="session")
def nova() -> str:
    """The real Nova (fake virt driver) and Placement of scripts/nova-up (reused while healthy, a second or a few;
    started otherwise), with Keystone."""
    bring_up(NOVA_UP)
    return NOVA_URL
