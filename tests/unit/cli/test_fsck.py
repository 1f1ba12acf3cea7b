"""`glimpse fsck [--repair] [--json]`: the report, the exit codes, and a server's lock respected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from glimpse.cli.main import main
from glimpse.services.fsck import DataDirLock
from glimpse.settings import Settings
from glimpse.stores.filesystem import PARTIAL_SUFFIX


@pytest.fixture
def leftover(settings: Settings) -> Path:
    datadir = Path(settings.stores["local"].options.filesystem_store_datadir)
    datadir.mkdir(parents=True, exist_ok=True)
    path = datadir / f"0f4e51a4-8a37-4b5e-9a9e-6d1a3f1b2c3d.abcd1234{PARTIAL_SUFFIX}"
    path.write_bytes(b"x" * 2048)
    return path


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["fsck", *args], env=env)
    return result.exit_code, result.output


def test_clean(env: dict[str, str]) -> None:
    code, output = run(env)
    assert code == 0, output
    assert "clean: no problems found" in output


def test_problems_exit_1_until_repaired(env: dict[str, str], leftover: Path) -> None:
    code, output = run(env)
    assert code == 1
    assert "unfinished write (2.0 KiB)" in output
    assert leftover.exists()

    code, output = run(env, "--repair")
    assert code == 0, output
    assert "1 problem(s): 1 repaired, 0 remaining" in output
    assert not leftover.exists()

    assert run(env)[0] == 0


def test_json(env: dict[str, str], leftover: Path) -> None:
    code, output = run(env, "--json")
    assert code == 1
    report = json.loads(output)
    assert report["clean"] is False
    assert report["uploads_may_run"] is False
    assert report["stores"]["local"] == {"available": True, "objects": 1, "bytes": 2048, "referenced": 0, "partial": 1}
    [finding] = report["findings"]
    assert finding["kind"] == "orphan"
    assert finding["url"] == leftover.as_uri()


def test_a_running_server_makes_uploads_in_progress(env: dict[str, str], settings: Settings) -> None:
    server = DataDirLock(settings.data_dir)
    assert server.try_shared()
    try:
        code, output = run(env, "--json")
    finally:
        server.release()
    assert code == 0, output
    assert json.loads(output)["uploads_may_run"] is True


def test_a_database_that_cannot_be_reached_exits_2(env: dict[str, str]) -> None:
    env["GLIMPSE_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:9/none"
    code, output = run(env)
    assert code == 2
    assert "fsck could not run: The database is unavailable" in output
