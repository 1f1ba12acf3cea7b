"""The application catalog end to end over real TLS: a publisher `glimpse serve` on https (certificate from
a CA this test makes with `cryptography`) serving a catalog made with `glimpse catalog init|add|publish`, and
a subscriber `glimpse serve` that refreshes it and installs an image, a Heat template with its environment
and a Murano package with its dependency, through the API and the CLI. The bytes come back identical and the
provenance names the signing key; attacks are refused with nothing installed."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serverproc import GLIMPSE, free_port, new_database, server_env, spawn, stop, wait_for_root
from tests.tls import Certificates, make_certificates

pytestmark = pytest.mark.e2e

IMAGE = os.urandom(3 * 1024 * 1024 + 17)
TEMPLATE = b"heat_template_version: 2021-04-16\nparameters:\n  flavor: {type: string}\nresources: {}\n"
ENVIRONMENT = b"parameters:\n  flavor: m1.small\n"
LIBRARY = b"PK\x03\x04 murano library package"
APPLICATION = b"PK\x03\x04 murano application package"
ALICE = {"X-User-Id": "alice", "X-Project-Id": "alpha", "X-Roles": "member,reader"}
GLARE = {"OpenStack-API-Version": "artifact 1.1"}


def cli(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([GLIMPSE, *args], env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


@dataclass
class Catalogs:
    directory: Path
    certificates: Certificates
    publisher_url: str  # https://localhost:<port>/catalog/v1/repository
    subscriber: httpx.Client
    subscriber_env: dict[str, str]
    signer: str
    logs: Path


def _wait_https(url: str, ca: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    trust = ssl.create_default_context(cafile=str(ca))
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, verify=trust, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert process.poll() is None, log.read_text()
        time.sleep(0.1)
    raise AssertionError(f"the https publisher did not answer: {log.read_text()}")


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalogs]:
    root = tmp_path_factory.mktemp("catalog-e2e")
    certificates = make_certificates(root, ["localhost"])
    directory = root / "catalog"
    files = root / "files"
    files.mkdir()
    cli("catalog", "init", str(directory))
    for name, version, data, kind, extra in [
        ("cirros", "0.6.2", IMAGE, "image", ["--meta", "disk_format=raw", "--meta", "license=GPL-2.0"]),
        ("web-env", "1.0", ENVIRONMENT, "heat-environment", []),
        ("web", "1.0", TEMPLATE, "heat-template", ["--depends", "web-env@1.0", "--meta", "description=A web server"]),
        ("lib", "1", LIBRARY, "murano-package", []),
        ("app", "1", APPLICATION, "murano-package", ["--depends", "lib@1"]),
        ("broken", "1", b"depends on nothing there", "bundle", ["--depends", "gone@9"]),
    ]:
        path = files / f"{name}-{version}"
        path.write_bytes(data)
        cli("catalog", "add", str(directory), str(path), "--type", kind, "--name", name, "--version", version, *extra)
    cli("catalog", "publish", str(directory))
    signer = json.loads(cli("catalog", "show", str(directory)).stdout)["keys"]["targets"][0]

    publisher_port, subscriber_port = free_port(), free_port()
    with new_database(root / "pub", "glimpse_catpub") as pub_db, new_database(root / "sub", "glimpse_catsub") as sub_db:
        (root / "pub").mkdir(exist_ok=True)
        (root / "sub").mkdir(exist_ok=True)
        pub_env = {**server_env(root / "pub" / "data", pub_db, root / "pub"),
                   "GLIMPSE_CATALOG_SERVE_DIR": str(directory), "GLIMPSE_CERT_FILE": str(certificates.cert),
                   "GLIMPSE_KEY_FILE": str(certificates.key)}  # fmt: skip
        publisher_url = f"https://localhost:{publisher_port}/catalog/v1/repository"
        sub_config = root / "sub" / "glimpse.conf"
        sub_config.write_text("[artifacts]\nmount = /artifact\n")
        sub_env = {**server_env(root / "sub" / "data", sub_db, root / "sub"), "GLIMPSE_AUTH": "noauth",
                   "GLIMPSE_CONFIG": str(sub_config),
                   "GLIMPSE_CATALOG_REMOTES": f"community={publisher_url}",
                   "GLIMPSE_CATALOG_TRUSTED_ROOTS": f"community={directory / 'repository/metadata/1.root.json'}",
                   "GLIMPSE_CATALOG_TEST_CA_FILE": str(certificates.ca),
                   "GLIMPSE_CATALOG_ALLOWED_HOSTS": "localhost"}  # fmt: skip
        publisher = spawn(publisher_port, pub_env, root / "publisher.log")
        subscriber = spawn(subscriber_port, sub_env, root / "subscriber.log")
        try:
            _wait_https(f"{publisher_url}/metadata/1.root.json", certificates.ca, publisher, root / "publisher.log")
            assert wait_for_root(subscriber, subscriber_port) is not None, (root / "subscriber.log").read_text()
            with httpx.Client(base_url=f"http://127.0.0.1:{subscriber_port}", timeout=60) as client:
                yield Catalogs(directory, certificates, publisher_url, client, sub_env, signer, root)
        finally:
            stop(publisher)
            stop(subscriber)


def wait_install(client: httpx.Client, location: str, headers: dict[str, str] = ALICE) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        view: dict[str, Any] = client.get(location, headers=headers).json()
        if view["status"] in ("success", "failure"):
            return view
        time.sleep(0.2)
    raise AssertionError(f"install did not finish: {view}")


def test_install_over_tls_with_the_api_and_the_cli(catalogs: Catalogs) -> None:
    client = catalogs.subscriber
    refreshed = client.post("/catalog/v1/remotes/refresh").json()["remotes"]
    assert refreshed == [{"name": "community", "ok": True, "assets": 6, "error": ""}]
    found = client.get("/catalog/v1/assets", params={"q": "web server"}, headers=ALICE).json()["assets"]
    assert [(a["name"], a["depends"]) for a in found] == [("web", ["web-env@1.0"])]

    # the API: a Heat template with its environment
    started = client.post("/catalog/v1/assets/web/1.0/install", headers=ALICE)
    assert started.status_code == 202, started.text
    view = wait_install(client, started.headers["location"])
    assert view["status"] == "success", view["message"]
    made = {i["name"]: i for i in view["result"]["installed"]}
    template = client.get(f"/artifact/artifacts/heat_templates/{made['web']['id']}", headers={**ALICE, **GLARE})
    assert template.status_code == 200, template.text
    assert template.json()["metadata"]["catalog_signer"] == catalogs.signer
    assert template.json()["environments"] == {"web-env@1.0": f"/artifacts/heat_environments/{made['web-env']['id']}"}
    for type_name, name, field, data in [("heat_templates", "web", "template", TEMPLATE),
                                         ("heat_environments", "web-env", "environment", ENVIRONMENT)]:  # fmt: skip
        blob = client.get(f"/artifact/artifacts/{type_name}/{made[name]['id']}/{field}", headers={**ALICE, **GLARE})
        assert blob.content == data

    # the CLI: an image, and a murano package with its dependency
    for asset in ("cirros@0.6.2", "app@1"):
        done = cli("catalog", "install", asset, "--project", "alpha", env=catalogs.subscriber_env)
        assert json.loads(done.stdout)["status"] == "success"
    [image] = [i for i in client.get("/v2/images", headers=ALICE).json()["images"] if i["name"] == "cirros"]
    assert image["catalog_signer"] == catalogs.signer
    assert image["catalog_digest"].startswith("sha256:")
    assert (image["catalog"], image["catalog_asset"], image["catalog_version"]) == ("community", "cirros", "0.6.2")
    assert client.get(f"/v2/images/{image['id']}/file", headers=ALICE).content == IMAGE
    packages = client.get("/artifact/artifacts/murano_packages", headers={**ALICE, **GLARE}).json()["artifacts"]
    assert sorted(p["name"] for p in packages) == ["app", "lib"]


def test_attacks_install_nothing(catalogs: Catalogs) -> None:
    client = catalogs.subscriber
    assert client.post("/catalog/v1/remotes/refresh").json()["remotes"][0]["ok"]
    images_before = client.get("/v2/images", headers=ALICE).json()["images"]

    missing = client.post("/catalog/v1/assets/broken/1/install", headers=ALICE)
    assert missing.status_code == 404
    assert "gone@9 is not in the catalog (needed by broken@1)" in missing.text

    # a tampered blob on the publisher (same length, other bytes): TUF refuses it
    [stored] = (catalogs.directory / "repository" / "targets" / "assets" / "lib" / "1").iterdir()
    original = stored.read_bytes()
    stored.write_bytes(original[::-1])
    try:
        gamma = {**ALICE, "X-Project-Id": "gamma"}  # a project that has nothing installed yet
        fresh = client.post("/catalog/v1/assets/lib/1/install", headers=gamma)
        view = wait_install(client, fresh.headers["location"], gamma)
        assert view["status"] == "failure"
        assert "does not match its signed length and sha256" in view["message"], view["message"]
    finally:
        stored.write_bytes(original)
    assert client.get("/v2/images", headers=ALICE).json()["images"] == images_before
    packages = client.get("/artifact/artifacts/murano_packages", headers={**gamma, **GLARE})
    assert packages.json()["artifacts"] == []

    # an http:// catalog, and one on the metadata service's address
    plain = {**catalogs.subscriber_env, "GLIMPSE_CATALOG_REMOTES": "community=" + catalogs.publisher_url.replace(
        "https://", "http://")}  # fmt: skip
    refused = cli("settings", "show", env=plain, check=False)
    assert refused.returncode != 0
    assert "only https:// catalogs are accepted" in refused.stdout + refused.stderr
    metadata = {**catalogs.subscriber_env, "GLIMPSE_CATALOG_REMOTES": "community=https://169.254.169.254/latest",
                "GLIMPSE_CATALOG_ALLOWED_HOSTS": ""}  # fmt: skip
    refresh = cli("catalog", "refresh", env=metadata, check=False)
    assert refresh.returncode == 1
    assert "169.254.169.254 is not public" in refresh.stdout, refresh.stdout
