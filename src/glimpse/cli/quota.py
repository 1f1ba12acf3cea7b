"""`glimpse quota set|show`: Glimpse's own quotas of a project (or the default of every project)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from glimpse.settings import Settings

if TYPE_CHECKING:
    from glimpse.db import Database
from glimpse.cli.options import _settings, config_option


@click.group()
def quota() -> None:
    """Per-project image quotas (Glimpse's own limits; with use_keystone_limits they live in Keystone)."""


def _quota_service(settings: Settings) -> tuple[Any, Database]:
    from glimpse.container import build_limit_source
    from glimpse.db import Database
    from glimpse.db.migrate import upgrade
    from glimpse.services.quotas import IMAGES, QuotaService

    if settings.auto_migrate:
        upgrade(settings.database_url.get_secret_value())
    db = Database(settings.database_url.get_secret_value(), busy_timeout=settings.database_busy_timeout)
    return QuotaService(db, build_limit_source(settings, db), IMAGES), db


@quota.command("set")
@click.option("--project", default=None, help="The project whose limits change.")
@click.option("--default", "for_all", is_flag=True, help="Change the default of every project without its own.")
@click.argument("limits", nargs=-1, required=True)
@config_option
def quota_set(project: str | None, for_all: bool, limits: tuple[str, ...], config_file: Path | None) -> None:
    """Set limits: RESOURCE=VALUE ... (sizes in MiB, -1 unlimited, `unset` removes the project's own).

    Resources: image_size_total, image_stage_total, image_count_total, image_count_uploading.
    """
    import asyncio

    from glimpse.domain.quotas import parse_resource
    from glimpse.errors import GlimpseError

    if (project is None) == (not for_all):
        raise click.UsageError("give either --project or --default")
    settings = _settings(config_file)
    if settings.use_keystone_limits:
        raise click.ClickException(
            "use_keystone_limits is on: limits live in Keystone (`openstack registered limit create`, "
            "`openstack limit create`)"
        )
    changes: dict[Any, int | None] = {}
    try:
        for item in limits:
            name, sep, raw = item.partition("=")
            if not sep:
                raise click.UsageError(f"{item!r}: expected RESOURCE=VALUE")
            value = None if raw.strip() == "unset" else int(raw)
            if value is not None and value < -1:
                raise click.UsageError(f"{item!r}: a limit is -1 (unlimited) or more")
            changes[parse_resource(name.strip())] = value
    except ValueError as exc:
        raise click.UsageError(f"not a whole number: {exc}") from exc
    except GlimpseError as exc:
        raise click.UsageError(exc.message) from exc
    service, db = _quota_service(settings)
    try:
        asyncio.run(service.set_limits("*" if for_all else str(project), changes))
    finally:
        db.dispose()
    click.echo(f"limits of {'every project' if for_all else project} updated")


@quota.command("show")
@click.option("--project", required=True, help="The project to report on.")
@config_option
def quota_show(project: str, config_file: Path | None) -> None:
    """Print the project's limit and usage of each resource as JSON (sizes in MiB, -1 unlimited)."""
    import asyncio

    from glimpse.errors import GlimpseError

    settings = _settings(config_file)
    service, db = _quota_service(settings)
    try:
        usage = asyncio.run(service.usage(project))
    except GlimpseError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        db.dispose()
    click.echo(json.dumps({"project": project, "usage": usage}, indent=2))
