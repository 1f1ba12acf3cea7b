"""``/v2/cache``: the image cache API (2.14-2.18): list, queue, delete, clear, clean, prune, nodes."""

from __future__ import annotations

from typing import Any

from glimpse.api.openapi.common import ACCEPTED, IMAGE_ID, NO_CONTENT, errors, json_response
from glimpse.services.schemas import Schemas


def components(schemas: Schemas) -> dict[str, Any]:
    entry = {
        "type": "object",
        "properties": {
            "image_id": {"type": "string"},
            "last_accessed": {"type": "number"},
            "last_modified": {"type": "number"},
            "size": {"type": "integer"},
            "hits": {"type": "integer"},
            "checksum": {"type": ["string", "null"]},
        },
    }
    return {
        "CacheState": {
            "type": "object",
            "properties": {
                "cached_images": {"type": "array", "items": entry},
                "queued_images": {"type": "array", "items": {"type": "string"}},
            },
        },
        "CachePruned": {
            "type": "object",
            "properties": {"total_files_pruned": {"type": "integer"}, "total_bytes_pruned": {"type": "integer"}},
        },
        "CacheNodes": {"type": "array", "items": {"type": "string"}},
    }


def describe(schemas: Schemas) -> dict[str, Any]:
    clear_target = {
        "name": "x-image-cache-clear-target",
        "in": "header",
        "schema": {"type": "string", "enum": ["", "cache", "queue"]},
    }
    return {
        "/v2/cache": {
            "get": {"operationId": "listCache", "responses": {"200": json_response("CacheState"), **errors(403, 404)}},
            "delete": {
                "operationId": "clearCache",
                "parameters": [clear_target],
                "responses": {"204": NO_CONTENT, **errors(400, 403, 404)},
            },
        },
        "/v2/cache/clean": {
            "post": {"operationId": "cleanCache", "responses": {"200": {"description": "OK"}, **errors(403, 404)}}
        },
        "/v2/cache/prune": {
            "post": {
                "operationId": "pruneCache",
                "responses": {"200": json_response("CachePruned"), **errors(403, 404)},
            }
        },
        "/v2/cache/nodes/{image_id}": {
            "parameters": [IMAGE_ID],
            "get": {
                "operationId": "listCachedNodes",
                "responses": {"200": json_response("CacheNodes"), **errors(403, 404)},
            },
        },
        "/v2/cache/{image_id}": {
            "parameters": [IMAGE_ID],
            "put": {"operationId": "queueImage", "responses": {"202": ACCEPTED, **errors(400, 403, 404)}},
            "delete": {"operationId": "deleteCachedImage", "responses": {"204": NO_CONTENT, **errors(403, 404)}},
        },
    }
