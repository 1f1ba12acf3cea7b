"""The Applications pages: local and remote assets in one list (source, search, type and tag filters, paging),
and an asset's detail (a Heat template's with its Launch link)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from glimpse.api.dashboard.assets import (
    AssetPage,
    AssetQuery,
    artifacts_enabled,
    local_assets,
    local_types,
    remote_catalog,
)
from glimpse.api.dashboard.pages import Call
from glimpse.errors import BadRequest, GlimpseError

SOURCES = ("all", "local", "remote")


async def index(call: Call) -> Response:
    source = call.query("source", "all")
    if source not in SOURCES:
        raise BadRequest(f"Unknown source {source!r}: one of {', '.join(SOURCES)}")
    kind = call.query("type")
    if kind and kind not in local_types(call.svc) and kind != "image":
        raise BadRequest(f"Unknown asset type {kind!r}")
    text, tag = call.query("q"), call.query("tag")
    chosen = {name: value for name, value in (("q", text), ("type", kind), ("tag", tag), ("source", source)) if value}
    remote = remote_catalog(call.svc)
    local = remote_page = None
    error = ""
    try:
        if source in ("all", "local"):
            local = await local_assets(call.svc, call.ctx, AssetQuery(text, kind, tag, call.query("marker")))
        if source in ("all", "remote") and remote is not None:
            remote_page = await remote.browse(call.ctx, AssetQuery(text, kind, tag, call.query("remote_marker")))
    except BadRequest as exc:
        error = exc.message
    return call.render(
        "apps.html", local=local or AssetPage(), remote=remote_page or AssetPage(),
        remote_configured=remote is not None, source=source, sources=SOURCES, type=kind, types=local_types(call.svc),
        q=text, tag=tag, error=error, artifacts=artifacts_enabled(call.svc),
        local_links=call.pager("/apps", chosen, "marker", (local or AssetPage()).next_marker),
        remote_links=call.pager("/apps", chosen, "remote_marker", (remote_page or AssetPage()).next_marker),
    )  # fmt: skip


async def show(call: Call) -> Response:
    type_name, artifact_id = call.request.path_params["type_name"], call.request.path_params["artifact_id"]
    if type_name == "image":
        return call.redirect(f"/images/{artifact_id}")
    artifact = await call.svc.artifacts.show(call.ctx, type_name, artifact_id)
    versions: list[dict[str, Any]] = []
    try:  # every version of the same name the caller may see
        page = await call.svc.artifacts.list(call.ctx, type_name, [("name", str(artifact["name"])), ("limit", "50")])
        versions = page.artifacts
    except GlimpseError:
        versions = []
    blobs = {name: value for name, value in artifact.items() if isinstance(value, dict) and "sha256" in value}
    shown = ("id", "name", "version", "type_name", "status", "visibility", "owner", "description", "created_at",
             "updated_at", "activated_at", "license", "license_url", "provided_by", "supported_by", "release")
    extra = {name: value for name, value in artifact.items()
             if name not in shown and name not in blobs and name not in ("tags", "metadata", "icon")
             and value not in (None, "", [], {})}  # fmt: skip
    return call.render("asset.html", artifact=artifact, type_name=type_name, versions=versions, blobs=blobs,
                       extra=extra)  # fmt: skip
