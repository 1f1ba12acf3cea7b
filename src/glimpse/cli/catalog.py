"""`glimpse catalog ...`: publishing a signed catalog from a directory, and using the subscribed ones.

``init|add|publish|rotate-keys|show`` work on files only (no database, no server): the directory's
``repository/`` is what a Glimpse serves (``[catalog] serve_dir``) or any static web server can serve.
``refresh|remotes|list|search`` run the catalog service locally with the node's configuration (its database
and ``[catalog] remotes``), as an administrator, like `glimpse cache`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from glimpse.cli.options import config_option, run_services

T = TypeVar("T")
directory_argument = click.argument("directory", type=click.Path(file_okay=False, path_type=Path))


def _guarded(call: Callable[[], T]) -> T:
    from glimpse.errors import GlimpseError

    try:
        return call()
    except GlimpseError as exc:
        raise click.ClickException(exc.message) from exc


@click.group("catalog")
def catalog_group() -> None:
    """Application catalogs: publish signed assets, subscribe to remote catalogs, install their assets."""


@catalog_group.command("init")
@directory_argument
def catalog_init(directory: Path) -> None:
    """Create the keys and an empty signed catalog in DIRECTORY (which must be empty or absent)."""
    from glimpse.services.catalog.publish import CatalogRepository

    repo = CatalogRepository(directory)
    root = _guarded(repo.init)
    click.echo(f"catalog created in {directory}; root key id {root.roles['root'].keyids[0]}")
    click.echo(f"the root key is in {repo.root_keys_dir}: keep it offline (rotate-keys takes it back with --root-key)")
    click.echo(f"subscribers trust {repo.metadata_dir / '1.root.json'}")


@catalog_group.command("add")
@directory_argument
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--type", "kind", required=True,
              type=click.Choice(["image", "heat-template", "heat-environment", "murano-package", "tosca-template",
                                 "bundle"]))  # fmt: skip
@click.option("--name", required=True)
@click.option("--version", required=True)
@click.option("--depends", multiple=True, help="NAME@VERSION of an asset this one needs (repeatable).")
@click.option("--meta", multiple=True, help="KEY=VALUE: description, license, provider, icon, supported_services, "
              "release, disk_format, container_format (repeatable).")  # fmt: skip
def catalog_add(directory: Path, file: Path, kind: str, name: str, version: str, depends: tuple[str, ...],
                meta: tuple[str, ...]) -> None:  # fmt: skip
    """Stage FILE as asset NAME@VERSION (published by the next `publish`); a version never changes."""
    from glimpse.domain.catalog import METADATA_FIELDS
    from glimpse.services.catalog.publish import CatalogRepository

    metadata: dict[str, str] = {}
    for item in meta:
        key, sep, value = item.partition("=")
        if not sep or key not in METADATA_FIELDS:
            raise click.UsageError(f"--meta {item!r}: KEY=VALUE with KEY one of {', '.join(METADATA_FIELDS)}")
        metadata[key] = value
    repo = CatalogRepository(directory)
    asset, added = _guarded(lambda: repo.add(file, kind=kind, name=name, version=version, depends=depends,
                                             metadata=metadata))  # fmt: skip
    state = "staged" if added else "unchanged (already in the catalog)"
    click.echo(f"{asset.ref} {state}: sha256 {asset.sha256}, {asset.length} bytes")


@catalog_group.command("publish")
@directory_argument
def catalog_publish(directory: Path) -> None:
    """Sign what was added as new targets, snapshot and timestamp versions."""
    from glimpse.services.catalog.publish import CatalogRepository

    done = _guarded(CatalogRepository(directory).publish)
    click.echo(f"published: targets v{done.targets}, snapshot v{done.snapshot}, timestamp v{done.timestamp}, "
               f"{done.assets} asset(s)")  # fmt: skip


@catalog_group.command("rotate-keys")
@directory_argument
@click.argument("role", type=click.Choice(["root", "targets", "snapshot", "timestamp"]))
@click.option(
    "--root-key",
    "root_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The offline root key file(s) (default: those left in DIRECTORY/root-keys).",
)
def catalog_rotate_keys(directory: Path, role: str, root_keys: tuple[Path, ...]) -> None:
    """Replace ROLE's key: a new root version names the new key, and the catalog is signed again."""
    from glimpse.services.catalog.publish import CatalogRepository

    repo = CatalogRepository(directory)
    keyid = _guarded(lambda: repo.rotate_keys(role, root_keys))
    click.echo(f"{role} key rotated: new key id {keyid}; root now v{repo.root().signed.version}")


@catalog_group.command("show")
@directory_argument
def catalog_show(directory: Path) -> None:
    """Print a local catalog's keys and assets as JSON."""
    from glimpse.services.catalog.publish import CatalogRepository

    click.echo(json.dumps(_guarded(CatalogRepository(directory).describe), indent=2))


def _run(config_file: Path | None, call: Callable[[Any, Any], Coroutine[Any, Any, T]]) -> T:
    return run_services(config_file, call, project="admin")


@catalog_group.command("refresh")
@config_option
def catalog_refresh(config_file: Path | None) -> None:
    """Fetch and verify the subscribed catalogs' metadata now (exit 1 when one was refused)."""
    reports = _run(config_file, lambda svc, ctx: svc.catalog.refresh())
    for report in reports:
        click.echo(f"{report.remote}: {report.assets} assets" if report.ok else f"{report.remote}: {report.message}")
    if not all(report.ok for report in reports):
        raise SystemExit(1)


