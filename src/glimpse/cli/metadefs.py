"""`glimpse metadefs load|unload|export`: metadata definitions from and to JSON files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from glimpse.db import Database
from glimpse.cli.options import _settings, config_option


@click.group()
def metadefs() -> None:
    """Metadata definitions: load, unload and export the JSON files of `glance-manage db load_metadefs`."""


def _metadef_loader(config_file: Path | None) -> tuple[Any, Database]:
    from glimpse.db import Database
    from glimpse.db.migrate import upgrade
    from glimpse.services.metadefs.loader import MetadefLoader

    settings = _settings(config_file)
    if settings.auto_migrate:
        upgrade(settings.database_url.get_secret_value())
    db = Database(settings.database_url.get_secret_value(), busy_timeout=settings.database_busy_timeout)
    return MetadefLoader(db), db


@metadefs.command("load")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--merge", is_flag=True, help="Also fill namespaces already in the database with what they lack.")
@click.option("--prefer-new", is_flag=True, help="With --merge: the files' values win over the database's.")
@click.option("--overwrite", is_flag=True, help="With --merge: replace those namespaces by the files' versions.")
@config_option
def metadefs_load(path: Path, merge: bool, prefer_new: bool, overwrite: bool, config_file: Path | None) -> None:
    """Load every *.json file of PATH (a directory or one file); each file is one namespace."""
    if (prefer_new or overwrite) and not merge:
        raise click.UsageError("--prefer-new and --overwrite only go with --merge")
    if prefer_new and overwrite:
        raise click.UsageError("give --prefer-new or --overwrite, not both")
    loader, db = _metadef_loader(config_file)
    try:
        report = loader.load(path, merge=merge, prefer_new=prefer_new, overwrite=overwrite)
    finally:
        db.dispose()
    for label, names in (("loaded", report.loaded), ("merged", report.merged), ("skipped (exists)", report.skipped)):
        for name in names:
            click.echo(f"{label}: {name}")
    for file, why in report.failed:
        click.echo(f"failed: {file}: {why}", err=True)
    click.echo(
        f"{len(report.loaded)} loaded, {len(report.merged)} merged, {len(report.skipped)} skipped, "
        f"{len(report.failed)} failed"
    )
    if report.failed:
        sys.exit(1)


@metadefs.command("unload")
@config_option
def metadefs_unload(config_file: Path | None) -> None:
    """Remove every namespace and what it holds (the standard resource types stay)."""
    loader, db = _metadef_loader(config_file)
    try:
        count = loader.unload()
    finally:
        db.dispose()
    click.echo(f"{count} namespaces removed")


@metadefs.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@config_option
def metadefs_export(directory: Path, config_file: Path | None) -> None:
    """Write every namespace to DIRECTORY as <namespace>.json, in the shape `load` reads."""
    loader, db = _metadef_loader(config_file)
    try:
        written = loader.export(directory)
    finally:
        db.dispose()
    click.echo(f"{len(written)} namespaces written to {directory}")
