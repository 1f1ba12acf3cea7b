"""A remote catalog asset's page: what the catalog's signed index says of one version (type, digest, size,
dependencies, metadata), how that index was verified (the catalog's TUF metadata versions, signing keys, expiry,
last refresh), the other versions of the same name, and its Install form."""

from __future__ import annotations

from starlette.responses import Response

from glimpse.api.dashboard.pages import Call
from glimpse.domain.catalog import AssetRef, check_name, check_version
from glimpse.errors import NotFound

SHOWN_METADATA = ("description", "license", "provider", "release", "icon")


async def show(call: Call) -> Response:
    params = call.request.path_params
    catalog = str(params["catalog"])
    ref = AssetRef(check_name(str(params["name"])), check_version(str(params["version"])))
    if catalog not in call.svc.catalog.remote_names():
        raise NotFound(f"No remote catalog is named {catalog!r}")
    _, asset = await call.svc.catalog.show(call.ctx, ref, catalog)
    versions = [found for _, found in await call.svc.catalog.search(call.ctx, name=asset.name, catalog=catalog)]
    state = next((known for known in await call.svc.catalog.remotes(call.ctx) if known.name == catalog), None)
    other = {key: value for key, value in asset.metadata.items() if key not in SHOWN_METADATA}
    return call.render("remote_asset.html", catalog=catalog, asset=asset, state=state, other=other,
                       versions=sorted(versions, key=lambda found: found.version))  # fmt: skip
