"""``/v2/images/{image_id}/file``: download (ranges too) and upload of an image's data."""

from __future__ import annotations

from typing import Any

from glimpse.api.openapi.common import BINARY, IMAGE_ID, IMAGE_SIZE, NO_CONTENT, OCTETS, errors
from glimpse.services.schemas import Schemas


def components(schemas: Schemas) -> dict[str, Any]:
    return {}


def describe(schemas: Schemas) -> dict[str, Any]:
    return {
        "/v2/images/{image_id}/file": {
            "parameters": [IMAGE_ID],
            "get": {
                "operationId": "downloadImage",
                "parameters": [{"name": "Range", "in": "header", "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "Image data", "content": {"application/octet-stream": BINARY}},
                    "206": {"description": "Partial image data", "content": {"application/octet-stream": BINARY}},
                    "204": NO_CONTENT,
                    **errors(403, 404, 416),
                },
            },
            "put": {
                "operationId": "uploadImage",
                "requestBody": OCTETS,
                "parameters": [
                    IMAGE_SIZE,
                    {"name": "X-Image-Meta-Store", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {"204": NO_CONTENT, **errors(400, 403, 404, 409, 413, 415)},
            },
        }
    }
