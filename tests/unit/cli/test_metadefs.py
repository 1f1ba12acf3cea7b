"""`glimpse metadefs load | unload | export` with files in the shape glance-manage's load_metadefs reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from starlette.testclient import TestClient

from glimpse.cli.main import main

NS = "/v2/metadefs/namespaces"

HW: dict[str, Any] = {
    "namespace": "Test::Hardware",
    "display_name": "Hardware",
    "description": "Hardware options",
    "visibility": "public",
    "protected": True,
    "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "hw_"},
                                   {"name": "OS::Cinder::Volume", "prefix": "hw_", "properties_target": "image"}],
    "properties": {"cpu_cores": {"title": "Cores", "type": "integer", "minimum": 1}},
    "objects": [{"name": "Rng", "description": "random", "required": ["rate"],
                 "properties": {"rate": {"title": "Rate", "type": "integer"}}}],
    "tags": [{"name": "fast"}],
}  # fmt: skip
SMALL: dict[str, Any] = {"namespace": "Test::Small", "visibility": "private", "owner": "alpha"}


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["metadefs", *args], env=env)
    return result.exit_code, result.output


def write(directory: Path, name: str, document: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def test_load_then_read_over_http(tmp_path: Path, env: dict[str, str], client: TestClient) -> None:
    write(tmp_path / "defs", "hw.json", HW)
    write(tmp_path / "defs", "small.json", SMALL)
    write(tmp_path / "defs", "notes.txt", "not json and not a .json file")
    code, output = run(env, "load", str(tmp_path / "defs"))
    assert code == 0, output
    assert "2 loaded, 0 merged, 0 skipped, 0 failed" in output
    shown = client.get(f"{NS}/Test::Hardware", params={"resource_type": "OS::Glance::Image"}).json()
    assert shown["owner"] == "admin"  # Glance's default owner of loaded namespaces
    assert shown["protected"] is True
    assert list(shown["properties"]) == ["hw_cpu_cores"]
    assert shown["objects"][0]["required"] == ["hw_rate"]
    assert [t["name"] for t in shown["tags"]] == ["fast"]
    targets = {a["name"]: a.get("properties_target") for a in shown["resource_type_associations"]}
    assert targets == {"OS::Glance::Image": None, "OS::Cinder::Volume": "image"}
    # as Glance's loader: what it writes has a creation time and no update time
    loaded = [shown, *shown["objects"], *shown["tags"], *shown["resource_type_associations"]]
    assert "created_at" in shown
    assert not [item for item in loaded if "updated_at" in item]
    assert client.get(f"{NS}/Test::Small").json()["owner"] == "alpha"
    # loading again skips what exists
    code, output = run(env, "load", str(tmp_path / "defs"))
    assert code == 0
    assert "0 loaded, 0 merged, 2 skipped" in output


def test_merge_prefer_new_and_overwrite(tmp_path: Path, env: dict[str, str], client: TestClient) -> None:
    write(tmp_path / "v1", "hw.json", HW)
    assert run(env, "load", str(tmp_path / "v1"))[0] == 0
    properties = {"cpu_cores": {"title": "CPU cores", "type": "integer"}, "ram": {"title": "RAM", "type": "integer"}}
    v2 = {**HW, "display_name": "Hardware v2", "properties": properties, "tags": [{"name": "FAST"}, {"name": "new"}]}
    path = write(tmp_path / "v2", "hw.json", v2)
    code, output = run(env, "load", str(path), "--merge")
    assert code == 0, output
    assert "1 merged" in output
    shown = client.get(f"{NS}/Test::Hardware").json()
    assert shown["display_name"] == "Hardware"  # merge alone keeps what the database has
    assert shown["properties"]["cpu_cores"]["title"] == "Cores"
    assert "ram" in shown["properties"]
    assert sorted(t["name"] for t in shown["tags"]) == ["fast", "new"]  # tags match regardless of case
    assert run(env, "load", str(path), "--merge", "--prefer-new")[0] == 0
    shown = client.get(f"{NS}/Test::Hardware").json()
    assert shown["display_name"] == "Hardware v2"
    assert shown["properties"]["cpu_cores"]["title"] == "CPU cores"
    assert "updated_at" in shown  # what the file replaced was updated
    assert "updated_at" in shown["objects"][0]
    v3 = {"namespace": "Test::Hardware", "visibility": "private"}
    assert run(env, "load", str(write(tmp_path / "v3", "hw.json", v3)), "--merge", "--overwrite")[0] == 0
    shown = client.get(f"{NS}/Test::Hardware").json()
    assert shown["visibility"] == "private"
    assert "properties" not in shown
    assert "resource_type_associations" not in shown


def test_option_rules_and_bad_files(tmp_path: Path, env: dict[str, str], client: TestClient) -> None:
    write(tmp_path / "d", "a.json", SMALL)
    assert run(env, "load", str(tmp_path / "d"), "--prefer-new")[0] == 2
    assert run(env, "load", str(tmp_path / "d"), "--merge", "--prefer-new", "--overwrite")[0] == 2
    write(tmp_path / "d", "b.json", "{not json")
    write(tmp_path / "d", "c.json", {"namespace": "Test::Bad", "visibility": "shared"})
    write(tmp_path / "d", "d.json", {"namespace": "Test::BadProp", "properties": {"p": {"type": "string"}}})
    write(tmp_path / "d", "e.json", ["a list"])
    code, output = run(env, "load", str(tmp_path / "d"))
    assert code == 1
    assert "1 loaded, 0 merged, 0 skipped, 4 failed" in output
    assert "failed: c.json: Provided object does not match schema 'namespace'" in output
    assert client.get(f"{NS}/Test::Bad").status_code == 404
    assert client.get(f"{NS}/Test::BadProp").status_code == 404  # a bad file changes nothing
    assert run(env, "load", str(tmp_path / "missing"))[0] == 2


def test_export_round_trip_and_unload(tmp_path: Path, env: dict[str, str], client: TestClient) -> None:
    write(tmp_path / "in", "hw.json", HW)
    write(tmp_path / "in", "small.json", SMALL)
    assert run(env, "load", str(tmp_path / "in"))[0] == 0
    code, output = run(env, "export", str(tmp_path / "out"))
    assert code == 0
    assert "2 namespaces written" in output
    exported = json.loads((tmp_path / "out" / "Test::Hardware.json").read_text())
    by_name = sorted(HW["resource_type_associations"], key=lambda a: a["name"])
    exported["resource_type_associations"].sort(key=lambda a: a["name"])
    assert exported == {**HW, "owner": "admin", "resource_type_associations": by_name}
    code, output = run(env, "unload")
    assert code == 0
    assert "2 namespaces removed" in output
    assert client.get(NS).json()["namespaces"] == []
    names = {r["name"] for r in client.get("/v2/metadefs/resource_types").json()["resource_types"]}
    assert "OS::Glance::Image" in names  # the standard resource types stay
    assert run(env, "load", str(tmp_path / "out"))[0] == 0
    assert client.get(f"{NS}/Test::Hardware/objects/Rng").json()["required"] == ["rate"]
