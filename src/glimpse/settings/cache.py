"""The image cache (Glance's option names): its directory, byte budget and this node's identity."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field

from glimpse.settings.sources import Env, Ini


class CacheGroup(BaseModel):
    """Settings' fields for the node-local image cache."""

    # the image cache (Glance's names): off unless image_cache_dir is set; a hard byte budget per node
    image_cache_dir: Annotated[Path | None, Ini("DEFAULT", "image_cache_dir"), Env("GLIMPSE_IMAGE_CACHE_DIR")] = None
    image_cache_max_size: Annotated[
        int, Ini("DEFAULT", "image_cache_max_size"), Env("GLIMPSE_IMAGE_CACHE_MAX_SIZE")
    ] = Field(default=10 * 1024**3, ge=0)
    # partial files older than this many seconds are stale (removed by POST /v2/cache/clean and the sweep)
    image_cache_stall_time: Annotated[int, Ini("DEFAULT", "image_cache_stall_time")] = Field(default=86400, ge=0)
    # the cache refuses to fill when the disk would keep less than this many bytes free
    image_cache_min_free: Annotated[
        int, Ini("glimpse", "image_cache_min_free"), Env("GLIMPSE_IMAGE_CACHE_MIN_FREE")
    ] = Field(default=256 * 1024**2, ge=0)
    # this node's identity in the cache table (GET /v2/cache/nodes/{id}); default: host name and cache directory
    worker_self_reference_url: Annotated[
        str | None, Ini("DEFAULT", "worker_self_reference_url"), Env("GLIMPSE_WORKER_SELF_REFERENCE_URL")
    ] = None

    def cache_node(self) -> str:
        """This node's name in the image cache table: ``worker_self_reference_url``, else host and directory."""
        if self.worker_self_reference_url:
            return self.worker_self_reference_url
        return f"{socket.gethostname()}:{self.image_cache_dir}"
