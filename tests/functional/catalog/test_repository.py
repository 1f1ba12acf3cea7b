"""A published catalog served by `glimpse serve` under /catalog/v1/repository: static, no token needed."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from glimpse.cli.main import main
from glimpse.settings import load_settings
from tests.conftest import running_app


def test_the_catalog_commands_publish_what_the_server_serves(tmp_path: Path, clean_db: str) -> None:
    catalog = tmp_path / "catalog"
    template = tmp_path / "stack.yaml"
    template.write_bytes(b"heat_template_version: 2021-04-16\n")
    cli = CliRunner()
    assert cli.invoke(main, ["catalog", "init", str(catalog)]).exit_code == 0
    added = cli.invoke(main, ["catalog", "add", str(catalog), str(template), "--type", "heat-template",
                              "--name", "stack", "--version", "1.0", "--meta", "license=MIT"])  # fmt: skip
    assert added.exit_code == 0, added.output
    published = cli.invoke(main, ["catalog", "publish", str(catalog)])
    assert "targets v2, snapshot v2, timestamp v2, 1 asset(s)" in published.output
    template.write_bytes(b"changed")
    refused = cli.invoke(main, ["catalog", "add", str(catalog), str(template), "--type", "heat-template",
                                "--name", "stack", "--version", "1.0"])  # fmt: skip
    assert refused.exit_code == 1
    assert "an asset version never changes" in refused.output
    rotated = cli.invoke(main, ["catalog", "rotate-keys", str(catalog), "timestamp"])
    assert "root now v2" in rotated.output, rotated.output
    bad_meta = cli.invoke(main, ["catalog", "add", str(catalog), str(template), "--type", "bundle", "--name", "b",
                                 "--version", "1", "--meta", "colour=red"])  # fmt: skip
    assert bad_meta.exit_code == 2

    settings = load_settings(env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="tokens",
                             catalog_serve_dir=catalog)  # fmt: skip
    with running_app(settings) as client:
        root = client.get("/catalog/v1/repository/metadata/2.root.json")
        assert root.status_code == 200
        assert root.json()["signed"]["version"] == 2
        assert client.get("/catalog/v1/repository/metadata/timestamp.json").json()["signed"]["version"] == 3
        [stored] = (catalog / "repository" / "targets" / "assets" / "stack" / "1.0").iterdir()
        blob = client.get(f"/catalog/v1/repository/targets/assets/stack/1.0/{stored.name}")
        assert blob.content == b"heat_template_version: 2021-04-16\n"
        for escape in ("/catalog/v1/repository/../keys/targets.pem", "/catalog/v1/repository/%2e%2e/keys/targets.pem"):
            assert "PRIVATE KEY" not in client.get(escape).text
        assert client.get("/catalog/v1/repository/metadata/none.json").status_code == 404
        assert client.get("/v2/images").status_code == 401  # the rest still needs a token
