"""Interoperable import: ``/stage``, ``/import`` and ``/v2/info/import``."""

from __future__ import annotations

from typing import Any

from glimpse.api.openapi.common import (
    ACCEPTED,
    IMAGE_ID,
    IMAGE_SIZE,
    NO_CONTENT,
    OCTETS,
    errors,
    json_body,
    json_response,
)
from glimpse.services.schemas import Schemas


def components(schemas: Schemas) -> dict[str, Any]:
    return {
        "ImportRequest": {
            "type": "object",
            "required": ["method"],
            "properties": {
                "method": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}, "uri": {"type": "string"}},
                },
                "stores": {"type": "array", "items": {"type": "string"}},
                "all_stores": {"type": "boolean"},
                "all_stores_must_succeed": {"type": "boolean"},
            },
        }
    }


def describe(schemas: Schemas) -> dict[str, Any]:
    return {
        "/v2/images/{image_id}/stage": {
            "parameters": [IMAGE_ID],
            "put": {
                "operationId": "stageImage",
                "requestBody": OCTETS,
                "parameters": [IMAGE_SIZE],
                "responses": {"204": NO_CONTENT, **errors(403, 404, 409, 413, 415)},
            },
        },
        "/v2/images/{image_id}/import": {
            "parameters": [IMAGE_ID],
            "post": {
                "operationId": "importImage",
                "requestBody": json_body("ImportRequest"),
                "responses": {"202": ACCEPTED, **errors(403, 404, 409, 413, 415)},
            },
        },
        "/v2/info/import": {
            "get": {"operationId": "getImportInfo", "responses": {"200": json_response("Schema"), **errors()}}
        },
    }
