"""Subscribing: refresh over real TLS through TUF's client and the SSRF guard, browse and search, and each
kind of bad metadata refused with the last good index kept."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from securesystemslib.signer import CryptoSigner
from starlette.testclient import TestClient

from glimpse.cli.main import main
from glimpse.domain.tasks import TaskType
from glimpse.jobs.worker import Worker
from tests.conftest import running_app, running_services
from tests.functional.catalog.conftest import Publisher
from tests.functional.conftest import ALICE


def refresh(client: TestClient) -> dict[str, object]:
    response = client.post("/catalog/v1/remotes/refresh")
    assert response.status_code == 200, response.text
    [report] = response.json()["remotes"]
    return dict(report)


def names(client: TestClient, **params: str) -> list[str]:
    response = client.get("/catalog/v1/assets", params=params, headers=ALICE)
    assert response.status_code == 200, response.text
    return [f"{a['name']}@{a['version']}" for a in response.json()["assets"]]


def test_browse_and_search_a_verified_catalog(publisher: Publisher, tmp_path: Path, clean_db: str) -> None:
    publisher.add("wordpress", "1.0", b"heat_template_version: 2021-04-16\n", depends=["wordpress-env@1.0"],
                  metadata={"description": "A blog on one server", "license": "GPL-2.0"})  # fmt: skip
    publisher.add("wordpress-env", "1.0", b"parameters: {}\n", kind="heat-environment")
    publisher.add("cirros", "0.6.2", b"\0" * 4096, kind="image", metadata={"disk_format": "raw"})
    publisher.repo.publish()
    with running_app(publisher.subscriber(tmp_path, clean_db)) as client:
        assert names(client) == []
        assert refresh(client) == {"name": "pub", "ok": True, "assets": 3, "error": ""}
        assert names(client) == ["cirros@0.6.2", "wordpress@1.0", "wordpress-env@1.0"]
        assert names(client, q="blog") == ["wordpress@1.0"]
        assert names(client, type="image") == ["cirros@0.6.2"]
        shown = client.get("/catalog/v1/assets/wordpress/1.0", headers=ALICE).json()
        assert shown["depends"] == ["wordpress-env@1.0"]
        assert shown["license"] == "GPL-2.0"
        assert shown["catalog"] == "pub"
        [remote] = client.get("/catalog/v1/remotes", headers=ALICE).json()["remotes"]
        assert remote["signers"] == publisher.repo.root().signed.roles["targets"].keyids
        assert remote["targets_version"] == 2
        assert client.get("/catalog/v1/assets/nothing/1", headers=ALICE).status_code == 404
        assert client.get("/catalog/v1/assets", params={"type": "virus"}).status_code == 400
        assert client.post("/catalog/v1/remotes/refresh", headers=ALICE).status_code == 403


def _tamper(path: Path) -> None:
    document = json.loads(path.read_text())
    document["signed"]["targets"] = {}
    path.write_text(json.dumps(document))




ATTACKS = ["tampered index", "expired index", "rollback", "mix-and-match", "untrusted key"]


@pytest.mark.parametrize("attack", ATTACKS)
def test_bad_metadata_is_refused_and_the_last_good_index_kept(
    publisher: Publisher, tmp_path: Path, clean_db: str, attack: str
) -> None:
    publisher.add("stack", "1", b"first")
    publisher.repo.publish()
    old_timestamp = (publisher.repo.metadata_dir / "timestamp.json").read_bytes()
    old_targets = (publisher.repo.metadata_dir / "2.targets.json").read_bytes()
    with running_app(publisher.subscriber(tmp_path, clean_db)) as client:
        assert refresh(client)["ok"]
        publisher.add("stack", "2", b"second")
        publisher.repo.publish()  # targets 3, snapshot 3, timestamp 3
        metadata = publisher.repo.metadata_dir
        good = ["stack@1"]
        if attack == "tampered index":
            _tamper(metadata / "3.targets.json")
            expected = "not signed by enough trusted keys"
        elif attack == "expired index":
            publisher.repo.publish(expires={"timestamp": timedelta(seconds=-60)})
            expected = "expired"
        elif attack == "rollback":
            assert refresh(client)["ok"]  # the client now trusts timestamp v3
            good = ["stack@1", "stack@2"]
            (metadata / "timestamp.json").write_bytes(old_timestamp)  # validly signed v2, older than trusted
            expected = "rollback refused"
        elif attack == "mix-and-match":
            (metadata / "3.targets.json").write_bytes(old_targets)  # signed targets v2 where snapshot says v3
            expected = "rollback refused"
        else:
            timestamp = publisher.repo.timestamp()
            timestamp.signed.version += 1
            timestamp.sign(CryptoSigner.generate_ed25519())  # a key root does not name
            timestamp.to_file(str(metadata / "timestamp.json"))
            expected = "not signed by enough trusted keys"
        report = refresh(client)
        assert report["ok"] is False
        assert expected in str(report["error"]), report["error"]
        assert names(client) == good  # the last good index
        [remote] = client.get("/catalog/v1/remotes", headers=ALICE).json()["remotes"]
        assert expected in remote["last_error"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://169.254.169.254/catalog", "not public"),
        ("https://127.0.0.1:9/catalog", "not public"),
    ],
)
def test_a_catalog_on_an_internal_address_is_refused(
    publisher: Publisher, tmp_path: Path, clean_db: str, url: str, expected: str
) -> None:
    settings = publisher.subscriber(tmp_path, clean_db, catalog_remotes={"pub": url}, catalog_allowed_hosts=[])
    with running_app(settings) as client:
        report = refresh(client)
        assert report["ok"] is False
        assert expected in str(report["error"])


def test_an_http_catalog_is_refused(publisher: Publisher, tmp_path: Path, clean_db: str) -> None:
    with pytest.raises(ValueError, match="only https:// catalogs are accepted"):
        publisher.subscriber(tmp_path, clean_db, catalog_remotes={"pub": publisher.url.replace("https", "http")})


def test_refreshes_run_on_a_schedule_through_the_task_queue(
    publisher: Publisher, tmp_path: Path, clean_db: str
) -> None:
    publisher.add("stack", "1", b"first")
    publisher.repo.publish()
    settings = publisher.subscriber(tmp_path, clean_db, worker_in_process=False)
    with running_services(settings) as (client, services):
        worker = Worker.from_services(services)
        sweep = next(job for interval, job in worker.sweeps if interval == settings.catalog_refresh_interval)
        client.portal.call(sweep)  # type: ignore[union-attr]
        client.portal.call(sweep)  # type: ignore[union-attr]  # one waits already: no second task
        assert client.portal.call(worker.run_one)  # type: ignore[union-attr]
        assert not client.portal.call(worker.run_one)  # type: ignore[union-attr]
        assert names(client) == ["stack@1"]
        assert TaskType.CATALOG_REFRESH in worker.runners


def test_the_cli_refreshes_lists_and_searches(publisher: Publisher, tmp_path: Path, clean_db: str) -> None:
    publisher.add("wordpress", "1.0", b"heat_template_version: 2021-04-16\n", metadata={"description": "A blog"})
    publisher.add("cirros", "0.6.2", b"\0" * 512, kind="image")
    publisher.repo.publish()
    env = publisher.environment(tmp_path / "subscriber", clean_db)
    cli = CliRunner()
    refreshed = cli.invoke(main, ["catalog", "refresh"], env=env)
    assert refreshed.output.strip() == "pub: 2 assets", refreshed.output
    listed = cli.invoke(main, ["catalog", "list", "--json"], env=env)
    assert [a["name"] for a in json.loads(listed.output)] == ["cirros", "wordpress"]
    found = cli.invoke(main, ["catalog", "search", "blog"], env=env)
    assert found.output.startswith("pub\twordpress@1.0\theat-template\t")
    remotes = json.loads(cli.invoke(main, ["catalog", "remotes"], env=env).output)
    assert remotes[0]["last_error"] == ""
    publisher.repo.publish(expires={"timestamp": timedelta(seconds=-1)})
    refused = cli.invoke(main, ["catalog", "refresh"], env=env)
    assert refused.exit_code == 1
    assert "the signed metadata has expired" in refused.output
