"""The OpenAPI 3.1 description of the Images API v2 as implemented, built from the same JSON Schemas the
server validates against. Served at /openapi.json; a test checks it covers exactly the live routes, so it
cannot drift.

One module per resource, each with ``components(schemas)`` (its named schemas) and ``describe(schemas)``
(its paths). A new resource adds its module and one line to :data:`RESOURCES`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from glimpse import __version__
from glimpse.api.http import json_response, services
from glimpse.api.openapi import (
    audit,
    cache,
    catalog,
    common,
    discovery,
    document,
    health,
    image_data,
    image_import,
    images,
    locations,
    members,
    metadefs,
    metrics,
    schemas,
    stores,
    tags,
    tasks,
    versions,
    webhooks,
)
from glimpse.api.openapi.common import Resource
from glimpse.services.schemas import Schemas

RESOURCES: tuple[Resource, ...] = (
    versions,
    document,
    health,
    metrics,
    images,
    image_data,
    image_import,
    locations,
    tasks,
    tags,
    members,
    schemas,
    discovery,
    stores,
    cache,
    metadefs,
    webhooks,
    catalog,
    audit,
)


def build_openapi(served: Schemas) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    components: dict[str, Any] = common.shared_components()
    for resource in RESOURCES:
        for name, schema in resource.components(served).items():
            if name in components:
                raise ValueError(f"OpenAPI component {name} described twice")
            components[name] = schema
    for resource in RESOURCES:
        for path, item in resource.describe(served).items():
            if path in paths:
                raise ValueError(f"OpenAPI path {path} described twice")
            paths[path] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Glimpse Images API v2",
            "version": __version__,
            "description": "The OpenStack Images API v2 as implemented by Glimpse.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}},
        },
        "security": [{"token": []}],
    }


async def show(request: Request) -> Response:
    return json_response(build_openapi(services(request).schemas))
