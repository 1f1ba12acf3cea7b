"""What a legacy catalog's asset or Murano package becomes: the items (an image or an artifact) to make."""

from dataclasses import dataclass, field
from typing import Any

from glimpse.domain.legacy_catalog import (
    LegacyAsset,
    MuranoManifest,
)
from glimpse.services.catalog.legacy.source import Fetched


@dataclass(slots=True)
class _Item:
    """One thing to make: an image or an artifact, its file, provenance and links."""

    key: str  # the name the source knows it by
    type: str  # an asset type
    name: str
    version: str
    url: str | None
    legacy_hash: str
    md5: str | None = None
    depends: tuple[str, ...] = ()
    fields: dict[str, Any] = field(default_factory=dict)  # extra artifact fields / image formats
    description: str = ""
    text: bytes | None = None  # content given inline (a heat environment), not fetched
    file: Fetched | None = None


def _app_catalog_items(asset: LegacyAsset) -> list[_Item]:
    """What one App Catalog asset becomes: an image or an artifact (a heat asset's inline environment, a heat
    environment artifact of its own that the template links)."""

    def item(kind: str, version: str, depends: tuple[str, ...], fields: dict[str, Any], name: str = "") -> _Item:
        return _Item(asset.name, kind, name or asset.name, version, asset.url, asset.legacy_hash, asset.md5, depends,
                     fields, asset.description)  # fmt: skip

    if asset.type == "image":
        formats = {"disk_format": asset.disk_format, "container_format": asset.container_format}
        return [item("image", "legacy", asset.depends, formats)]
    if asset.type == "murano-package":  # name, version and fields from its manifest once downloaded
        return [item("murano-package", "0.0.0", asset.depends, {}, name=asset.package_name or asset.name)]
    if asset.type == "tosca-template":
        fields = {"template_format": asset.template_format} if asset.template_format else {}
        return [item("tosca-template", "0.0.0", asset.depends, fields)]
    if asset.environment is None:
        return [item("heat-template", "0.0.0", asset.depends, {})]
    key = f"{asset.name} (environment)"
    environment = _Item(key, "heat-environment", f"{asset.name}-environment", "0.0.0", None, "none",
                        text=asset.environment.encode())  # fmt: skip
    return [environment, item("heat-template", "0.0.0", (key, *asset.depends), {})]


def _murano_fields(manifest: MuranoManifest) -> dict[str, Any]:
    fields: dict[str, Any] = {"type": manifest.type, "class_definitions": list(manifest.classes),
                              "keywords": list(manifest.tags)}  # fmt: skip
    if manifest.name:
        fields["display_name"] = manifest.name[:255]
    return fields


def _murano_item(where: str, fetched: Fetched, manifest: MuranoManifest) -> _Item:
    return _Item(manifest.full_name, "murano-package", manifest.full_name, manifest.version, url=where,
                 legacy_hash="none", depends=manifest.require, fields=_murano_fields(manifest),
                 description=manifest.description, file=fetched)  # fmt: skip
