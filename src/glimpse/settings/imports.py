"""Interoperable image import: its methods, web-download's filtering, staging, and the task worker."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, SecretStr

from glimpse.settings.sources import Env, Ini


class ImportGroup(BaseModel):
    """Settings' fields for imports and the tasks that run them."""

    # import: methods and web-download filtering ([import_filtering_opts] in Glance)
    enabled_import_methods: Annotated[list[str], Ini("DEFAULT", "enabled_import_methods")] = Field(
        default_factory=lambda: ["glance-direct", "web-download", "copy-image", "glance-download"]
    )
    # glance-download: region name -> that region's image endpoint, and the token to read it with
    glance_download_endpoints: Annotated[dict[str, str], Ini("glimpse", "glance_download_endpoints")] = Field(
        default_factory=dict
    )
    glance_download_token: Annotated[SecretStr | None, Ini("glimpse", "glance_download_token")] = None
    import_allowed_schemes: Annotated[list[str], Ini("import_filtering_opts", "allowed_schemes")] = Field(
        default_factory=lambda: ["http", "https"]
    )
    import_disallowed_schemes: Annotated[list[str], Ini("import_filtering_opts", "disallowed_schemes")] = Field(
        default_factory=list
    )
    import_allowed_hosts: Annotated[list[str], Ini("import_filtering_opts", "allowed_hosts")] = Field(
        default_factory=list
    )
    import_disallowed_hosts: Annotated[list[str], Ini("import_filtering_opts", "disallowed_hosts")] = Field(
        default_factory=list
    )
    import_allowed_ports: Annotated[list[int], Ini("import_filtering_opts", "allowed_ports")] = Field(
        default_factory=lambda: [80, 443]
    )
    import_disallowed_ports: Annotated[list[int], Ini("import_filtering_opts", "disallowed_ports")] = Field(
        default_factory=list
    )
    # tasks: run by an in-process worker unless `glimpse worker` processes do it
    worker_in_process: Annotated[bool, Ini("glimpse", "worker_in_process"), Env("GLIMPSE_WORKER_IN_PROCESS")] = True
    # `glimpse serve`'s worker (worker_in_process) in a child process of the server (false: on the server's own
    # event loop, sharing its interpreter lock with the API)
    worker_process: Annotated[bool, Ini("glimpse", "worker_process"), Env("GLIMPSE_WORKER_PROCESS")] = True
    # default <data_dir>/staging
    staging_dir: Annotated[Path | None, Ini("os_glance_staging_store", "filesystem_store_datadir")] = None
    task_heartbeat_interval: Annotated[float, Ini("glimpse", "task_heartbeat_interval")] = Field(default=2.0, gt=0)
    task_stale_after: Annotated[float, Ini("glimpse", "task_stale_after")] = Field(default=30.0, gt=0)
    task_max_attempts: Annotated[int, Ini("glimpse", "task_max_attempts")] = Field(default=2, ge=1)
