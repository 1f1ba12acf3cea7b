"""The `glance` command line (python-glanceclient) against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import GlanceCLI, Payload, file_digests, parse_show, parse_table

pytestmark = pytest.mark.e2e


def _create(cli: GlanceCLI, user: str, *args: str) -> dict[str, str]:
    return parse_show(cli.run(user, "image-create", "--disk-format", "raw", "--container-format", "bare", *args).stdout)


def _show(cli: GlanceCLI, user: str, image_id: str) -> dict[str, str]:
    return parse_show(cli.run(user, "image-show", image_id).stdout)


def _download(cli: GlanceCLI, user: str, image_id: str, target: Path) -> tuple[str, str]:
    cli.run(user, "image-download", "--file", str(target), image_id)
    try:
        return file_digests(target)
    finally:
        target.unlink()


def test_create_upload_download_list(glance_cli: GlanceCLI, payload: Payload, tmp_path: Path, unique: str) -> None:
    name = f"cli-{unique}"
    created = _create(glance_cli, "alpha", "--name", name, "--file", str(payload.path), "--property", f"e2e={unique}")
    assert created["status"] == "active"
    assert created["name"] == name
    assert created["owner"] == "alpha"
    assert created["e2e"] == unique
    assert int(created["size"]) == payload.size
    assert created["checksum"] == payload.md5
    assert created["os_hash_algo"] == "sha512"
    assert created["os_hash_value"] == payload.sha512
    image_id = created["id"]

    listed = parse_table(glance_cli.run("alpha", "image-list", "--property-filter", f"e2e={unique}").stdout)
    assert listed[0] == ["ID", "Name"]
    assert listed[1:] == [[image_id, name]]
    everything = parse_table(glance_cli.run("alpha", "image-list", "--page-size", "7").stdout)
    assert [image_id, name] in everything[1:]

    assert _download(glance_cli, "alpha", image_id, tmp_path / "down.img") == (payload.md5, payload.sha512)

    # beta neither lists nor sees alpha's image (not shared with it)
    others = parse_table(glance_cli.run("beta", "image-list", "--property-filter", f"e2e={unique}").stdout)
    assert others[1:] == []
    hidden = glance_cli.run("beta", "image-show", image_id, check=False)
    assert hidden.returncode != 0
    assert "404" in hidden.stdout + hidden.stderr


def test_update_properties_name_min_ram(glance_cli: GlanceCLI, unique: str) -> None:
    image_id = _create(glance_cli, "alpha", "--name", f"cli-props-{unique}", "--property", "keep=1")["id"]

    added = parse_show(
        glance_cli.run(
            "alpha", "image-update", image_id, "--name", f"renamed-{unique}", "--min-ram", "512",
            "--property", "os_distro=cirros", "--property", "color=red",
        ).stdout
    )  # fmt: skip
    assert added["name"] == f"renamed-{unique}"
    assert added["min_ram"] == "512"
    assert (added["os_distro"], added["color"], added["keep"]) == ("cirros", "red", "1")

    replaced = parse_show(
        glance_cli.run(
            "alpha", "image-update", image_id, "--property", "color=blue", "--remove-property", "os_distro",
            "--min-ram", "0",
        ).stdout
    )  # fmt: skip
    assert replaced["color"] == "blue"
    assert "os_distro" not in replaced
    assert replaced["keep"] == "1"
    assert replaced["min_ram"] == "0"

    shown = _show(glance_cli, "alpha", image_id)
    assert (shown["name"], shown["color"], shown["min_ram"]) == (f"renamed-{unique}", "blue", "0")
    assert "os_distro" not in shown

    # a read-only attribute cannot be set; the server says why
    refused = glance_cli.run("alpha", "image-update", image_id, "--property", "checksum=abc", check=False)
    assert refused.returncode != 0
    assert "403" in refused.stdout + refused.stderr
    # beta may not change alpha's image (it cannot even see it)
    foreign = glance_cli.run("beta", "image-update", image_id, "--name", "stolen", check=False)
    assert foreign.returncode != 0
    assert _show(glance_cli, "alpha", image_id)["name"] == f"renamed-{unique}"


def test_tags_add_remove(glance_cli: GlanceCLI, unique: str) -> None:
    image_id = _create(glance_cli, "alpha", "--name", f"cli-tags-{unique}")["id"]
    for tag in ("one", "two", "three"):
        glance_cli.run("alpha", "image-tag-update", image_id, f"{tag}-{unique}")
    glance_cli.run("alpha", "image-tag-update", image_id, f"two-{unique}")  # adding twice is a no-op
    glance_cli.run("alpha", "image-tag-delete", image_id, f"one-{unique}")
    assert json.loads(_show(glance_cli, "alpha", image_id)["tags"]) == [f"three-{unique}", f"two-{unique}"]

    by_tag = parse_table(glance_cli.run("alpha", "image-list", "--tag", f"two-{unique}").stdout)
    assert [row[0] for row in by_tag[1:]] == [image_id]
    assert parse_table(glance_cli.run("alpha", "image-list", "--tag", f"one-{unique}").stdout)[1:] == []

    missing = glance_cli.run("alpha", "image-tag-delete", image_id, f"one-{unique}", check=False)
    assert missing.returncode != 0
    assert "404" in missing.stdout + missing.stderr


def test_deactivate_reactivate_delete(glance_cli: GlanceCLI, payload: Payload, tmp_path: Path, unique: str) -> None:
    created = _create(glance_cli, "alpha", "--name", f"cli-deact-{unique}", "--file", str(payload.path))
    image_id = created["id"]

    glance_cli.run("alpha", "image-deactivate", image_id)
    assert _show(glance_cli, "alpha", image_id)["status"] == "deactivated"
    refused = glance_cli.run("alpha", "image-download", "--file", str(tmp_path / "no.img"), image_id, check=False)
    assert refused.returncode != 0
    assert "403" in refused.stdout + refused.stderr
    assert not (tmp_path / "no.img").exists() or (tmp_path / "no.img").stat().st_size == 0
    # an admin may still read a deactivated image's data
    assert _download(glance_cli, "admin", image_id, tmp_path / "admin.img") == (payload.md5, payload.sha512)

    glance_cli.run("alpha", "image-reactivate", image_id)
    assert _show(glance_cli, "alpha", image_id)["status"] == "active"
    assert _download(glance_cli, "alpha", image_id, tmp_path / "again.img") == (payload.md5, payload.sha512)

    glance_cli.run("alpha", "image-delete", image_id)
    gone = glance_cli.run("alpha", "image-show", image_id, check=False)
    assert gone.returncode != 0
    assert "404" in gone.stdout + gone.stderr
    again = glance_cli.run("alpha", "image-delete", image_id, check=False)
    assert again.returncode != 0
    listed = parse_table(glance_cli.run("admin", "image-list").stdout)
    assert image_id not in [row[0] for row in listed[1:]]


def test_members(glance_cli: GlanceCLI, unique: str) -> None:
    image_id = _create(glance_cli, "alpha", "--name", f"cli-shared-{unique}", "--visibility", "shared")["id"]
    mine = ("--property-filter", f"name=cli-shared-{unique}")

    created = parse_table(glance_cli.run("alpha", "member-create", image_id, "beta").stdout)
    assert created[1:] == [[image_id, "beta", "pending"]]
    assert parse_table(glance_cli.run("beta", "image-list", *mine).stdout)[1:] == []
    pending = parse_table(
        glance_cli.run("beta", "image-list", *mine, "--member-status", "pending", "--visibility", "shared").stdout
    )
    assert [row[0] for row in pending[1:]] == [image_id]

    glance_cli.run("beta", "member-update", image_id, "beta", "accepted")
    assert [row[0] for row in parse_table(glance_cli.run("beta", "image-list", *mine).stdout)[1:]] == [image_id]
    members = parse_table(glance_cli.run("alpha", "member-list", "--image-id", image_id).stdout)
    assert members[1:] == [[image_id, "beta", "accepted"]]

    glance_cli.run("beta", "member-update", image_id, "beta", "rejected")
    assert parse_table(glance_cli.run("beta", "image-list", *mine).stdout)[1:] == []
    assert parse_show(glance_cli.run("beta", "member-get", image_id, "beta").stdout)["status"] == "rejected"
