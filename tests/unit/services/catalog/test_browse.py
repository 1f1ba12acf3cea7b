"""The parsed remote index: loaded once per refresh, and a refresh by any process is seen by the next search."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from glimpse.container import Services
from glimpse.db.repositories.catalog import CatalogRepository, Verified
from glimpse.domain.catalog import Asset
from glimpse.services.catalog.browse import IndexCache, Indexed

NOW = datetime(2026, 12, 6, 12, 0)


def _asset(name: str, description: str = "") -> Asset:
    return Asset("heat-template", name, "1.0", f"assets/{name}/1.0/t.yaml", "0" * 64, 10, (),
                 {"description": description} if description else {})  # fmt: skip


def _refresh(services: Services, version: int, assets: list[Asset], when: datetime) -> None:
    """What a refresh by any process writes: the remote's state and its whole index, in one transaction."""
    verified = Verified(1, version, version, NOW + timedelta(days=1), ("key",), assets)
    services.db.run_sync(lambda s: CatalogRepository(s).record_refresh("pub", "https://pub.example", verified, when))


def _load(services: Services, cache: IndexCache, remotes: list[str]) -> list[tuple[str, Indexed]]:
    def work(session: Session) -> list[tuple[str, Indexed]]:
        return cache.load(CatalogRepository(session), remotes)

    found: list[tuple[str, Indexed]] = services.db.run_sync(work)
    return found


def test_each_refresh_is_parsed_once_and_seen_by_every_process(services: Services) -> None:
    this, other = IndexCache(), IndexCache()  # two processes' caches over one database
    assert _load(services, this, ["pub", "never"]) == []
    _refresh(services, 2, [_asset("wordpress", "A Blog"), _asset("cirros")], NOW)
    first = _load(services, this, ["pub", "never"])
    assert [(remote, item.asset.name) for remote, item in first] == [("pub", "cirros"), ("pub", "wordpress")]
    assert first[1][1].haystack == "wordpress\na blog"
    again = _load(services, this, ["pub"])
    assert all(a[1] is b[1] for a, b in zip(first, again, strict=True))  # not loaded again
    assert [item.asset.name for _, item in _load(services, other, ["pub"])] == ["cirros", "wordpress"]
    # another process refreshes (same targets version, a later refresh): both see it on their next search
    _refresh(services, 2, [_asset("cirros")], NOW + timedelta(seconds=1))
    assert [item.asset.name for _, item in _load(services, this, ["pub"])] == ["cirros"]
    _refresh(services, 3, [_asset("cirros"), _asset("joomla")], NOW + timedelta(seconds=1))
    assert [item.asset.name for _, item in _load(services, other, ["pub"])] == ["cirros", "joomla"]
    assert [item.asset.name for _, item in _load(services, this, ["pub"])] == ["cirros", "joomla"]
