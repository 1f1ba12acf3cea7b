"""Reading the legacy catalog formats (untrusted input): what is taken from them, and clear refusals."""

from __future__ import annotations

import json

import pytest

from glimpse.domain.legacy_catalog import LegacySourceError, MuranoRef, parse_assets, parse_bundle, parse_manifest


def document(*assets: dict[str, object]) -> bytes:
    return json.dumps({"assets": list(assets)}).encode()


def test_an_asset_is_read_as_listed_and_its_md5_is_only_recorded() -> None:
    [asset] = parse_assets(document({
        "name": "Ubuntu", "service": {"type": "glance", "disk_format": "qcow2", "container_format": "bare"},
        "hash": "C2449BFCCC9C61AA9D73D6749FA02B5A", "attributes": {"url": "https://example.org/u.qcow2"},
        "provided_by": {"name": "someone", "href": "https://example.org", "company": "Example"},
        "release": ["Kilo"], "description": "x", "license": "Other",
    }), "src").values()  # fmt: skip
    assert (asset.type, asset.url, asset.disk_format, asset.provider) == (
        "image", "https://example.org/u.qcow2", "qcow2", "Example")  # fmt: skip
    assert asset.legacy_hash == "md5:c2449bfccc9c61aa9d73d6749fa02b5a"
    assert asset.unusable() is None


def test_no_hash_unknown_hash_and_inline_environments() -> None:
    assets = parse_assets(document(
        {"name": "a", "service": {"type": "heat", "environment": {"parameters": {"db_port": 1000}}},
         "hash": "unknown", "attributes": {"url": "https://h/a.yaml"}},
        {"name": "b", "service": {"type": "murano", "package_name": "com.example.B"},
         "attributes": {"Package URL": "https://h/b.zip"}, "depends": [{"name": "a"}]},
        {"name": "c", "service": {"type": "glance"}, "attributes": {"indirect_url": "https://h/page"}},
    ), "src")  # fmt: skip
    assert assets["a"].legacy_hash == "none"
    assert assets["a"].environment == "parameters:\n  db_port: 1000\n"
    assert (assets["b"].url, assets["b"].package_name, assets["b"].depends) == ("https://h/b.zip", "com.example.B",
                                                                                ("a",))  # fmt: skip
    assert assets["c"].unusable() == "no download URL (only a web page to fetch it from by hand)"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", 'expected {"assets": [...]}'),
        (b'{"assets": [3]}', "asset #1: an asset is a JSON object"),
        (b'{"assets": [{"service": {"type": "heat"}}]}', "asset #1: name is missing"),
        (b'{"assets": [{"name": "x"}]}', "service must be an object with a type"),
        (b'{"assets": [{"name": "x", "service": {"type": "heat"}, "active": "yes"}]}', "active must be true or false"),
    ],
)
def test_malformed_documents_are_refused(raw: bytes, message: str) -> None:
    with pytest.raises(LegacySourceError, match=r"^src") as caught:
        parse_assets(raw, "src")
    assert message in caught.value.message


def test_a_manifest_and_its_requirements() -> None:
    manifest = parse_manifest(
        b"FullName: com.example.App\nType: Application\nRequire:\n  io.murano:\n  com.example.Lib: '>=1'\n", "pkg"
    )
    assert (manifest.version, manifest.require) == ("0.0.0", ("com.example.Lib",))  # io.murano is Murano's own
    with pytest.raises(LegacySourceError, match="Require must be a mapping"):
        parse_manifest(b"FullName: a.b\nType: Library\nRequire: [a]\n", "pkg")
    with pytest.raises(LegacySourceError, match="not a mapping"):
        parse_manifest(b"- a\n", "pkg")


def test_bundles_and_package_references() -> None:
    refs = parse_bundle(b'{"Packages": [{"Name": "a.b"}, {"Name": "c.d", "Version": "0.0.1"}]}', "bundle")
    assert [r.path for r in refs] == ["apps/a.b.zip", "apps/c.d.0.0.1.zip"]
    assert MuranoRef.parse("a.b@1.0").path == "apps/a.b.1.0.zip"
    for bad in (b"Packages: []\n", b"{}", b"Packages: [{Version: 1}]\n", b"Packages: [{Name: ../x}]\n"):
        with pytest.raises(LegacySourceError):
            parse_bundle(bad, "bundle")
