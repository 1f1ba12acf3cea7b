"""`glimpse artifacts serve|scrub`: the artifacts API (Glare's v1) as its own endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from glimpse.cli.options import _settings, config_option
from glimpse.cli.serving import prepare_data_dir, run_server


@click.group("artifacts")
def artifacts_group() -> None:
    """The artifacts API (Glare's v1) as its own endpoint."""


@artifacts_group.command("serve")
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 9494).")
@config_option
def artifacts_serve(host: str | None, port: int | None, config_file: Path | None) -> None:
    """Run the artifacts API server (same database, stores, auth and policy as `glimpse serve`)."""
    from glimpse.logs import configure_logging

    settings = _settings(config_file, artifacts_host=host, artifacts_port=port)
    configure_logging(settings.log_format, settings.log_level, settings.secrets())

    from glimpse.app import create_artifacts_app

    prepare_data_dir(settings)
    app: Any = create_artifacts_app(settings) if settings.workers <= 1 else "glimpse.app:artifacts_app_from_environment"
    run_server(app, settings, settings.artifacts_host, settings.artifacts_port, config_file)


@artifacts_group.command("scrub")
@config_option
def artifacts_scrub(config_file: Path | None) -> None:
    """Remove every artifact deleted with delayed_delete now (Glare's scrubber run once; a worker scrubs each
    deleted artifact by itself)."""
    from glimpse.logs import configure_logging

    settings = _settings(config_file)
    configure_logging(settings.log_format, settings.log_level, settings.secrets())

    import asyncio

    from glimpse.container import build_services

    async def run() -> int:
        services = build_services(settings)
        try:
            return await services.artifact_scrubber.scrub()
        finally:
            services.close()

    click.echo(f"scrubbed {asyncio.run(run())} deleted artifact(s)")
