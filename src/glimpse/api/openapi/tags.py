"""``/v2/images/{image_id}/tags/{tag}``: add and delete one tag."""

from __future__ import annotations

from typing import Any

from glimpse.api.openapi.common import IMAGE_ID, NO_CONTENT, errors, path_param
from glimpse.services.schemas import Schemas


def components(schemas: Schemas) -> dict[str, Any]:
    return {}


def describe(schemas: Schemas) -> dict[str, Any]:
    return {
        "/v2/images/{image_id}/tags/{tag}": {
            "parameters": [IMAGE_ID, path_param("tag", "Tag")],
            "put": {"operationId": "addTag", "responses": {"204": NO_CONTENT, **errors(400, 403, 404, 413)}},
            "delete": {"operationId": "deleteTag", "responses": {"204": NO_CONTENT, **errors(403, 404)}},
        }
    }