@catalog_group.command("remotes")
@config_option
def catalog_remotes(config_file: Path | None) -> None:
    """Print the subscribed catalogs' state (versions, signers, last refresh, last error) as JSON."""
    from glimpse.api.catalog.assets import present_remote

    states = _run(config_file, lambda svc, ctx: svc.catalog.remotes(ctx))
    click.echo(json.dumps([present_remote(state) for state in states], indent=2))


def _print_assets(found: list[Any], as_json: bool) -> None:
    from glimpse.api.catalog.assets import present_asset

    if as_json:
        click.echo(json.dumps([present_asset(remote, asset) for remote, asset in found], indent=2))
        return
    for remote, asset in found:
        description = asset.metadata.get("description", "")
        click.echo(f"{remote}\t{asset.name}@{asset.version}\t{asset.type}\t{asset.sha256[:16]}\t{description}")


@catalog_group.command("list")
@click.option("--type", "kind", default=None, help="Only assets of this type.")
@click.option("--catalog", default=None, help="Only this subscribed catalog.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@config_option
def catalog_list(kind: str | None, catalog: str | None, as_json: bool, config_file: Path | None) -> None:
    """List the subscribed catalogs' assets (as of their last verified refresh)."""
    found = _run(config_file, lambda svc, ctx: svc.catalog.search(ctx, kind=kind, catalog=catalog))
    _print_assets(found, as_json)


@catalog_group.command("search")
@click.argument("text")
@click.option("--type", "kind", default=None, help="Only assets of this type.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@config_option
def catalog_search(text: str, kind: str | None, as_json: bool, config_file: Path | None) -> None:
    """Assets whose name or description contains TEXT."""
    found = _run(config_file, lambda svc, ctx: svc.catalog.search(ctx, query=text, kind=kind))
    _print_assets(found, as_json)


@catalog_group.command("install")
@click.argument("asset", metavar="NAME@VERSION")
@click.option("--project", required=True, help="The project that will own what is installed.")
@click.option("--catalog", default=None, help="The subscribed catalog (default: the first that has the asset).")
@click.option("--timeout", type=float, default=3600.0, show_default=True, help="Seconds to wait for the install.")
@config_option
def catalog_install(asset: str, project: str, catalog: str | None, timeout: float, config_file: Path | None) -> None:
    """Install ASSET and what it depends on into PROJECT (verified; all or nothing); prints the result as JSON.

    The install is a task: a running server's worker or this command itself runs it, whichever claims it.
    """
    from glimpse.api.catalog.assets import present_install
    from glimpse.domain.catalog import AssetRef
    from glimpse.domain.tasks import FINISHED, TaskType
    from glimpse.jobs.worker import Worker

    async def call(svc: Any, ctx: Any) -> Any:
        task = await svc.catalog_installs.start(ctx, AssetRef.parse(asset), catalog)
        worker = Worker(svc.queue, {TaskType.CATALOG_INSTALL: svc.catalog_installs}, only_own_types=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            current = await svc.catalog_installs.show(ctx, task.id)
            if current.status in FINISHED:
                return current
            if not await worker.run_one():
                await asyncio.sleep(0.5)
        return await svc.catalog_installs.show(ctx, task.id)

    task = run_services(config_file, call, project=project)
    click.echo(json.dumps(present_install(task), indent=2))
    if task.status.value != "success":
        raise SystemExit(1)


@catalog_group.command("import-legacy")
@click.argument("source")
@click.option(
    "--allow-unverified",
    is_flag=True,
    help="Required: the source is not signed, so what it serves is imported marked unverified.",
)
@click.option("--project", required=True, help="The project that will own what is imported.")
@click.option(
    "--format",
    "source_format",
    type=click.Choice(["app-catalog", "murano"]),
    default="app-catalog",
    show_default=True,
    help="app-catalog: SOURCE is an App Catalog assets document (its /api/v1/assets URL or a saved copy); "
    "murano: SOURCE is a Murano package repository (URL or directory with apps/ and bundles/).",
)
@click.option(
    "--name",
    "names",
    multiple=True,
    help="An asset to import (repeatable; app-catalog default: every importable asset); for murano a "
    "package FullName[@VERSION] or bundle:NAME.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Resolve what would be imported and print it; make nothing (a Murano repository's packages are "
    "still read, for their manifests).",
)
@config_option
def catalog_import_legacy(source: str, allow_unverified: bool, project: str, source_format: str,
                          names: tuple[str, ...], dry_run: bool, config_file: Path | None) -> None:  # fmt: skip
    """Import assets from a legacy, unsigned catalog into PROJECT, marked unverified (docs/catalog.md).

    Refused unless the policy allows catalog:import_legacy (nobody by default) and --allow-unverified is given.
    Assets are fetched through the SSRF-guarded fetcher (https only); all or nothing.
    """

    async def call(svc: Any, ctx: Any) -> Any:
        legacy = svc.catalog_legacy
        if source_format == "murano":
            return await legacy.import_murano(ctx, source, allow_unverified=allow_unverified, names=names,
                                              dry_run=dry_run)  # fmt: skip
        return await legacy.import_app_catalog(ctx, source, allow_unverified=allow_unverified, names=names,
                                               dry_run=dry_run)  # fmt: skip

    report = run_services(config_file, call, project=project)
    click.echo(json.dumps(report.as_dict(), indent=2))
