"""delayed_delete: a deleted artifact stays as 'deleted' (shown, not listed, still counted) until a worker runs
the artifact_scrub task its delete enqueued, or `glimpse artifacts scrub` removes every deleted one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from glimpse.cli.main import main
from glimpse.container import Services
from glimpse.jobs.worker import Worker
from glimpse.settings import Settings
from tests.functional.artifacts.conftest import USER1, Api, artifact_settings

URL = "/artifacts/sample_artifact"


@pytest.fixture
def settings(tmp_path: Path, clean_db: str) -> Settings:
    return artifact_settings(
        tmp_path,
        clean_db,
        delayed_delete=True,
        worker_in_process=False,  # the test runs the worker's tasks itself
        max_artifact_number=2,
        artifact_types={"images": {"delayed_delete": False}},
    )


def test_delayed_delete_then_the_worker_scrubs(api: Api, services: Services) -> None:
    kept = api.create({"name": "kept"})
    gone = api.create({"name": "gone"})
    put = api.client.put(
        f"{URL}/{gone['id']}/blob", content=b"x" * 10, headers={**USER1, "content-type": "application/octet-stream"}
    )
    assert put.status_code == 200, put.text
    api.delete(f"{URL}/{gone['id']}")
    shown = api.get(f"{URL}/{gone['id']}")
    assert shown["status"] == "deleted"
    assert [a["id"] for a in api.get(URL)["artifacts"]] == [kept["id"]]
    api.create({"name": "third"}, 403)  # still counted until scrubbed
    api.delete(f"{URL}/{gone['id']}")  # deleting it again changes nothing

    worker = Worker.from_services(services)
    assert asyncio.run(worker.run_one())  # the artifact_scrub task
    api.get(f"{URL}/{gone['id']}", 404)
    assert api.get(f"{URL}/{kept['id']}")["status"] == "drafted"
    api.create({"name": "third"})
    assert asyncio.run(worker.run_one())  # its blob's data, nothing references it now
    assert not asyncio.run(worker.run_one())


def test_a_type_may_delete_at_once(api: Api) -> None:
    image = api.create({"name": "i"}, kind="images")
    api.delete(f"/artifacts/images/{image['id']}")
    api.get(f"/artifacts/images/{image['id']}", 404)


def test_scrub_command_removes_every_deleted_artifact(api: Api, settings: Settings, tmp_path: Path) -> None:
    for name in ("a", "b"):
        created = api.create({"name": name})
        api.delete(f"{URL}/{created['id']}")
    conf = tmp_path / "glimpse.conf"
    database = settings.database_url.get_secret_value()
    conf.write_text(f"[database]\nconnection = {database}\n[DEFAULT]\nenabled_artifact_types = sample_artifact\n")
    result = CliRunner().invoke(
        main, ["artifacts", "scrub", "--config", str(conf)], env={"GLIMPSE_DATA_DIR": str(tmp_path / "data")}
    )
    assert result.exit_code == 0, result.output
    assert "scrubbed 2 deleted artifact(s)" in result.output
    assert api.get("/artifacts/all")["artifacts"] == []
    api.create({"name": "a"})
