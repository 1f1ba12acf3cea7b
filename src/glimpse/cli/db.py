"""`glimpse db upgrade|check`: the database schema."""

from __future__ import annotations

from pathlib import Path

import click

from glimpse.cli.options import _settings, config_option


@click.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@config_option
def db_upgrade(config_file: Path | None) -> None:
    """Migrate the database to the newest schema."""
    from glimpse.db.migrate import current_revision, upgrade

    settings = _settings(config_file)
    upgrade(settings.database_url.get_secret_value())
    click.echo(f"database at revision {current_revision(settings.database_url.get_secret_value())}")


@db.command("check")
@config_option
def db_check(config_file: Path | None) -> None:
    """Fail when the database is not at head or the models drifted from the migrations."""
    from glimpse.db.migrate import current_revision, drift, head_revision

    settings = _settings(config_file)
    current, head = current_revision(settings.database_url.get_secret_value()), head_revision()
    if current != head:
        raise click.ClickException(f"database at {current}, migrations head is {head}: run `glimpse db upgrade`")
    differences = drift(settings.database_url.get_secret_value())
    if differences:
        raise click.ClickException(f"models and migrations differ: {differences}")
    click.echo(f"database at head {head}, no drift")
