"""What the Applications list shows, whatever its source: local artifacts of every enabled type (or plain images
when no artifact type is enabled) and, when a remote catalog service is wired into the services, its assets.

The remote side is one seam: ``remote_catalog(svc)`` returns a ``RemoteCatalog`` over the catalogs the server
subscribes to (``Services.catalog``), or None when there are none; the page then says that no remote catalog is
configured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote

from glimpse.container import Services
from glimpse.context import RequestContext
from glimpse.domain.catalog import ARTIFACT_TYPES
from glimpse.domain.images import Image
from glimpse.services.catalog.subscribe import CatalogService

PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class AssetView:
    source: str  # "local" or "remote"
    type: str
    id: str
    name: str
    version: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    status: str = ""
    visibility: str = ""
    owner: str = ""
    link: str = ""  # a dashboard path (the mount prefix is added when rendered)


@dataclass(frozen=True, slots=True)
class AssetQuery:
    text: str = ""
    type: str = ""
    tag: str = ""
    marker: str = ""
    limit: int = PAGE_SIZE


@dataclass(frozen=True, slots=True)
class AssetPage:
    assets: list[AssetView] = field(default_factory=list)
    next_marker: str | None = None


@runtime_checkable
class RemoteCatalog(Protocol):
    async def browse(self, ctx: RequestContext, query: AssetQuery) -> AssetPage:
        """A page of the remote catalog's assets matching ``query`` (source "remote")."""
        ...


class SubscribedCatalogs:
    """The remote catalogs this server subscribes to (``[catalog] remotes``), browsed from their last verified
    index (services/catalog): search is the catalog's own, paging an offset over its answer. Remote assets have
    no tags: a tag filter matches none of them."""

    def __init__(self, catalog: CatalogService) -> None:
        self.catalog = catalog

    async def browse(self, ctx: RequestContext, query: AssetQuery) -> AssetPage:
        if query.tag:
            return AssetPage()
        kind = REMOTE_TYPES.get(query.type, query.type) if query.type else None
        found = await self.catalog.search(ctx, query=query.text or None, kind=kind, limit=None)
        start = int(query.marker) if query.marker.isdigit() else 0
        chosen = found[start : start + query.limit]
        views = [
            AssetView(source="remote", type=asset.type, id=f"{remote}:{asset.ref}", name=asset.name,
                      version=asset.version, description=asset.metadata.get("description", ""), status=remote,
                      link=f"/remote/{quote(remote)}/{quote(asset.name)}/{quote(asset.version)}")
            for remote, asset in chosen
        ]  # fmt: skip
        more = start + query.limit < len(found)
        return AssetPage(views, str(start + query.limit) if more else None)


REMOTE_TYPES = {artifact: kind for kind, (artifact, _) in ARTIFACT_TYPES.items() if artifact != "all"}
REMOTE_TYPES["images"] = REMOTE_TYPES["image"] = "image"
"""A local type filter (an artifact type) as the catalog's asset type."""


def remote_catalog(svc: Services) -> RemoteCatalog | None:
    if svc.catalog.remote_names():
        return SubscribedCatalogs(svc.catalog)
    return None


def artifact_types(svc: Services) -> list[str]:
    """The enabled artifact types (without Glare's pseudo-type ``all``)."""
    return sorted(name for name in svc.artifacts.types.names() if name != "all")


def artifacts_enabled(svc: Services) -> bool:
    return bool(artifact_types(svc))


def local_types(svc: Services) -> list[str]:
    return artifact_types(svc) or ["image"]


async def local_assets(svc: Services, ctx: RequestContext, query: AssetQuery) -> AssetPage:
    if artifacts_enabled(svc):
        return await _artifacts(svc, ctx, query)
    return await _images(svc, ctx, query)


async def _artifacts(svc: Services, ctx: RequestContext, query: AssetQuery) -> AssetPage:
    # newest change first; every key descending and never NULL, so one index (artifacts' updated_at, created_at,
    # id: migration 0016) serves the order and a marker's page starts at the marker
    params = [("limit", str(query.limit)), ("sort", "updated_at:desc,created_at:desc,id:desc")]
    if query.text:
        escaped = query.text.replace("%", "").replace("_", "")
        params.append(("name", f"like:%{escaped}%"))
    if query.tag:
        params.append(("tags", query.tag))
    if query.marker:
        params.append(("marker", query.marker))
    page = await svc.artifacts.list(ctx, query.type or "all", params, summary=True)
    return AssetPage([artifact_view(item, query.type) for item in page.artifacts], page.next_marker)


def artifact_view(item: dict[str, Any], type_name: str = "") -> AssetView:
    kind = str(item.get("type_name") or type_name)
    return AssetView(
        source="local", type=kind, id=str(item["id"]), name=str(item.get("name") or ""),
        version=str(item.get("version") or ""), description=str(item.get("description") or ""),
        tags=tuple(sorted(str(tag) for tag in item.get("tags") or ())), status=str(item.get("status") or ""),
        visibility=str(item.get("visibility") or ""), owner=str(item.get("owner") or ""),
        link=f"/apps/{kind}/{item['id']}",
    )  # fmt: skip


async def _images(svc: Services, ctx: RequestContext, query: AssetQuery) -> AssetPage:
    """Without artifacts the local assets are images; Glance's list matches names exactly."""
    params = [("limit", str(query.limit))]
    if query.text:
        params.append(("name", query.text))
    if query.tag:
        params.append(("tag", query.tag))
    if query.marker:
        params.append(("marker", query.marker))
    page = await svc.images.list(ctx, params)
    return AssetPage([image_view(image) for image in page.images], page.next_marker)


def image_view(image: Image) -> AssetView:
    return AssetView(
        source="local", type="image", id=image.id, name=image.name or "", version="",
        description=image.properties.get("description", ""), tags=tuple(sorted(image.tags)),
        status=image.status.value, visibility=image.visibility.value, owner=image.owner or "",
        link=f"/images/{image.id}",
    )  # fmt: skip
