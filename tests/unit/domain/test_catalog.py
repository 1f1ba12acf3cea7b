"""The catalog's pure rules: references, target metadata, dependency order (fail-closed, cycles)."""

from __future__ import annotations

import pytest

from glimpse.domain.catalog import (
    Asset,
    AssetRef,
    CatalogError,
    DependencyCycle,
    DependencyMissing,
    install_order,
)


def asset(name: str, *depends: str, kind: str = "heat-template") -> Asset:
    return Asset(kind, name, "1.0", f"assets/{name}/1.0/f", "ab" * 32, 3, tuple(AssetRef.parse(d) for d in depends))


def test_a_reference_is_name_at_version() -> None:
    assert AssetRef.parse("web@1.2") == AssetRef("web", "1.2")
    for bad in ("web", "@1", "web@", "../x@1", "web@1 2"):
        with pytest.raises(CatalogError):
            AssetRef.parse(bad)


def test_an_asset_round_trips_through_its_target_custom_field() -> None:
    original = Asset("image", "cirros", "0.6", "assets/cirros/0.6/c.img", "ab" * 32, 10,
                     (AssetRef("base", "1"),), {"license": "GPL", "disk_format": "qcow2"})  # fmt: skip
    again = Asset.from_target(original.path, 10, {"sha256": "ab" * 32}, original.custom())
    assert again == original


def test_targets_that_are_not_assets_are_ignored() -> None:
    assert Asset.from_target("x", 1, {"sha256": "a"}, None) is None
    virus = {"glimpse": {"type": "virus", "name": "a", "version": "1"}}
    assert Asset.from_target("x", 1, {"sha256": "a"}, virus) is None
    assert Asset.from_target("x", 1, {"sha512": "a"}, asset("a").custom()) is None


def test_dependencies_come_first_and_once() -> None:
    index = {a.ref: a for a in (asset("app", "lib@1.0", "base@1.0"), asset("lib", "base@1.0"), asset("base"))}
    order = install_order(AssetRef("app", "1.0"), index.get)
    assert [a.name for a in order] == ["base", "lib", "app"]


def test_a_missing_dependency_refuses_the_whole_install() -> None:
    index = {a.ref: a for a in (asset("app", "lib@1.0"), asset("lib", "gone@2"))}
    with pytest.raises(DependencyMissing, match=r"gone@2 is not in the catalog \(needed by lib@1.0\)"):
        install_order(AssetRef("app", "1.0"), index.get)


def test_a_cycle_is_named() -> None:
    index = {a.ref: a for a in (asset("a", "b@1.0"), asset("b", "c@1.0"), asset("c", "b@1.0"))}
    with pytest.raises(DependencyCycle, match=r"b@1.0 -> c@1.0 -> b@1.0"):
        install_order(AssetRef("a", "1.0"), index.get)
