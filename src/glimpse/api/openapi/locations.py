"""``/v2/images/{image_id}/locations`` (API 2.17): list and add an image's locations."""

from __future__ import annotations

from typing import Any

from glimpse.api.openapi.common import ACCEPTED, IMAGE_ID, errors, json_body, json_response
from glimpse.services.schemas import Schemas


def components(schemas: Schemas) -> dict[str, Any]:
    return {
        "LocationAdd": {
            "type": "object",
            "required": ["url"],
            "properties": {
                "url": {"type": "string", "minLength": 1, "maxLength": 255},
                "validation_data": {
                    "type": "object",
                    "properties": {"os_hash_algo": {"type": "string"}, "os_hash_value": {"type": "string"}},
                },
            },
        },
        "Locations": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["url", "metadata"],
                "properties": {
                    "url": {"type": "string"},
                    "metadata": {"type": "object", "properties": {"store": {"type": "string"}}},
                },
            },
        },
    }


def describe(schemas: Schemas) -> dict[str, Any]:
    return {
        "/v2/images/{image_id}/locations": {
            "parameters": [IMAGE_ID],
            "get": {
                "operationId": "listImageLocations",
                "responses": {"200": json_response("Locations"), **errors(403, 404)},
            },
            "post": {
                "operationId": "addImageLocation",
                "requestBody": json_body("LocationAdd"),
                "responses": {"202": ACCEPTED, **errors(403, 404, 409, 413, 415)},
            },
        }
    }
