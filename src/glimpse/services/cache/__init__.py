"""The image cache: the cache API's use cases, the fill task's runner, and cached reads for downloads.

This node's files live in :class:`glimpse.cache.CacheDir` (the hard byte budget, verification records);
the node-aware table (``cached_images``, one row per node and image) lets every node answer
``GET /v2/cache/nodes/{id}`` and lists this node's entries with their hits and last use. The table follows
the files: a fill adds its row once its data verified, an eviction removes it.

A fill happens while a whole-image download streams from a store (the bytes are written and hashed as they
are sent), or at once by ``PUT /v2/cache/{id}``: a queued row and a ``cache_image`` task bound to this node
(``tasks.node``), run by this node's worker through :mod:`glimpse.services.task_queue`. Either way the file
is served only after its multihash matched the image's. A cached copy is served only while the image is
active; anything else evicts it at once on the node asked, and every node's worker evicts its copy at its
next poll (``task_heartbeat_interval``, 2 s).

The package: ``node`` (:class:`NodeCache`, this node's reads, fills and evictions), ``service``
(:class:`CacheService`, the API, the housekeeping, the runner). Import from here.
"""

from __future__ import annotations

from glimpse.services.cache.node import CacheFillFailed, NodeCache
from glimpse.services.cache.service import CLEAR_TARGETS, NOT_SUPPORTED, CacheService, listed

__all__ = ["CLEAR_TARGETS", "NOT_SUPPORTED", "CacheFillFailed", "CacheService", "NodeCache", "listed"]
