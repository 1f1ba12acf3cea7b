"""Reading the two legacy catalog formats, as UNTRUSTED input (docs/catalog.md, "Legacy import").

1. The retired OpenStack App Catalog's ``assets`` document (what ``/api/v1/assets`` served): a JSON object
   ``{"assets": [...]}``, each asset with ``name``, ``service`` (``type``: glance, heat, murano, tosca or
   bundle, and per type ``disk_format``/``container_format``, ``environment``, ``package_name``,
   ``template_format``, ``murano_package_name``), ``attributes`` (``url``, for murano packages ``Package URL``,
   or only an ``indirect_url`` page), an optional MD5 ``hash``, ``depends`` (``[{"name": ...}]``),
   ``provided_by``, ``license``, ``description``, ``release`` and ``active``. Nothing in it is signed.
2. A Murano package repository: ``apps/<FullName>[.<version>].zip`` (a zip with ``manifest.yaml`` at its root:
   ``FullName``, ``Type`` Application or Library, ``Version``, ``Name``, ``Description``, ``Author``, ``Tags``,
   ``Classes``, ``Require`` {FullName: version spec}) and ``bundles/<name>.bundle`` (JSON or YAML
   ``{"Packages": [{"Name": ..., "Version": ...}]}``).

Every reader here refuses malformed input with a :class:`LegacySourceError` naming where and what; none
treats an MD5 as a digest pin (it is carried as ``md5:<hex>``, or ``none``, for the record).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from glimpse.domain.catalog import CatalogError

SERVICE_TYPES = {
    "glance": "image",
    "heat": "heat-template",
    "murano": "murano-package",
    "tosca": "tosca-template",
    "bundle": "bundle",
}
"""The App Catalog's ``service.type`` -> the asset type it becomes here."""

MURANO_CORE = "io.murano"
"""The core library every Murano package requires implicitly; Murano itself provides it, nothing imports it."""

_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")
_NO_HASH = {"", "unknown", "none"}
_FULL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$")
MAX_MANIFEST = 1024 * 1024


class LegacySourceError(CatalogError):
    """A legacy source that cannot be read: its place and what is wrong are in the message."""


@dataclass(frozen=True, slots=True)
class LegacyAsset:
    """One asset of an App Catalog ``assets`` document, as listed (nothing about it is verified)."""

    name: str
    type: str  # an asset type (``SERVICE_TYPES``' values)
    url: str | None  # where its file is, when the document says
    md5: str | None  # the listed MD5 (lower-case hex), or None when none was listed
    depends: tuple[str, ...] = ()  # names of other assets of the same document
    description: str = ""
    license: str = ""
    provider: str = ""
    release: tuple[str, ...] = ()
    disk_format: str = "qcow2"
    container_format: str = "bare"
    environment: str | None = None  # a heat asset's environment (YAML text)
    package_name: str | None = None  # a murano asset's FullName (a bundle's: the Murano bundle name)
    template_format: str | None = None
    active: bool = True

    @property
    def legacy_hash(self) -> str:
        """What was listed, for the record: ``md5:<hex>`` or ``none``; never a pin."""
        return f"md5:{self.md5}" if self.md5 else "none"

    def unusable(self) -> str | None:
        """Why this asset cannot be imported by itself, or None."""
        if not self.active:
            return "marked inactive in the catalog"
        if self.type == "bundle":
            return f"a bundle of Murano packages: import it with --format murano --name bundle:{self.package_name}"
        if not self.url:
            return "no download URL (only a web page to fetch it from by hand)"
        return None


def _where(index: int, item: Mapping[str, Any]) -> str:
    name = item.get("name")
    return f"asset #{index + 1}" + (f" ({name!r})" if isinstance(name, str) else "")


def _text(value: Any, where: str, field: str, *, required: bool = False) -> str:
    if value is None:
        if required:
            raise LegacySourceError(f"{where}: {field} is missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise LegacySourceError(f"{where}: {field} must be text")
    text = str(value).strip()
    if required and not text:
        raise LegacySourceError(f"{where}: {field} is missing")
    return text


def _md5(value: Any, where: str) -> str | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in _NO_HASH):
        return None
    if not isinstance(value, str) or not _MD5.match(value.strip()):
        raise LegacySourceError(f"{where}: hash {str(value)[:80]!r} is not an MD5 (32 hexadecimal digits)")
    return value.strip().lower()


