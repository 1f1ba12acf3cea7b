"""The legacy import: admitted by the policy and the caller's consent, planned whole, made all or nothing."""

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glimpse.context import RequestContext
from glimpse.domain.catalog import ARTIFACT_TYPES, CatalogError, dependency_order
from glimpse.domain.legacy_catalog import (
    LegacyAsset,
    LegacySourceError,
    MuranoManifest,
    MuranoRef,
    parse_assets,
    parse_bundle,
)
from glimpse.errors import Forbidden
from glimpse.policy import Target
from glimpse.services import fetch
from glimpse.services.artifacts import ArtifactService, BlobService
from glimpse.services.catalog.install import read_chunks, remove_made
from glimpse.services.catalog.legacy.items import _app_catalog_items, _Item, _murano_fields, _murano_item
from glimpse.services.catalog.legacy.source import (
    MAX_DOCUMENT,
    MAX_PACKAGE,
    Fetched,
    _ignore,
    _Source,
    read_package_manifest,
)
from glimpse.services.catalog.subscribe import CatalogService
from glimpse.services.image_data import ImageDataService
from glimpse.services.images import ImageService

RULE = "catalog:import_legacy"
MAX_METADATA = 255


class LegacyImportRefused(Forbidden):
    """The policy does not allow legacy imports (the default)."""


@dataclass(frozen=True, slots=True)
class LegacyReport:
    source: str
    dry_run: bool
    imported: list[dict[str, Any]]
    skipped: list[dict[str, str]]

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "provenance": "unverified", "dry_run": self.dry_run,
                "imported": self.imported, "skipped": self.skipped}  # fmt: skip


@dataclass(slots=True)
class _Run:
    ctx: RequestContext
    made: list[tuple[str, str]] = field(default_factory=list)  # (local type, id), to remove on failure
    local: dict[str, tuple[str, str]] = field(default_factory=dict)  # item key -> (local type, id)


