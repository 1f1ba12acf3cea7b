"""Installing assets: dependencies first, verified by TUF and by the data pipeline, provenance recorded,
"installed" decided by digest, and fail-closed (nothing half installed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from glimpse.cli.main import main
from glimpse.container import Services
from glimpse.context import RequestContext
from glimpse.jobs.worker import Worker
from tests.conftest import running_services
from tests.functional.catalog.conftest import Publisher
from tests.functional.conftest import ALICE

IMAGE = bytes(range(256)) * 64
TEMPLATE = b"heat_template_version: 2021-04-16\nresources: {}\n"
ENVIRONMENT = b"parameters:\n  flavor: m1.small\n"
ALICE_CTX = RequestContext(user_id="alice", project_id="alpha", roles=frozenset({"member", "reader"}))


def install(client: TestClient, services: Services, name: str, version: str) -> dict[str, Any]:
    """POST the install as alice, run the task, and return its final view."""
    started = client.post(f"/catalog/v1/assets/{name}/{version}/install", headers=ALICE)
    assert started.status_code == 202, started.text
    worker = Worker.from_services(services)
    assert client.portal.call(worker.run_one)  # type: ignore[union-attr]
    shown = client.get(started.headers["location"], headers=ALICE)
    assert shown.status_code == 200
    view: dict[str, Any] = shown.json()
    return view


@pytest.fixture
def published(publisher: Publisher) -> Publisher:
    publisher.add("cirros", "0.6.2", IMAGE, kind="image", metadata={"disk_format": "raw"})
    publisher.add("stack-env", "1.0", ENVIRONMENT, kind="heat-environment")
    publisher.add("stack", "1.0", TEMPLATE, depends=["stack-env@1.0", "cirros@0.6.2"],
                  metadata={"description": "one server"})  # fmt: skip
    publisher.add("lib", "1", b"PK-library", kind="murano-package")
    publisher.add("app", "1", b"PK-application", kind="murano-package", depends=["lib@1"])
    publisher.repo.publish()
    return publisher


def test_an_asset_and_its_dependencies_are_installed_with_provenance(
    published: Publisher, tmp_path: Path, clean_db: str
) -> None:
    with running_services(published.subscriber(tmp_path, clean_db)) as (client, services):
        assert client.post("/catalog/v1/remotes/refresh").json()["remotes"][0]["ok"]
        view = install(client, services, "stack", "1.0")
        assert view["status"] == "success", view["message"]
        made = {i["name"]: i for i in view["result"]["installed"]}
        assert [i["name"] for i in view["result"]["installed"]] == ["stack-env", "cirros", "stack"]
        signer = published.repo.root().signed.roles["targets"].keyids[0]
        assert view["result"]["signers"] == [signer]
        image = client.get(f"/v2/images/{made['cirros']['id']}", headers=ALICE).json()
        assert image["status"] == "active"
        assert image["owner"] == "alpha"
        assert image["catalog_digest"] == f"sha256:{made['cirros']['sha256']}"
        assert image["catalog_signer"] == signer
        assert (image["catalog"], image["catalog_asset"], image["catalog_version"]) == ("pub", "cirros", "0.6.2")
        assert client.get(f"/v2/images/{image['id']}/file", headers=ALICE).content == IMAGE
        template = client.portal.call(services.artifacts.show, ALICE_CTX, "heat_templates",  # type: ignore[union-attr]
                                      made["stack"]["id"])  # fmt: skip
        assert template["metadata"]["catalog_signer"] == signer
        assert template["environments"] == {"stack-env@1.0": f"/artifacts/heat_environments/{made['stack-env']['id']}"}
        assert template["template"]["sha256"] == made["stack"]["sha256"]

        again = install(client, services, "stack", "1.0")  # installed is decided by digest: nothing new
        assert again["status"] == "success"
        assert all(i["already_installed"] for i in again["result"]["installed"])
        assert len(client.get("/v2/images", headers=ALICE).json()["images"]) == 1

        package = install(client, services, "app", "1")
        assert package["status"] == "success", package["message"]
        app = {i["name"]: i for i in package["result"]["installed"]}
        shown = client.portal.call(services.artifacts.show, ALICE_CTX, "murano_packages",  # type: ignore[union-attr]
                                   app["app"]["id"])  # fmt: skip
        assert shown["dependencies"] == [f"/artifacts/murano_packages/{app['lib']['id']}"]


def test_a_tampered_blob_installs_nothing(published: Publisher, tmp_path: Path, clean_db: str) -> None:
    with running_services(published.subscriber(tmp_path, clean_db)) as (client, services):
        assert client.post("/catalog/v1/remotes/refresh").json()["remotes"][0]["ok"]
        [stored] = (published.repo.targets_dir / "assets" / "stack" / "1.0").iterdir()
        stored.write_bytes(TEMPLATE.replace(b"{}", b"[]"))  # the template changed on the server, same length
        view = install(client, services, "stack", "1.0")
        assert view["status"] == "failure"
        assert "does not match its signed length and sha256" in view["message"], view["message"]
        assert client.get("/v2/images", headers=ALICE).json()["images"] == []  # cirros was not kept either
        page = client.portal.call(services.artifacts.list, ALICE_CTX, "heat_environments", [])  # type: ignore[union-attr]
        assert page.artifacts == []


def test_missing_dependencies_and_cycles_are_refused_before_anything_runs(
    publisher: Publisher, tmp_path: Path, clean_db: str
) -> None:
    publisher.add("orphan", "1", b"x", depends=["gone@9"])
    publisher.add("a", "1", b"a", kind="bundle", depends=["b@1"])
    publisher.add("b", "1", b"b", kind="bundle", depends=["a@1"])
    publisher.repo.publish()
    with running_services(publisher.subscriber(tmp_path, clean_db)) as (client, _):
        assert client.post("/catalog/v1/remotes/refresh").json()["remotes"][0]["ok"]
        missing = client.post("/catalog/v1/assets/orphan/1/install", headers=ALICE)
        assert missing.status_code == 404
        assert "gone@9 is not in the catalog (needed by orphan@1)" in missing.text
        cycle = client.post("/catalog/v1/assets/a/1/install", headers=ALICE)
        assert cycle.status_code == 400
        assert "Dependency cycle: a@1 -> b@1 -> a@1" in cycle.text
        assert client.post("/catalog/v1/assets/none/1/install", headers=ALICE).status_code == 404
        reader = {**ALICE, "X-Roles": "reader"}
        assert client.post("/catalog/v1/assets/orphan/1/install", headers=reader).status_code == 403


def test_the_cli_installs_with_a_worker_of_its_own(published: Publisher, tmp_path: Path, clean_db: str) -> None:
    settings = published.subscriber(tmp_path, clean_db)
    env = published.environment(settings.data_dir, clean_db)
    cli = CliRunner()
    assert cli.invoke(main, ["catalog", "refresh"], env=env).exit_code == 0
    done = cli.invoke(main, ["catalog", "install", "cirros@0.6.2", "--project", "alpha"], env=env)
    assert done.exit_code == 0, done.output
    view = json.loads(done.output)
    assert view["status"] == "success"
    [image] = view["result"]["installed"]
    with running_services(settings) as (client, _):
        assert client.get(f"/v2/images/{image['id']}/file", headers=ALICE).content == IMAGE
    unknown = cli.invoke(main, ["catalog", "install", "nothing@1", "--project", "alpha"], env=env)
    assert unknown.exit_code == 1
    assert "Asset nothing@1 is not in any catalog" in unknown.output


def test_install_progress_follows_the_bytes_as_they_arrive(publisher: Publisher, tmp_path: Path, clean_db: str) -> None:
    """The download half of the progress moves chunk by chunk, not once per asset (the heartbeat writes it)."""
    data = bytes(range(256)) * 16384  # 4 MiB: many TLS chunks
    publisher.add("big", "1", data, kind="image", metadata={"disk_format": "raw"})
    publisher.repo.publish()
    with running_services(publisher.subscriber(tmp_path, clean_db)) as (client, services):
        assert client.post("/catalog/v1/remotes/refresh").json()["remotes"][0]["ok"]
        started = client.post("/catalog/v1/assets/big/1/install", headers=ALICE)
        assert started.status_code == 202, started.text
        worker = Worker.from_services(services)
        task = client.portal.call(worker.queue.claim, worker.id)  # type: ignore[union-attr]
        assert task is not None
        seen: list[tuple[int, int | None]] = []
        client.portal.call(worker.runner(task).run, task, lambda done, total: seen.append((done, total)))  # type: ignore[union-attr]
        assert {total for _, total in seen} == {2 * len(data)}
        during = [done for done, _ in seen if 0 < done < len(data)]
        assert len(during) >= 8, seen  # reported while the one file was still arriving
        assert during == sorted(during)
        assert (len(data), 2 * len(data)) in seen
        assert seen[-1] == (2 * len(data), 2 * len(data))
