"""The process: where its data lives, where it listens, how it logs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from glimpse.settings.sources import Env, Ini


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "glimpse"


class ServerGroup(BaseModel):
    """Settings' fields for the process: data directory, bind address, workers, logging."""

    # where the embedded defaults keep everything
    data_dir: Annotated[Path, Ini("glimpse", "data_dir"), Env("GLIMPSE_DATA_DIR")] = Field(
        default_factory=_default_data_dir
    )
    host: Annotated[str, Ini("DEFAULT", "bind_host"), Env("GLIMPSE_HOST")] = "127.0.0.1"
    port: Annotated[int, Ini("DEFAULT", "bind_port"), Env("GLIMPSE_PORT")] = 9292
    workers: Annotated[int, Ini("DEFAULT", "workers"), Env("GLIMPSE_WORKERS")] = 1
    # HTTPS: Glance's [DEFAULT] cert_file / key_file (both, or neither for plain HTTP)
    cert_file: Annotated[Path | None, Ini("DEFAULT", "cert_file"), Env("GLIMPSE_CERT_FILE")] = None
    key_file: Annotated[Path | None, Ini("DEFAULT", "key_file"), Env("GLIMPSE_KEY_FILE")] = None
    # downloads of local files (the image cache, filesystem stores) sent with sendfile (zero-copy); off: chunks
    sendfile: Annotated[bool, Ini("glimpse", "sendfile"), Env("GLIMPSE_SENDFILE")] = True
    log_level: Annotated[str, Ini("glimpse", "log_level"), Env("GLIMPSE_LOG_LEVEL")] = "INFO"
    # also oslo.log's [DEFAULT] use_json (this one wins when both are set)
    log_format: Annotated[Literal["text", "json"], Ini("glimpse", "log_format"), Env("GLIMPSE_LOG_FORMAT")] = "text"
