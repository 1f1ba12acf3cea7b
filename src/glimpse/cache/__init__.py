"""The node-local image cache: files under ``image_cache_dir`` with a hard byte budget.

Knows nothing of the database, policy or HTTP: :mod:`glimpse.services.cache` keeps the node-aware table in
step with what :class:`~glimpse.cache.files.CacheDir` reports (filled, evicted, removed).
"""

from glimpse.cache.files import CacheDir, Corrupt, Entry, Fill, Refused

__all__ = ["CacheDir", "Corrupt", "Entry", "Fill", "Refused"]
