"""glimpse.settings.database: the primary's and the read replica's URLs."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from glimpse.settings import load_settings
from tests.unit.settings.support import write

PRIMARY = "postgresql://glimpse:primary-pw@db1/glimpse"
REPLICA = "postgresql://glimpse:replica-pw@db2/glimpse"


def test_slave_connection_is_glance_option_and_its_password_is_secret(tmp_path: Path) -> None:
    ini = write(tmp_path, f"[database]\nconnection = {PRIMARY}\nslave_connection = {REPLICA}\n")
    settings = load_settings(ini, env={}, data_dir=tmp_path)
    assert settings.database_slave_url.get_secret_value() == REPLICA
    assert settings.masked()["database_slave_url"] == "postgresql://glimpse:***@db2/glimpse"
    assert "replica-pw" in settings.secrets()


def test_the_environment_names_the_replica_too(tmp_path: Path) -> None:
    env = {"GLIMPSE_DATABASE_URL": PRIMARY, "GLIMPSE_DATABASE_SLAVE_URL": REPLICA}
    assert load_settings(env=env, data_dir=tmp_path).database_slave_url.get_secret_value() == REPLICA


def test_no_replica_by_default(tmp_path: Path) -> None:
    assert load_settings(env={}, data_dir=tmp_path).database_slave_url.get_secret_value() == ""


@pytest.mark.parametrize(
    ("primary", "replica", "named"),
    [("", REPLICA, "connection"), (PRIMARY, "sqlite:///replica.db", "slave_connection")],
    ids=["sqlite-primary", "sqlite-replica"],
)
def test_a_replica_needs_postgresql_on_both_sides(tmp_path: Path, primary: str, replica: str, named: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=f"slave_connection needs PostgreSQL: {named} is not"):
        load_settings(env={"GLIMPSE_DATABASE_SLAVE_URL": replica}, data_dir=tmp_path, database_url=primary)


def test_replica_max_lag(tmp_path: Path) -> None:
    assert load_settings(env={}, data_dir=tmp_path).database_replica_max_lag == 30.0
    ini = write(tmp_path, "[database]\nreplica_max_lag = 2.5\n")
    assert load_settings(ini, env={}, data_dir=tmp_path).database_replica_max_lag == 2.5
    with pytest.raises(pydantic.ValidationError):
        load_settings(env={"GLIMPSE_DATABASE_REPLICA_MAX_LAG": "-1"}, data_dir=tmp_path)
