"""The named stores of ``enabled_backends`` and the default one."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from glimpse.errors import BadRequest, NotFound
from glimpse.settings import (
    FilesystemStoreOptions,
    HttpStoreOptions,
    S3StoreOptions,
    Settings,
    StoreSettings,
    SwiftStoreOptions,
)
from glimpse.stores.base import Store
from glimpse.stores.filesystem import FilesystemStore


class StoreRegistry:
    def __init__(self, stores: Mapping[str, Store], default: str) -> None:
        if default not in stores:
            raise ValueError(f"default store {default!r} is not configured")
        self._stores = dict(stores)
        self.default_id = default

    def __iter__(self) -> Iterator[Store]:
        return iter(self._stores.values())

    def __contains__(self, store_id: object) -> bool:
        return store_id in self._stores

    @property
    def default(self) -> Store:
        return self._stores[self.default_id]

    def get(self, store_id: str) -> Store:
        try:
            return self._stores[store_id]
        except KeyError:
            raise NotFound(f"Unknown store {store_id}") from None

    def for_upload(self, store_id: str | None) -> Store:
        """The store an upload goes to: the one named by ``X-Image-Meta-Store``, or the default."""
        if store_id is None:
            return self.default
        if store_id not in self._stores:
            raise BadRequest(f"Store for identifier {store_id} not found")
        return self._stores[store_id]

    def store_for_url(self, url: str) -> Store:
        """The configured store a location URL belongs to (the first that ``owns`` it); BadRequest when none."""
        for store in self._stores.values():
            if store.owns(url):
                return store
        raise BadRequest("The location does not belong to any configured store")

    def by_weight(self, store_ids: list[str]) -> list[Store]:
        """Stores holding a copy, heaviest first (ties keep configuration order)."""
        order = list(self._stores)
        present = [self._stores[s] for s in store_ids if s in self._stores]
        return sorted(present, key=lambda store: (-store.weight, order.index(store.id)))


def build_store(config: StoreSettings, *, chunk_size: int) -> Store:
    """The driver of ``config.type`` (Glance's names), given its typed options. SDK-backed drivers are imported
    only when configured."""
    options = config.options
    common: dict[str, Any] = {"description": config.description, "weight": config.weight, "chunk_size": chunk_size}
    if isinstance(options, FilesystemStoreOptions):
        if options.filesystem_store_datadir is None:
            raise ValueError(f"store {config.id!r}: filesystem_store_datadir is not set")
        return FilesystemStore(config.id, options.filesystem_store_datadir, **common)
    if isinstance(options, HttpStoreOptions):  # read-only; the container gives it web-download's fetching
        from glimpse.stores.http import HttpStore

        return HttpStore(config.id, **common)
    if isinstance(options, S3StoreOptions):
        from glimpse.stores import s3

        return s3.from_options(config.id, options, **common)
    if isinstance(options, SwiftStoreOptions):
        from glimpse.stores import swift

        return swift.from_options(config.id, options, **common)
    from glimpse.stores import rbd

    return rbd.from_options(config.id, options, **common)


def build_registry(settings: Settings) -> StoreRegistry:
    stores = {
        name: build_store(config, chunk_size=settings.download_chunk_size) for name, config in settings.stores.items()
    }
    return StoreRegistry(stores, settings.default_backend)
