"""/catalog/v1/assets and /catalog/v1/remotes: parse, one service call, serialize."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import context, json_body, json_response, services
from glimpse.db.repositories.catalog import RemoteState
from glimpse.domain.catalog import Asset, AssetRef, CatalogError
from glimpse.domain.tasks import Task


def _time(value: Any) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def present_asset(remote: str, asset: Asset) -> dict[str, Any]:
    return {
        "catalog": remote,
        "name": asset.name,
        "version": asset.version,
        "type": asset.type,
        "sha256": asset.sha256,
        "size": asset.length,
        "depends": [str(d) for d in asset.depends],
        **dict(asset.metadata),
    }


def present_remote(state: RemoteState) -> dict[str, Any]:
    return {
        "name": state.name,
        "url": state.url,
        "root_version": state.root_version,
        "targets_version": state.targets_version,
        "timestamp_version": state.timestamp_version,
        "expires_at": _time(state.expires_at),
        "signers": list(state.signers),
        "refreshed_at": _time(state.refreshed_at),
        "attempted_at": _time(state.attempted_at),
        "last_error": state.last_error,
    }


def _ref(request: Request) -> AssetRef:
    try:
        return AssetRef(request.path_params["name"], request.path_params["version"])
    except KeyError as exc:  # pragma: no cover - the route always has both
        raise CatalogError("an asset is named by its name and version") from exc


async def index(request: Request) -> Response:
    q = request.query_params
    found = await services(request).catalog.search(
        context(request), query=q.get("q") or None, kind=q.get("type") or None, name=q.get("name") or None,
        catalog=q.get("catalog") or None,
    )  # fmt: skip
    return json_response({"assets": [present_asset(remote, asset) for remote, asset in found]})


async def show(request: Request) -> Response:
    remote, asset = await services(request).catalog.show(context(request), _ref(request),
                                                         request.query_params.get("catalog") or None)  # fmt: skip
    return json_response(present_asset(remote, asset))


async def remotes(request: Request) -> Response:
    states = await services(request).catalog.remotes(context(request))
    return json_response({"remotes": [present_remote(s) for s in states]})


async def refresh(request: Request) -> Response:
    svc = services(request).catalog
    svc.policy.enforce(context(request), "catalog:refresh")
    reports = await svc.refresh()
    return json_response({"remotes": [{"name": r.remote, "ok": r.ok, "assets": r.assets, "error": r.message}
                                      for r in reports]})  # fmt: skip


def present_install(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "status": task.status.value,
        "asset": f"{task.input.get('name')}@{task.input.get('version')}",
        "catalog": task.input.get("catalog"),
        "progress": {"done": task.bytes_done, "total": task.bytes_total},
        "result": task.result,
        "message": task.message,
        "created_at": _time(task.created_at),
        "updated_at": _time(task.updated_at),
    }


async def install(request: Request) -> Response:
    catalog = None
    if await request.body():
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("catalog", ""), str):
            raise CatalogError('The body is {"catalog": "<name>"} or empty')
        catalog = body.get("catalog") or None
    task = await services(request).catalog_installs.start(context(request), _ref(request), catalog)
    return json_response(present_install(task), status=202,
                         headers={"Location": f"/catalog/v1/installs/{task.id}"})  # fmt: skip


async def show_install(request: Request) -> Response:
    task = await services(request).catalog_installs.show(context(request), request.path_params["task_id"])
    return json_response(present_install(task))
