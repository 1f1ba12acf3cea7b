"""``/v2/stores/{store_id}/{image_id}``: delete an image's copy from one store."""

from __future__ import annotations

from typing import Any

from glimpse.api.openapi.common import IMAGE_ID, NO_CONTENT, errors, path_param
from glimpse.services.schemas import Schemas


def components(schemas: Schemas) -> dict[str, Any]:
    return {}


def describe(schemas: Schemas) -> dict[str, Any]:
    return {
        "/v2/stores/{store_id}/{image_id}": {
            "parameters": [path_param("store_id", "Store id"), IMAGE_ID],
            "delete": {
                "operationId": "deleteImageFromStore",
                "responses": {"204": NO_CONTENT, **errors(403, 404, 409)},
            },
        }
    }
