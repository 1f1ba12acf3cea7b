"""Running an ASGI app under uvicorn, as `glimpse serve` and `glimpse artifacts serve` both do."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

from glimpse.settings import Settings


def prepare_data_dir(settings: Settings) -> None:
    """The data directory exists and, with ``auto_migrate``, the database is at the newest schema."""
    from glimpse.db.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.auto_migrate:
        upgrade(settings.database_url.get_secret_value())


def run_server(app: Any, settings: Settings, host: str, port: int, config_file: Path | None) -> None:
    """Serve ``app`` (an app, or with ``workers > 1`` the import path of a factory each worker process calls
    with the same file and environment) until stopped."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from glimpse.api.zerocopy import ZeroCopyHttpToolsProtocol

    if settings.workers > 1 and config_file is not None:
        os.environ["GLIMPSE_CONFIG"] = str(config_file)
    # JSON logs: uvicorn's own loggers get no handlers of their own and reach ours through the root logger
    log_config = None if settings.log_format == "json" else _masked(LOGGING_CONFIG, settings.secrets())
    # the objects of start-up (imports, the app, its services) live as long as the process: out of the collector's
    # sight, the first full collections no longer walk them all (about 40 ms each, paid by whichever request
    # happened to trigger them)
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        factory=settings.workers > 1,
        workers=settings.workers,
        host=host,
        port=port,
        ssl_certfile=settings.cert_file,
        ssl_keyfile=settings.key_file,
        log_level=settings.log_level.lower(),
        log_config=log_config,
        access_log=False,
        loop="uvloop",
        # zero-copy downloads of local files (never through TLS, which must encrypt every byte)
        http=ZeroCopyHttpToolsProtocol if settings.sendfile and settings.cert_file is None else "httptools",
        timeout_keep_alive=30,
    )


def _masked(config: dict[str, Any], secrets: list[str]) -> dict[str, Any]:
    """uvicorn's logging configuration with a SecretMask on each of its handlers (they do not reach ours);
    picklable, for the worker processes of ``workers > 1``."""
    handlers = {name: {**handler, "filters": [*handler.get("filters", []), "secrets"]}
                for name, handler in config.get("handlers", {}).items()}  # fmt: skip
    mask = {"()": "glimpse.logs.SecretMask", "secrets": secrets}
    return {**config, "filters": {**config.get("filters", {}), "secrets": mask}, "handlers": handlers}
