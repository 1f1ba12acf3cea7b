"""Legacy import (docs/catalog.md): the retired App Catalog's assets document and a Murano package repository,
served over real TLS, imported with `glimpse catalog import-legacy` as UNTRUSTED: refused by the default policy
and without --allow-unverified, marked unverified, an MD5 recorded but never a pin, all or nothing.

The fixtures are made here: the assets document is JSON this test writes, the Murano packages zips it builds."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from glimpse.cli.main import main
from glimpse.container import Services
from glimpse.context import RequestContext
from glimpse.db.repositories.catalog import CatalogRepository
from glimpse.settings import load_settings
from tests.conftest import running_services
from tests.functional.conftest import ALICE
from tests.tls import make_certificates
from tests.webserver import serving_directory_tls

IMAGE = bytes(range(256)) * 64
TEMPLATE = b"heat_template_version: 2021-04-16\nresources: {}\n"
TOSCA = b"tosca_definitions_version: tosca_simple_yaml_1_0\n"
ALICE_CTX = RequestContext(user_id="alice", project_id="alpha", roles=frozenset({"member", "reader"}))
ARTIFACT_TYPES = ("heat_templates", "heat_environments", "murano_packages", "tosca_templates")


def murano_zip(full_name: str, *, kind: str = "Application", version: str = "1.0.0",
               require: dict[str, Any] | None = None, manifest: str | None = None) -> bytes:  # fmt: skip
    """A Murano package: a zip with manifest.yaml at its root (and a class file)."""
    if manifest is None:
        lines = ["Format: 1.0", f"Type: {kind}", f"FullName: {full_name}", f"Name: {full_name.rsplit('.', 1)[-1]}",
                 f"Version: {version}", "Description: a test package", "Author: glimpse tests", "Tags: [test]",
                 f"Classes:\n  {full_name}: main.yaml"]  # fmt: skip
        if require:
            lines.append("Require:\n" + "".join(f"  {n}: {json.dumps(v)}\n" for n, v in require.items()))
        manifest = "\n".join(lines) + "\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.yaml", manifest)
        archive.writestr("Classes/main.yaml", "Name: Main\n")
    return buffer.getvalue()


LIB = murano_zip("com.example.Lib", kind="Library", version="2.1.0")
APP = murano_zip("com.example.App", require={"com.example.Lib": ">=2.0", "io.murano": None})


@dataclass
class Legacy:
    root: Path
    url: str
    env: dict[str, str]
    data_dir: Path
    database_url: str

    def write_assets(self, assets: list[dict[str, Any]]) -> str:
        (self.root / "api" / "v1").mkdir(parents=True, exist_ok=True)
        (self.root / "api" / "v1" / "assets").write_text(json.dumps({"assets": assets}))
        return f"{self.url}/api/v1/assets"

    def put(self, relative: str, data: bytes) -> str:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return f"{self.url}/{relative}"

    def allow(self, check: str = "role:admin") -> None:
        policy = self.data_dir.parent / "policy.yaml"
        policy.write_text(f'"catalog:import_legacy": "{check}"\n')
        self.env["GLIMPSE_POLICY_FILE"] = str(policy)

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["catalog", "import-legacy", *args], env=self.env)

    def services(self) -> Any:
        settings = load_settings(env={}, data_dir=self.data_dir, database_url=self.database_url, auth="noauth",
                                 worker_in_process=False)  # fmt: skip
        return running_services(settings)


@pytest.fixture
def legacy(tmp_path: Path, clean_db: str) -> Iterator[Legacy]:
    certificates = make_certificates(tmp_path, ["localhost"])
    root = tmp_path / "site"
    root.mkdir()
    data_dir = tmp_path / "data"
    env = {
        "GLIMPSE_DATA_DIR": str(data_dir),
        "GLIMPSE_DATABASE_URL": clean_db,
        "GLIMPSE_AUTH": "noauth",
        "GLIMPSE_CONFIG": "",
        "GLIMPSE_CATALOG_TEST_CA_FILE": str(certificates.ca),
        "GLIMPSE_CATALOG_ALLOWED_HOSTS": "localhost",
    }
    with serving_directory_tls(root, certificates.cert, certificates.key) as url:
        yield Legacy(root, url, env, data_dir, clean_db)


def app_catalog(legacy: Legacy) -> str:
    """An assets document in the App Catalog's served format: an image with its MD5, a heat template with an
    inline environment needing the image, a murano package needing a library (no hash), a TOSCA template, and
    three assets that cannot be imported (inactive, a web page only, a bundle)."""
    image = legacy.put("images/cirros.qcow2", IMAGE)
    return legacy.write_assets([
        {"name": "CirrOS 0.6 (test)", "service": {"type": "glance", "disk_format": "raw", "container_format": "bare"},
         "hash": hashlib.md5(IMAGE).hexdigest(), "attributes": {"url": image}, "license": "GPL v2",
         "provided_by": {"name": "tests", "href": "https://example.org", "company": "Example"},
         "description": "a tiny image"},
        {"name": "Hello stack", "service": {"type": "heat", "format": "HOT",
                                            "environment": "parameters:\n  flavor: m1.small\n"},
         "attributes": {"url": legacy.put("hot/hello.yaml", TEMPLATE)}, "depends": [{"name": "CirrOS 0.6 (test)"}],
         "description": "one server", "license": "Apache 2.0", "release": ["Kilo", "Liberty"]},
        {"name": "Example App", "service": {"type": "murano", "format": "package", "package_name": "com.example.App"},
         "attributes": {"Package URL": legacy.put("apps/com.example.App.zip", APP)},
         "depends": [{"name": "Example Library"}], "license": "Apache 2.0", "description": "an application"},
        {"name": "Example Library", "service": {"type": "murano", "format": "package",
                                                "package_name": "com.example.Lib"},
         "hash": "unknown", "attributes": {"Package URL": legacy.put("apps/com.example.Lib.zip", LIB)},
         "license": "Apache 2.0", "description": "a library"},
        {"name": "Hello TOSCA", "service": {"type": "tosca", "template_format": "yaml"},
         "attributes": {"url": legacy.put("tosca/hello.yaml", TOSCA)}, "license": "Apache 2.0", "description": ""},
        {"name": "Retired", "active": False, "service": {"type": "glance", "disk_format": "qcow2",
                                                        "container_format": "bare"},
         "attributes": {"url": image}, "license": "Other", "description": "gone"},
        {"name": "Windows", "service": {"type": "glance", "disk_format": "qcow2", "container_format": "bare"},
         "attributes": {"indirect_url": "https://example.org/windows"}, "license": "Other", "description": "by hand"},
        {"name": "Servers bundle", "service": {"type": "bundle", "murano_package_name": "app-servers"},
         "license": "Other", "description": "packages"},
    ])  # fmt: skip


def everything(services: Services, client: Any) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {"images": client.get("/v2/images", headers=ALICE).json()["images"]}
    for type_name in ARTIFACT_TYPES:
        page = client.portal.call(services.artifacts.list, ALICE_CTX, type_name, [])
        found[type_name] = page.artifacts if hasattr(page, "artifacts") else page[0]
    return found


def test_the_default_policy_refuses_legacy_import(legacy: Legacy) -> None:
    source = app_catalog(legacy)
    refused = legacy.cli(source, "--allow-unverified", "--project", "alpha")
    assert refused.exit_code == 1
    assert "refused by the policy (rule catalog:import_legacy" in refused.output
    assert '"catalog:import_legacy": "role:admin"' in refused.output
    legacy.allow("role:reader and role:nobody")  # a policy that does not name the caller refuses too
    assert "refused by the policy" in legacy.cli(source, "--allow-unverified", "--project", "alpha").output
    with legacy.services() as (client, services):
        assert not any(everything(services, client).values())


def test_without_allow_unverified_nothing_is_read(legacy: Legacy) -> None:
    legacy.allow()
    refused = legacy.cli(f"{legacy.url}/nothing-here", "--project", "alpha")
    assert refused.exit_code == 1
    assert "not signed: nothing it serves can be verified" in refused.output
    assert "--allow-unverified" in refused.output


def test_an_app_catalog_is_imported_marked_unverified(legacy: Legacy) -> None:
    source = app_catalog(legacy)
    legacy.allow()
    dry = legacy.cli(source, "--allow-unverified", "--project", "alpha", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert all(i["id"] is None for i in json.loads(dry.output)["imported"])

    done = legacy.cli(source, "--allow-unverified", "--project", "alpha")
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["provenance"] == "unverified"
    assert {s["name"] for s in report["skipped"]} == {"Retired", "Windows", "Servers bundle"}
    made = {i["legacy_name"]: i for i in report["imported"]}
    assert list(made) == ["CirrOS 0.6 (test)", "Hello stack (environment)", "Hello stack", "Example Library",
                          "Example App", "Hello TOSCA"]  # dependencies first  # fmt: skip
    with legacy.services() as (client, services):
        image = client.get(f"/v2/images/{made['CirrOS 0.6 (test)']['id']}", headers=ALICE).json()
        assert image["status"] == "active"
        assert client.get(f"/v2/images/{image['id']}/file", headers=ALICE).content == IMAGE
        assert image["catalog_provenance"] == "unverified"
        assert image["catalog_legacy_hash"] == f"md5:{hashlib.md5(IMAGE).hexdigest()}"
        assert image["catalog_source"] == source
        assert "catalog_digest" not in image
        assert "catalog_signer" not in image
        show = client.portal.call
        template = show(services.artifacts.show, ALICE_CTX, "heat_templates", made["Hello stack"]["id"])
        environment_id = made["Hello stack (environment)"]["id"]
        assert template["environments"] == {
            "Hello stack (environment)": f"/artifacts/heat_environments/{environment_id}"
        }
        assert template["metadata"]["catalog_provenance"] == "unverified"
        assert template["metadata"]["catalog_legacy_hash"] == "none"
        assert template["template"]["sha256"] == hashlib.sha256(TEMPLATE).hexdigest()
        app = show(services.artifacts.show, ALICE_CTX, "murano_packages", made["Example App"]["id"])
        assert (app["name"], app["version"], app["type"]) == ("com.example.App", "1.0.0", "Application")
        assert app["dependencies"] == [f"/artifacts/murano_packages/{made['Example Library']['id']}"]
        assert app["display_name"] == "Example App"
        library = show(services.artifacts.show, ALICE_CTX, "murano_packages", made["Example Library"]["id"])
        assert (library["type"], library["metadata"]["catalog_legacy_hash"]) == ("Library", "none")
        # a verified install never takes an unverified copy for "already installed"
        sha = hashlib.sha256(IMAGE).hexdigest()
        assert show(services.db.run, lambda s: CatalogRepository(s).installed("alpha", sha)) is None


def test_a_listed_md5_that_does_not_match_imports_nothing(legacy: Legacy) -> None:
    image = legacy.put("images/cirros.qcow2", IMAGE)
    template = legacy.put("hot/hello.yaml", TEMPLATE)
    source = legacy.write_assets([
        {"name": "stack", "service": {"type": "heat"}, "attributes": {"url": template}, "license": "Other",
         "description": "", "depends": [{"name": "image"}]},
        {"name": "image", "service": {"type": "glance", "disk_format": "raw", "container_format": "bare"},
         "hash": "0" * 32, "attributes": {"url": image}, "license": "Other", "description": ""},
    ])  # fmt: skip
    legacy.allow()
    refused = legacy.cli(source, "--allow-unverified", "--project", "alpha", "--name", "stack")
    assert refused.exit_code == 1
    assert f"has MD5 {hashlib.md5(IMAGE).hexdigest()}, not the listed {'0' * 32}: nothing imported" in refused.output
    with legacy.services() as (client, services):
        assert not any(everything(services, client).values())


def test_a_murano_repository_is_imported_with_what_packages_require(legacy: Legacy) -> None:
    legacy.put("repo/apps/com.example.App.zip", APP)
    legacy.put("repo/apps/com.example.Lib.zip", LIB)
    legacy.put("repo/apps/com.example.Web.zip", murano_zip("com.example.Web", require={"com.example.Lib": None}))
    legacy.put("repo/bundles/servers.bundle", json.dumps({"Packages": [{"Name": "com.example.Web"}]}).encode())
    legacy.allow()
    done = legacy.cli(f"{legacy.url}/repo", "--format", "murano", "--allow-unverified", "--project", "alpha",
                      "--name", "com.example.App", "--name", "bundle:servers")  # fmt: skip
    assert done.exit_code == 0, done.output
    made = {i["name"]: i for i in json.loads(done.output)["imported"]}
    assert list(made) == ["com.example.Lib", "com.example.App", "com.example.Web"]
    with legacy.services() as (client, services):
        web = client.portal.call(services.artifacts.show, ALICE_CTX, "murano_packages", made["com.example.Web"]["id"])
        assert web["dependencies"] == [f"/artifacts/murano_packages/{made['com.example.Lib']['id']}"]
        assert web["metadata"]["catalog_source"] == f"{legacy.url}/repo"
        assert web["metadata"]["catalog_provenance"] == "unverified"
        assert web["package"]["size"] == len(murano_zip("com.example.Web", require={"com.example.Lib": None}))


@pytest.mark.parametrize(
    ("files", "names", "message"),
    [
        ({}, ["com.example.App"], "repo/apps/com.example.App.zip answered 404"),
        ({"com.example.App": APP}, ["com.example.App"],  # a requirement missing
         "com.example.Lib (required by com.example.App): https://"),
        ({"com.example.App": b"not a zip"}, ["com.example.App"], "not a Murano package: not a zip archive"),
        ({"com.example.App": murano_zip("x", manifest="Type: Application\n")}, ["com.example.App"],
         "manifest.yaml: FullName is missing"),
        ({"com.example.App": murano_zip("x", manifest="FullName: [\n")}, ["com.example.App"],
         "manifest.yaml is not valid YAML"),
        ({"com.example.App": murano_zip("com.example.Other")}, ["com.example.App"],
         "its manifest names 'com.example.Other', not 'com.example.App'"),
        ({"com.example.App": murano_zip("com.example.App", kind="Plugin")}, ["com.example.App"],
         "Type 'Plugin' is neither Application nor Library"),
        ({"com.example.App": murano_zip("com.example.App", require={"com.example.Lib": None}),
          "com.example.Lib": murano_zip("com.example.Lib", require={"com.example.App": None})},
         ["com.example.App"], "Dependency cycle: com.example.App -> com.example.Lib -> com.example.App"),
        ({}, ["../etc/passwd"], "is not a Murano package name"),
        ({}, [], "Name the packages"),
    ],
)  # fmt: skip
def test_a_bad_murano_repository_is_refused_clearly(legacy: Legacy, files: dict[str, bytes], names: list[str],
                                                    message: str) -> None:  # fmt: skip
    for name, data in files.items():
        legacy.put(f"repo/apps/{name}.zip", data)
    legacy.allow()
    args = [a for n in names for a in ("--name", n)]
    refused = legacy.cli(f"{legacy.url}/repo", "--format", "murano", "--allow-unverified", "--project", "alpha", *args)
    assert refused.exit_code == 1, refused.output
    assert message in refused.output
    assert "Traceback" not in refused.output
    with legacy.services() as (client, services):
        assert not any(everything(services, client).values())


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"<html>not json</html>", "not an App Catalog assets document: invalid JSON at line 1 column 1"),
        (b'{"applications": []}', 'expected {"assets": [...]}'),
        (b'{"assets": [{"name": "x", "service": {"type": "nova"}}]}',
         "asset #1 ('x'): service.type 'nova' is not one of glance, heat, murano, tosca, bundle"),
        (b'{"assets": [{"name": "x", "service": {"type": "heat"}, "hash": "abc"}]}',
         "asset #1 ('x'): hash 'abc' is not an MD5 (32 hexadecimal digits)"),
        (b'{"assets": [{"name": "x", "service": {"type": "heat"}, "attributes": {"url": "ftp.example.org"}}]}',
         "attributes.url 'ftp.example.org' is not a URL"),
        (b'{"assets": [{"name": "x", "service": {"type": "heat"}}, {"name": "x", "service": {"type": "heat"}}]}',
         "asset #2 ('x'): the name is listed twice"),
        (b'{"assets": [{"name": "x", "service": {"type": "heat"}, "depends": ["y"]}]}',
         "depends must be a list of objects with a name"),
        (b'{"assets": [{"name": "x", "service": {"type": "heat"}, "attributes": {"url": "https://h/x"}, '
         b'"depends": [{"name": "gone"}]}]}', "Asset gone is not in"),
        (b'{"assets": [{"name": "x", "service": {"type": "heat"}, "attributes": {"url": "http://h/x"}}]}',
         "scheme 'http' is not allowed"),
        (b'{"assets": [{"name": "x", "service": {"type": "heat"}, '
         b'"attributes": {"url": "https://169.254.169.254/latest"}}]}', "169.254.169.254"),
    ],
)  # fmt: skip
def test_a_bad_assets_document_is_refused_clearly(legacy: Legacy, document: bytes, message: str) -> None:
    (legacy.root / "assets.json").write_bytes(document)
    legacy.allow()
    refused = legacy.cli(f"{legacy.url}/assets.json", "--allow-unverified", "--project", "alpha")
    assert refused.exit_code == 1, refused.output
    assert message in refused.output
    assert "Traceback" not in refused.output


def test_a_source_the_fetcher_refuses_is_refused(legacy: Legacy, tmp_path: Path) -> None:
    legacy.allow()
    for source, message in [
        ("http://localhost/api/v1/assets", "scheme 'http' is not allowed"),
        ("https://169.254.169.254/api/v1/assets", "169.254.169.254"),
        (f"{legacy.url}/missing", "404"),
        (str(tmp_path / "absent.json"), "no such file"),
    ]:
        refused = legacy.cli(source, "--allow-unverified", "--project", "alpha")
        assert refused.exit_code == 1, refused.output
        assert message in refused.output, refused.output


def test_a_saved_assets_document_is_read_from_a_file(legacy: Legacy, tmp_path: Path) -> None:
    template = legacy.put("hot/hello.yaml", TEMPLATE)
    saved = tmp_path / "assets.json"
    saved.write_text(json.dumps({"assets": [{"name": "hello", "service": {"type": "heat"},
                                             "attributes": {"url": template}, "license": "Other",
                                             "description": "from a saved copy"}]}))  # fmt: skip
    legacy.allow()
    done = legacy.cli(str(saved), "--allow-unverified", "--project", "alpha")
    assert done.exit_code == 0, done.output
    [item] = json.loads(done.output)["imported"]
    assert (item["type"], item["legacy_hash"], item["size"]) == ("heat-template", "none", len(TEMPLATE))