class LegacyImportService:
    """``glimpse catalog import-legacy``: a legacy catalog's assets into the caller's project, unverified."""

    def __init__(self, catalog: CatalogService, images: ImageService, image_data: ImageDataService,
                 artifacts: ArtifactService, blobs: BlobService) -> None:  # fmt: skip
        self.catalog = catalog
        self.policy = catalog.policy
        self.images = images
        self.image_data = image_data
        self.artifacts = artifacts
        self.blobs = blobs

    def admit(self, ctx: RequestContext, allow_unverified: bool) -> None:
        """The policy, then the caller's explicit consent, before anything is read."""
        if not self.policy.check(ctx, RULE, Target(project_id=ctx.project_id)):
            raise LegacyImportRefused(
                f"Legacy catalog import is refused by the policy (rule {RULE}; its default '!' allows nobody). "
                f'An operator allows it in the policy file, e.g. "{RULE}": "role:admin"'
            )
        if not allow_unverified:
            raise CatalogError(
                "A legacy catalog is not signed: nothing it serves can be verified. Import it anyway, marked "
                "unverified, with --allow-unverified"
            )
        if not ctx.project_id:
            raise CatalogError("Importing needs a project (--project) to own what is imported")

    # -- the App Catalog ------------------------------------------------------------------------------------
    async def import_app_catalog(self, ctx: RequestContext, location: str, *, allow_unverified: bool,
                                 names: Sequence[str] = (), dry_run: bool = False) -> LegacyReport:  # fmt: skip
        """The assets named (default: every importable one) of an App Catalog ``assets`` document, and what
        they depend on."""
        self.admit(ctx, allow_unverified)
        source = _Source(location, self.catalog.fetch_policy)
        assets = parse_assets(await source.read(location, MAX_DOCUMENT), source.label)
        skipped = []
        if names:
            for name in names:
                if name not in assets:
                    raise LegacySourceError(f"{source.label}: no asset named {name!r}")
            roots = list(names)
        else:
            roots = []
            for asset in assets.values():
                reason = asset.unusable()
                if reason is None:
                    roots.append(asset.name)
                else:
                    skipped.append({"name": asset.name, "reason": reason})

        def lookup(name: str) -> LegacyAsset | None:
            asset = assets.get(name)
            if asset is not None and (reason := asset.unusable()):
                raise LegacySourceError(f"{source.label}: asset {name!r} cannot be imported: {reason}")
            return asset

        order = dependency_order(roots, lookup, lambda a: a.depends, where=source.label)
        items: list[_Item] = []
        for asset in order:
            items.extend(_app_catalog_items(asset))
        return await self._import(ctx, source, items, dry_run, skipped)

    # -- a Murano repository --------------------------------------------------------------------------------
    async def import_murano(self, ctx: RequestContext, location: str, *, allow_unverified: bool,
                            names: Sequence[str], dry_run: bool = False) -> LegacyReport:  # fmt: skip
        """Packages (``FullName`` or ``FullName@version``) and bundles (``bundle:NAME``) of a Murano package
        repository, with the packages they require (found in the same repository)."""
        self.admit(ctx, allow_unverified)
        if not names:
            raise CatalogError("Name the packages (FullName) or bundles (bundle:NAME) to import")
        source = _Source(location, self.catalog.fetch_policy)
        roots: list[MuranoRef] = []
        for name in names:
            if name.startswith("bundle:"):
                bundle = MuranoRef.parse(name.removeprefix("bundle:")).full_name
                where = source.resolve(f"bundles/{bundle}.bundle")
                roots.extend(parse_bundle(await source.read(where, MAX_DOCUMENT), where))
            else:
                roots.append(MuranoRef.parse(name))
        workdir = self._workdir()
        try:
            packages: dict[str, tuple[MuranoRef, Fetched, MuranoManifest]] = {}

            async def fetch_package(ref: MuranoRef, needed_by: str | None) -> None:
                where = source.resolve(ref.path)
                try:
                    fetched = await source.download(where, workdir / f"{uuid.uuid4()}.zip", MAX_PACKAGE, _ignore)
                except LegacySourceError as exc:
                    if needed_by is None:
                        raise
                    raise LegacySourceError(f"{ref} (required by {needed_by}): {exc.message}") from exc
                manifest = read_package_manifest(fetched.path, where)
                if manifest.full_name != ref.full_name:
                    raise LegacySourceError(
                        f"{where}: its manifest names {manifest.full_name!r}, not {ref.full_name!r}"
                    )
                packages[ref.full_name] = (ref, fetched, manifest)

            pending: list[tuple[MuranoRef, str | None]] = [(r, None) for r in roots]
            while pending:  # what the packages require, breadth first, each fetched once
                ref, needed_by = pending.pop(0)
                if ref.full_name in packages:
                    continue
                await fetch_package(ref, needed_by)
                pending.extend((MuranoRef(n), ref.full_name) for n in packages[ref.full_name][2].require)
            order = dependency_order([r.full_name for r in roots], lambda n: packages.get(n),
                                     lambda p: p[2].require, where=source.label)  # fmt: skip
            items = [_murano_item(source.resolve(ref.path), fetched, manifest) for ref, fetched, manifest in order]
            return await self._import(ctx, source, items, dry_run, [], workdir)
        finally:
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    # -- shared ---------------------------------------------------------------------------------------------
    def _workdir(self) -> Path:
        return self.catalog.state_dir / "legacy" / str(uuid.uuid4())

    async def _import(self, ctx: RequestContext, source: _Source, items: list[_Item], dry_run: bool,
                      skipped: list[dict[str, str]], workdir: Path | None = None) -> LegacyReport:  # fmt: skip
        own = workdir is None
        workdir = workdir or self._workdir()
        run = _Run(ctx)
        try:
            if not dry_run:
                await self._download(source, items, workdir)
                for item in items:
                    await self._create(run, source, item)
        except BaseException:
            await self._remove(run)
            raise
        finally:
            if own:
                await asyncio.to_thread(shutil.rmtree, workdir, True)
        imported = [
            {"name": i.name, "version": i.version, "type": i.type, "legacy_name": i.key, "legacy_hash": i.legacy_hash,
             "size": i.file.length if i.file else (len(i.text) if i.text is not None else None),
             "local_type": run.local.get(i.key, ("", ""))[0] or None, "id": run.local.get(i.key, ("", ""))[1] or None}
            for i in items
        ]  # fmt: skip
        return LegacyReport(source.label, dry_run, imported, skipped)

    async def _download(self, source: _Source, items: list[_Item], workdir: Path) -> None:
        """Every file before anything is made; a listed MD5 that does not match refuses the whole import."""
        for item in items:
            if item.file is not None or item.url is None:
                continue
            limit = self.catalog.settings.image_size_cap if item.type == "image" else MAX_PACKAGE
            item.file = await source.download(item.url, workdir / f"{uuid.uuid4()}.data", limit, _ignore)
            if item.md5 is not None and item.file.md5 != item.md5:
                raise LegacySourceError(
                    f"{item.key!r}: the file at {fetch.redact(item.url)} has MD5 {item.file.md5}, not the listed "
                    f"{item.md5}: nothing imported"
                )
            if item.type == "murano-package":  # the package must be one, and says what it is
                manifest = read_package_manifest(item.file.path, fetch.redact(item.url))
                item.name, item.version = manifest.full_name, manifest.version
                item.fields = {**_murano_fields(manifest), "display_name": item.key[:255]}

    def _provenance(self, source: _Source, item: _Item) -> dict[str, str]:
        return {
            "catalog_provenance": "unverified",
            "catalog_source": source.label[:MAX_METADATA],
            "catalog_asset": item.key[:MAX_METADATA],
            "catalog_version": item.version,
            "catalog_legacy_hash": item.legacy_hash,
        }

    async def _create(self, run: _Run, source: _Source, item: _Item) -> None:
        provenance = self._provenance(source, item)
        if item.type == "image":
            assert item.file is not None
            body = {"name": item.name[:255], **item.fields, **provenance}
            image = await self.images.create(run.ctx, body)
            run.made.append(("image", image.id))
            run.local[item.key] = ("image", image.id)
            await self.image_data.upload(run.ctx, image.id, read_chunks(item.file.path), declared_size=item.file.length,
                                         store_id=None)  # fmt: skip
            return
        type_name, blob_field = ARTIFACT_TYPES[item.type]
        assert blob_field is not None
        fields: dict[str, Any] = {"name": item.name[:255], "version": item.version, "metadata": provenance,
                                "description": item.description[:4096], **item.fields}  # fmt: skip
        links = {d: run.local[d] for d in item.depends if d in run.local}  # dependencies are made first
        if type_name == "heat_templates":
            fields["environments"] = {
                d: f"/artifacts/{t}/{i}" for d, (t, i) in links.items() if t == "heat_environments"
            }
        elif type_name == "murano_packages":
            fields["dependencies"] = [f"/artifacts/{t}/{i}" for t, i in links.values() if t == "murano_packages"]
        created = await self.artifacts.create(run.ctx, type_name, fields)
        run.made.append((type_name, created["id"]))
        run.local[item.key] = (type_name, created["id"])
        if item.text is not None:
            stream, length = _once(item.text), len(item.text)
        else:
            assert item.file is not None
            stream, length = read_chunks(item.file.path), item.file.length
        await self.blobs.upload(run.ctx, type_name, created["id"], blob_field, stream,
                                content_type="application/octet-stream", content_length=length)  # fmt: skip

    async def _remove(self, run: _Run) -> None:
        await remove_made(run.ctx, self.images, self.artifacts, run.made, "legacy import")


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
