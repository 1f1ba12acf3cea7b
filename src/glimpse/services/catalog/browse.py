"""The subscribed catalogs' verified index as searches read it: parsed once per refresh, kept in memory.

Every browse and search (the Applications page, ``/catalog/v1/assets``, ``glimpse catalog search``) used to load
and parse a remote's whole index from ``catalog_assets`` (1,000 rows with their JSON: about 20 ms of the page's CPU
at 1,000 assets). Now each process keeps each remote's assets, in the index's order, with the text a search looks
in, under the remote's stamp (the targets version and the time of its last good refresh, from
``catalog_remotes``). A search reads the stamps (one small row per remote) and reloads only a remote whose stamp
changed: a refresh by any process (a worker, another node) is seen by the next search everywhere, and nothing
is stale for longer than the transaction that wrote it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from glimpse.db.repositories.catalog import CatalogRepository, IndexStamp
from glimpse.domain.catalog import Asset


@dataclass(frozen=True, slots=True)
class Indexed:
    asset: Asset
    haystack: str  # what a search's text is looked for in: the name and the description, lower case


def _indexed(asset: Asset) -> Indexed:
    return Indexed(asset, f"{asset.name}\n{asset.metadata.get('description', '')}".lower())


@dataclass(frozen=True, slots=True)
class _Entry:
    stamp: IndexStamp | None
    assets: tuple[Indexed, ...]


class IndexCache:
    """Per process: each remote's parsed index under its stamp. ``load`` runs in a database transaction."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def load(self, repo: CatalogRepository, remotes: Sequence[str]) -> list[tuple[str, Indexed]]:
        """Every asset of ``remotes`` (in that order, each remote's in its index's order), reloading a remote's
        index only when its stamp is not the one kept."""
        stamps = repo.stamps(remotes)
        found: list[tuple[str, Indexed]] = []
        for remote in remotes:
            stamp = stamps.get(remote)
            entry = self._entries.get(remote)
            if entry is None or entry.stamp != stamp:
                assets = repo.assets([remote], limit=None) if stamp is not None else []
                entry = _Entry(stamp, tuple(_indexed(asset) for _, asset in assets))
                self._entries[remote] = entry
            found.extend((remote, item) for item in entry.assets)
        return found
