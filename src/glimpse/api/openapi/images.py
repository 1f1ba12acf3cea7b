"""``/v2/images``, one image, and its deactivate / reactivate actions."""

from __future__ import annotations

from typing import Any

from glimpse.api.openapi.common import IMAGE_ID, NO_CONTENT, errors, json_body, json_response, ref, strip
from glimpse.services.schemas import Schemas

WRITABLE = (
    "id",
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "container_format",
    "disk_format",
    "min_disk",
    "min_ram",
    "tags",
    "owner",
)

_LIST_PARAMS: list[dict[str, Any]] = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    {"name": "marker", "in": "query", "schema": {"type": "string"}},
    {"name": "sort_key", "in": "query", "schema": {"type": "string"}},
    {"name": "sort_dir", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"]}},
    {"name": "sort", "in": "query", "schema": {"type": "string"}},
    {"name": "name", "in": "query", "schema": {"type": "string"}},
    {"name": "owner", "in": "query", "schema": {"type": "string"}},
    {"name": "status", "in": "query", "schema": {"type": "string"}},
    {
        "name": "visibility",
        "in": "query",
        "schema": {"type": "string", "enum": ["public", "private", "shared", "community", "all"]},
    },
    {
        "name": "member_status",
        "in": "query",
        "schema": {"type": "string", "enum": ["pending", "accepted", "rejected", "all"]},
    },
    {
        "name": "tag",
        "in": "query",
        "schema": {"type": "array", "items": {"type": "string"}},
        "style": "form",
        "explode": True,
    },
    {"name": "size_min", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    {"name": "size_max", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    {"name": "created_at", "in": "query", "schema": {"type": "string"}},
    {"name": "updated_at", "in": "query", "schema": {"type": "string"}},
    {"name": "os_hidden", "in": "query", "schema": {"type": "boolean"}},
    {"name": "protected", "in": "query", "schema": {"type": "boolean"}},
]

_PATCH_MEDIA = "application/openstack-images-v2.1-json-patch"


def components(schemas: Schemas) -> dict[str, Any]:
    image = strip(schemas.image)
    patch_op = {
        "type": "object",
        "required": ["op", "path"],
        "properties": {
            "op": {"type": "string", "enum": ["add", "remove", "replace"]},
            "path": {"type": "string", "pattern": "^/"},
            "value": {},
        },
    }
    return {
        "Image": image,
        "ImageCreate": {
            "type": "object",
            "properties": {name: image["properties"][name] for name in WRITABLE},
            "additionalProperties": {"type": "string", "maxLength": 65535},
        },
        "ImagePatch": {"type": "array", "items": patch_op},
        "Images": {
            "type": "object",
            "required": ["images", "first", "schema"],
            "properties": {
                "images": {"type": "array", "items": ref("Image")},
                "first": {"type": "string"},
                "next": {"type": "string"},
                "schema": {"type": "string"},
            },
        },
    }


def _action(operation_id: str) -> dict[str, Any]:
    return {
        "parameters": [IMAGE_ID],
        "post": {"operationId": operation_id, "responses": {"204": NO_CONTENT, **errors(403, 404)}},
    }


def describe(schemas: Schemas) -> dict[str, Any]:
    return {
        "/v2/images": {
            "get": {
                "operationId": "listImages",
                "parameters": _LIST_PARAMS,
                "responses": {"200": json_response("Images"), **errors(400, 403)},
            },
            "post": {
                "operationId": "createImage",
                "requestBody": json_body("ImageCreate"),
                "responses": {"201": json_response("Image", "Created"), **errors(400, 403, 409, 413, 415)},
            },
        },
        "/v2/images/{image_id}": {
            "parameters": [IMAGE_ID],
            "get": {"operationId": "showImage", "responses": {"200": json_response("Image"), **errors(404)}},
            "patch": {
                "operationId": "updateImage",
                "requestBody": {"required": True, "content": {_PATCH_MEDIA: {"schema": ref("ImagePatch")}}},
                "responses": {"200": json_response("Image"), **errors(400, 403, 404, 409, 413, 415)},
            },
            "delete": {"operationId": "deleteImage", "responses": {"204": NO_CONTENT, **errors(403, 404)}},
        },
        "/v2/images/{image_id}/actions/deactivate": _action("deactivateImage"),
        "/v2/images/{image_id}/actions/reactivate": _action("reactivateImage"),
    }
