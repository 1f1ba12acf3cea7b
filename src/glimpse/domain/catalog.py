"""The application catalog's pure rules: asset types, an asset's metadata, references and dependency order.

An asset is one file published under a name and a version; the pair is immutable (a changed file is a new
version, never a replacement). Its metadata travels in the ``custom`` field of its TUF target, signed with
the targets role, under the key ``glimpse``. Dependencies are ``name@version`` references; installing an
asset installs what it depends on first, and a missing dependency or a cycle refuses the whole install.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from glimpse.errors import BadRequest, Conflict, NotFound

K = TypeVar("K", bound=Hashable)
N = TypeVar("N")

ASSET_TYPES = ("image", "heat-template", "heat-environment", "murano-package", "tosca-template", "bundle")
"""What a catalog may publish; each but ``image`` and ``bundle`` becomes an artifact of the matching type."""

ARTIFACT_TYPES = {
    "heat-template": ("heat_templates", "template"),
    "heat-environment": ("heat_environments", "environment"),
    "murano-package": ("murano_packages", "package"),
    "tosca-template": ("tosca_templates", "template"),
    "bundle": ("all", None),
}
"""Asset type -> (Glare artifact type, the blob field holding the asset's file)."""

METADATA_FIELDS = ("description", "license", "provider", "icon", "supported_services", "release",
                   "disk_format", "container_format")  # fmt: skip
"""Free-text metadata an asset may carry besides its type, name, version and dependencies."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$")


class CatalogError(BadRequest):
    """A catalog request or catalog content that cannot be accepted."""


class AssetExists(Conflict):
    """An asset version was already published with different data: publish a new version instead."""


class DependencyMissing(NotFound):
    """An asset depends on a version the catalog does not hold: the install is refused as a whole."""


class DependencyCycle(CatalogError):
    """Assets depend on each other in a loop: the install is refused as a whole."""


@dataclass(frozen=True, slots=True, order=True)
class AssetRef:
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"

    @classmethod
    def parse(cls, text: str) -> AssetRef:
        name, sep, version = text.strip().partition("@")
        if not sep:
            raise CatalogError(f"{text!r}: a dependency is written NAME@VERSION")
        return cls(check_name(name), check_version(version))


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise CatalogError(f"{name!r} is not a valid asset name (letters, digits, '.', '_', '-'; at most 128)")
    return name


def check_version(version: str) -> str:
    if not _VERSION.match(version):
        raise CatalogError(f"{version!r} is not a valid asset version (letters, digits, '.', '+', '_', '-')")
    return version


@dataclass(frozen=True, slots=True)
class Asset:
    """One published asset version as the signed index describes it."""

    type: str
    name: str
    version: str
    path: str  # the TUF target path
    sha256: str
    length: int
    depends: tuple[AssetRef, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> AssetRef:
        return AssetRef(self.name, self.version)

    def custom(self) -> dict[str, Any]:
        """The ``custom`` field of the asset's TUF target."""
        return {
            "glimpse": {
                "type": self.type,
                "name": self.name,
                "version": self.version,
                "depends": [str(d) for d in self.depends],
                **dict(self.metadata),
            }
        }

    @classmethod
    def from_target(cls, path: str, length: int, hashes: Mapping[str, str], custom: Any) -> Asset | None:
        """The asset a target describes; None for a target that is not a Glimpse asset."""
        info = custom.get("glimpse") if isinstance(custom, Mapping) else None
        if not isinstance(info, Mapping) or "sha256" not in hashes:
            return None
        try:
            kind = str(info["type"])
            if kind not in ASSET_TYPES:
                return None
            return cls(
                type=kind,
                name=check_name(str(info["name"])),
                version=check_version(str(info["version"])),
                path=path,
                sha256=hashes["sha256"],
                length=int(length),
                depends=tuple(AssetRef.parse(str(d)) for d in info.get("depends", [])),
                metadata={k: str(info[k]) for k in METADATA_FIELDS if k in info},
            )
        except (KeyError, TypeError, ValueError, CatalogError):
            return None


def check_type(kind: str) -> str:
    if kind not in ASSET_TYPES:
        raise CatalogError(f"{kind!r} is not an asset type; one of: {', '.join(ASSET_TYPES)}")
    return kind


def install_order(root: AssetRef, lookup: Callable[[AssetRef], Asset | None]) -> list[Asset]:
    """Every asset ``root`` needs, dependencies before what depends on them, ``root`` last.

    Fail-closed: a reference the catalog does not hold raises :class:`DependencyMissing`, a loop raises
    :class:`DependencyCycle`, both before anything is fetched.
    """
    return dependency_order([root], lookup, lambda asset: asset.depends)


def dependency_order(roots: Sequence[K], lookup: Callable[[K], N | None], needs: Callable[[N], Iterable[K]],
                     where: str = "the catalog") -> list[N]:  # fmt: skip
    """Every node ``roots`` need (``lookup`` finds a node by its key, ``needs`` names a node's dependencies),
    dependencies first, each once. A key ``lookup`` does not know raises :class:`DependencyMissing` ("Asset
    KEY is not in WHERE (needed by ...)"), a loop :class:`DependencyCycle`."""
    order: list[N] = []
    done: set[K] = set()

    def visit(key: K, path: Sequence[K]) -> None:
        if key in done:
            return
        if key in path:
            loop = " -> ".join(str(r) for r in [*path[path.index(key) :], key])
            raise DependencyCycle(f"Dependency cycle: {loop}")
        node = lookup(key)
        if node is None:
            needed = f" (needed by {path[-1]})" if path else ""
            raise DependencyMissing(f"Asset {key} is not in {where}{needed}")
        for dependency in needs(node):
            visit(dependency, [*path, key])
        done.add(key)
        order.append(node)

    for root in roots:
        visit(root, [])
    return order
