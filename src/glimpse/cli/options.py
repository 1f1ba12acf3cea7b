"""What the commands share: the --config option, the settings loaded from it, and running a use case with
this node's services."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from glimpse.settings import Settings, load_settings

T = TypeVar("T")

config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="INI file using glance-api.conf section and option names.",
)


def _settings(config_file: Path | None, **overrides: object) -> Settings:
    """The settings; from here on the configured secrets are masked in whatever the command logs."""
    from glimpse.logs import mask_secrets

    try:
        settings = load_settings(config_file, None, **overrides)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    mask_secrets(settings.secrets())
    return settings


def run_services(
    config_file: Path | None, call: Callable[[Any, Any], Coroutine[Any, Any, T]], project: str | None = None
) -> T:
    """``call(services, operator)`` with this node's services (the database migrated first), as an
    administrator (of ``project`` when given); a domain error is the command's error message."""
    from glimpse.container import build_services
    from glimpse.context import RequestContext
    from glimpse.db.migrate import upgrade
    from glimpse.errors import GlimpseError

    settings = _settings(config_file)
    if settings.auto_migrate:
        upgrade(settings.database_url.get_secret_value())
    services = build_services(settings)
    operator = RequestContext(user_id="glimpse-cli", project_id=project, roles=frozenset({"admin", "member", "reader"}),
                              request_id="glimpse-cli")  # fmt: skip
    try:
        return asyncio.run(call(services, operator))
    except GlimpseError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        services.close()
