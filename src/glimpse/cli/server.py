"""`glimpse serve` and `glimpse worker`: the API server and a task worker, each joining the data directory
(the start-up recovery runs first when no other server uses it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from glimpse.cli.fsck import _recover
from glimpse.cli.options import _settings, config_option
from glimpse.cli.serving import prepare_data_dir, run_server


@click.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 9292).")
@config_option
def serve(host: str | None, port: int | None, config_file: Path | None) -> None:
    """Run the API server."""
    from glimpse.logs import configure_logging

    settings = _settings(config_file, host=host, port=port)
    # before the imports below log anything
    configure_logging(settings.log_format, settings.log_level, settings.secrets())

    from glimpse.app import create_app
    from glimpse.auth.tokens import ensure_admin_token
    from glimpse.services.fsck import DataDirLock, claim_data_dir

    prepare_data_dir(settings)
    if settings.auth == "tokens":
        assert settings.token_file is not None
        token = ensure_admin_token(settings.token_file)
        if token is not None:
            click.echo(f"Created an admin token (shown once; only its digest is kept in {settings.token_file}):")
            click.echo(f"  export OS_AUTH_TOKEN={token}")
            click.echo(f"  export OS_IMAGE_URL=http://{settings.host}:{settings.port}")
    # held shared while this process serves; a crash leaves no lock behind
    data_dir_lock = DataDirLock(settings.data_dir)
    claim_data_dir(data_dir_lock, lambda: _recover(settings))
    child = None
    # the task worker in a process of its own; with several API processes each keeps its own on its loop, as
    # before (one child would run one task at a time for all of them, and they could not wake it)
    if settings.worker_in_process and settings.worker_process and settings.workers <= 1:
        from glimpse.cli.workerchild import WorkerChild

        child = WorkerChild(settings, config_file)
        child.start()
        settings = settings.model_copy(update={"worker_in_process": False})
    try:
        # several API processes: each builds its own app from the same file and environment
        app: Any = (
            create_app(settings, worker=child)
            if settings.workers <= 1
            else "glimpse.app:app_from_environment"
        )
        run_server(app, settings, settings.host, settings.port, config_file)
    finally:  # the app stopped it already, unless it never started
        if child is not None:
            child.stop()


@click.command()
@config_option
def worker(config_file: Path | None) -> None:
    """Run a task worker (imports) without the API; run as many as you like against one database."""
    from glimpse.logs import configure_logging

    settings = _settings(config_file)
    configure_logging(settings.log_format, settings.log_level, settings.secrets())

    from glimpse.cli.workerchild import run_worker
    from glimpse.services.fsck import DataDirLock, claim_data_dir

    # a worker may start before any server on a new database (several machines started at once): it migrates
    # it too (one at a time: db/migrate.upgrade), so its recovery and its queue find their tables
    prepare_data_dir(settings)
    # a worker writes into the stores like a server: held shared, the lock keeps `glimpse fsck --repair` and
    # a starting server's recovery away from the unfinished writes of imports it is running
    data_dir_lock = DataDirLock(settings.data_dir)
    claim_data_dir(data_dir_lock, lambda: _recover(settings))

    run_worker(settings)