def _url(value: Any, where: str, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or "://" not in value:
        raise LegacySourceError(f"{where}: {field} {str(value)[:200]!r} is not a URL")
    return value.strip()


def _asset(index: int, item: Any) -> LegacyAsset:
    if not isinstance(item, Mapping):
        raise LegacySourceError(f"asset #{index + 1}: an asset is a JSON object")
    where = _where(index, item)
    name = _text(item.get("name"), where, "name", required=True)
    service = item.get("service")
    if not isinstance(service, Mapping):
        raise LegacySourceError(f"{where}: service must be an object with a type")
    service_type = service.get("type")
    if service_type not in SERVICE_TYPES:
        raise LegacySourceError(
            f"{where}: service.type {str(service_type)[:40]!r} is not one of {', '.join(SERVICE_TYPES)}"
        )
    attributes = item.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise LegacySourceError(f"{where}: attributes must be an object")
    url_field = "Package URL" if service_type == "murano" and "Package URL" in attributes else "url"
    depends = item.get("depends") or []
    if not isinstance(depends, list) or not all(isinstance(d, Mapping) and isinstance(d.get("name"), str)
                                                for d in depends):  # fmt: skip
        raise LegacySourceError(f"{where}: depends must be a list of objects with a name")
    release = item.get("release") or []
    if not isinstance(release, list):
        raise LegacySourceError(f"{where}: release must be a list")
    provided = item.get("provided_by")
    provider = provided.get("company") or provided.get("name") if isinstance(provided, Mapping) else None
    environment = service.get("environment")
    if isinstance(environment, Mapping):
        environment = yaml.safe_dump(dict(environment), default_flow_style=False)
    elif environment is not None and not isinstance(environment, str):
        raise LegacySourceError(f"{where}: service.environment must be YAML text or an object")
    active = item.get("active", True)
    if not isinstance(active, bool):
        raise LegacySourceError(f"{where}: active must be true or false")
    package = service.get("package_name") or service.get("murano_package_name")
    return LegacyAsset(
        name=name,
        type=SERVICE_TYPES[service_type],
        url=_url(attributes.get(url_field), where, f"attributes.{url_field}"),
        md5=_md5(item.get("hash", attributes.get("hash")), where),
        depends=tuple(str(d["name"]).strip() for d in depends),
        description=_text(item.get("description"), where, "description"),
        license=_text(item.get("license"), where, "license"),
        provider=_text(provider, where, "provided_by"),
        release=tuple(_text(r, where, "release") for r in release),
        disk_format=_text(service.get("disk_format"), where, "service.disk_format") or "qcow2",
        container_format=_text(service.get("container_format"), where, "service.container_format") or "bare",
        environment=environment or None,
        package_name=_text(package, where, "service.package_name") or None,
        template_format=_text(service.get("template_format"), where, "service.template_format") or None,
        active=active,
    )


def parse_assets(raw: bytes, source: str) -> dict[str, LegacyAsset]:
    """The assets of an App Catalog ``assets`` document, by name (a name listed twice is refused)."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise LegacySourceError(f"{source}: the assets document is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise LegacySourceError(
            f"{source}: not an App Catalog assets document: invalid JSON at line {exc.lineno} column {exc.colno} "
            f"({exc.msg})"
        ) from None
    if not isinstance(document, Mapping) or not isinstance(document.get("assets"), list):
        raise LegacySourceError(f'{source}: not an App Catalog assets document: expected {{"assets": [...]}}')
    found: dict[str, LegacyAsset] = {}
    for index, item in enumerate(document["assets"]):
        try:
            asset = _asset(index, item)
        except LegacySourceError as exc:
            raise LegacySourceError(f"{source}: {exc.message}") from None
        if asset.name in found:
            raise LegacySourceError(f"{source}: {_where(index, item)}: the name is listed twice")
        found[asset.name] = asset
    return found


@dataclass(frozen=True, slots=True)
class MuranoRef:
    """A package of a Murano repository: ``apps/<full_name>[.<version>].zip``."""

    full_name: str
    version: str = ""

    def __str__(self) -> str:
        return f"{self.full_name}@{self.version}" if self.version else self.full_name

    @property
    def path(self) -> str:
        return f"apps/{self.full_name}{'.' + self.version if self.version else ''}.zip"

    @classmethod
    def parse(cls, text: str) -> MuranoRef:
        full_name, _, version = text.strip().partition("@")
        return cls(check_full_name(full_name), check_murano_version(version) if version else "")


def check_full_name(name: str) -> str:
    if not _FULL_NAME.match(name):
        raise LegacySourceError(f"{name[:80]!r} is not a Murano package name (letters, digits, '.', '_', '-')")
    return name


def check_murano_version(version: str) -> str:
    if not _VERSION.match(version):
        raise LegacySourceError(f"{version[:80]!r} is not a package version (letters, digits, '.', '+', '_', '-')")
    return version


@dataclass(frozen=True, slots=True)
class MuranoManifest:
    """A Murano package's ``manifest.yaml`` (as the package says; nothing about it is verified)."""

    full_name: str
    type: str
    version: str
    name: str = ""
    description: str = ""
    author: str = ""
    format: str = ""
    require: tuple[str, ...] = ()  # FullNames (version specs are not resolved: the repository's apps/NAME.zip)
    tags: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()


def parse_manifest(raw: bytes, where: str) -> MuranoManifest:
    """``manifest.yaml`` of the package at ``where``; FullName and Type are required, as Murano requires."""
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise LegacySourceError(f"{where}: manifest.yaml is not valid YAML{at}") from None
    if not isinstance(data, Mapping):
        raise LegacySourceError(f"{where}: manifest.yaml is not a mapping")
    what = f"{where}: manifest.yaml"
    full_name = check_full_name(_text(data.get("FullName"), what, "FullName", required=True))
    kind = _text(data.get("Type"), what, "Type", required=True)
    if kind not in ("Application", "Library"):
        raise LegacySourceError(f"{what}: Type {kind[:40]!r} is neither Application nor Library")
    version = _text(data.get("Version"), what, "Version") or "0.0.0"
    check_murano_version(version)
    require = data.get("Require") or {}
    if not isinstance(require, Mapping):
        raise LegacySourceError(f"{what}: Require must be a mapping of package names to versions")
    tags = data.get("Tags") or []
    classes = data.get("Classes") or {}
    if not isinstance(tags, list) or not isinstance(classes, Mapping):
        raise LegacySourceError(f"{what}: Tags must be a list and Classes a mapping")
    return MuranoManifest(
        full_name=full_name,
        type=kind,
        version=version,
        name=_text(data.get("Name"), what, "Name"),
        description=_text(data.get("Description"), what, "Description"),
        author=_text(data.get("Author"), what, "Author"),
        format=_text(data.get("Format"), what, "Format"),
        require=tuple(check_full_name(str(n)) for n in require if str(n) != MURANO_CORE),
        tags=tuple(_text(t, what, "Tags") for t in tags),
        classes=tuple(str(c) for c in classes),
    )


def parse_bundle(raw: bytes, where: str) -> list[MuranoRef]:
    """A Murano bundle (JSON or YAML): the packages it lists."""
    try:
        data = yaml.safe_load(raw)  # JSON is YAML
    except yaml.YAMLError:
        raise LegacySourceError(f"{where}: not a bundle (neither JSON nor YAML)") from None
    packages = data.get("Packages") if isinstance(data, Mapping) else None
    if not isinstance(packages, list) or not packages:
        raise LegacySourceError(f'{where}: not a bundle: expected {{"Packages": [{{"Name": ...}}, ...]}}')
    refs = []
    for item in packages:
        if not isinstance(item, Mapping) or not isinstance(item.get("Name"), str):
            raise LegacySourceError(f"{where}: each package of a bundle is an object with a Name")
        version = str(item.get("Version") or "")
        refs.append(MuranoRef(check_full_name(item["Name"]), check_murano_version(version) if version else ""))
    return refs
