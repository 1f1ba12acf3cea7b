"""The OpenAPI 3.1 description of the Images API v2 as implemented, built from the route table and the
same JSON Schemas the server validates against. Served at /openapi.json; a test checks it covers exactly
the live routes, so it cannot drift."""

from __future__ import annotations

import copy
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from glimpse import __version__
from glimpse.api.http import json_response, services
from glimpse.services.schemas import Schemas

ERROR = {
    "description": "Error (webob-style body: text/plain by default, JSON with Accept: application/json)",
    "content": {
        "text/plain": {"schema": {"type": "string"}},
        "text/html": {"schema": {"type": "string"}},
        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}},
    },
}
NO_CONTENT = {"description": "No content"}


def _json(ref: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


def _errors(*codes: int) -> dict[str, Any]:
    # any request may be malformed (400), lack a valid token (401) or meet an unavailable database (503)
    return {str(code): ERROR for code in sorted({400, 401, 503, *codes})}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
        "description": description,
    }


IMAGE_ID = _path_param("image_id", "Image id")
MEMBER_ID = _path_param("member_id", "Member (project) id")

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


def _strip(schema: dict[str, Any]) -> dict[str, Any]:
    """A served Glance schema as an OpenAPI 3.1 (JSON Schema 2020-12) component."""
    result = copy.deepcopy(schema)
    result.pop("links", None)
    result["title"] = result.pop("name", "")
    return result


def build_openapi(schemas: Schemas) -> dict[str, Any]:
    image = _strip(schemas.image)
    create = {
        "type": "object",
        "properties": {name: image["properties"][name] for name in WRITABLE},
        "additionalProperties": {"type": "string", "maxLength": 65535},
    }
    patch_op = {
        "type": "object",
        "required": ["op", "path"],
        "properties": {
            "op": {"type": "string", "enum": ["add", "remove", "replace"]},
            "path": {"type": "string", "pattern": "^/"},
            "value": {},
        },
    }
    components = {
        "Image": image,
        "ImageCreate": create,
        "ImagePatch": {"type": "array", "items": patch_op},
        "Images": {
            "type": "object",
            "required": ["images", "first", "schema"],
            "properties": {
                "images": {"type": "array", "items": {"$ref": "#/components/schemas/Image"}},
                "first": {"type": "string"},
                "next": {"type": "string"},
                "schema": {"type": "string"},
            },
        },
        "Member": _strip(schemas.member),
        "Members": {
            "type": "object",
            "properties": {
                "members": {"type": "array", "items": {"$ref": "#/components/schemas/Member"}},
                "schema": {"type": "string"},
            },
        },
        "MemberCreate": {"type": "object", "required": ["member"], "properties": {"member": {"type": "string"}}},
        "MemberUpdate": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string", "enum": ["pending", "accepted", "rejected"]}},
        },
        "Stores": {"type": "object", "properties": {"stores": {"type": "array", "items": {"type": "object"}}}},
        "Usage": {
            "type": "object",
            "required": ["usage"],
            "properties": {
                "usage": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "required": ["limit", "usage"],
                        "properties": {"limit": {"type": "integer"}, "usage": {"type": "integer"}},
                    },
                }
            },
        },
        "Versions": {
            "type": "object",
            "properties": {
                "versions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "status": {"type": "string"},
                            "links": {"type": "array"},
                        },
                    },
                }
            },
        },
        "Schema": {"type": "object"},
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
        },
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
        "Task": {
            "type": "object",
            "required": ["id", "type", "status"],
            "properties": {
                "id": {"type": "string"},
                "type": {"type": "string", "enum": ["import", "api_image_import", "location_import"]},
                "status": {"type": "string", "enum": ["pending", "processing", "success", "failure"]},
                "input": {"type": "object"},
                "result": {"type": ["object", "null"]},
                "message": {"type": "string"},
            },
        },
        "TaskCreate": {
            "type": "object",
            "required": ["type", "input"],
            "properties": {"type": {"type": "string"}, "input": {"type": "object"}},
        },
        "Tasks": {
            "type": "object",
            "properties": {"tasks": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}}},
        },
        "Health": {
            "type": "object",
            "required": ["status", "database", "stores"],
            "properties": {
                "status": {"type": "string", "enum": ["ok", "error"]},
                "database": {"$ref": "#/components/schemas/ComponentHealth"},
                "stores": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/ComponentHealth"}},
            },
        },
        "ComponentHealth": {
            "type": "object",
            "required": ["status", "duration_ms"],
            "properties": {
                "status": {"type": "string", "enum": ["ok", "error"]},
                "duration_ms": {"type": "number"},
                "detail": {"type": "string"},
            },
        },
        "Error": {
            "type": "object",
            "properties": {"message": {"type": "string"}, "code": {"type": "string"}, "title": {"type": "string"}},
        },
    }
    json_body = {"required": True, "content": {"application/json": {"schema": {}}}}

    def body(ref: str, media: str = "application/json") -> dict[str, Any]:
        return {**json_body, "content": {media: {"schema": {"$ref": ref}}}}

    patch_body = {
        "required": True,
        "content": {
            "application/openstack-images-v2.1-json-patch": {"schema": {"$ref": "#/components/schemas/ImagePatch"}}
        },
    }
    octets = {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }

    paths: dict[str, Any] = {
        "/": {
            "get": {
                "operationId": "listVersions",
                "security": [],
                "responses": {"300": _json("#/components/schemas/Versions", "Multiple choices")},
            }
        },
        "/versions": {
            "get": {
                "operationId": "getVersions",
                "security": [],
                "responses": {"200": _json("#/components/schemas/Versions")},
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "getOpenAPI",
                "security": [],
                "responses": {"200": _json("#/components/schemas/Schema")},
            }
        },
        "/healthcheck": {
            "get": {
                "operationId": "getHealth",
                "security": [],
                "responses": {
                    "200": _json("#/components/schemas/Health", "The database and every store are healthy"),
                    "503": _json("#/components/schemas/Health", "The database or a store is unhealthy"),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "getMetrics",
                "security": [],
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition (OpenMetrics when the Accept header asks for it)",
                        "content": {
                            "text/plain": {"schema": {"type": "string"}},
                            "application/openmetrics-text": {"schema": {"type": "string"}},
                        },
                    }
                },
            }
        },
        "/v2/images": {
            "get": {
                "operationId": "listImages",
                "parameters": _LIST_PARAMS,
                "responses": {"200": _json("#/components/schemas/Images"), **_errors(400, 403)},
            },
            "post": {
                "operationId": "createImage",
                "requestBody": body("#/components/schemas/ImageCreate"),
                "responses": {
                    "201": _json("#/components/schemas/Image", "Created"),
                    **_errors(400, 403, 409, 413, 415),
                },
            },
        },
        "/v2/images/{image_id}": {
            "parameters": [IMAGE_ID],
            "get": {
                "operationId": "showImage",
                "responses": {"200": _json("#/components/schemas/Image"), **_errors(404)},
            },
            "patch": {
                "operationId": "updateImage",
                "requestBody": patch_body,
                "responses": {"200": _json("#/components/schemas/Image"), **_errors(400, 403, 404, 409, 413, 415)},
            },
            "delete": {"operationId": "deleteImage", "responses": {"204": NO_CONTENT, **_errors(403, 404)}},
        },
        "/v2/images/{image_id}/file": {
            "parameters": [IMAGE_ID],
            "get": {
                "operationId": "downloadImage",
                "parameters": [{"name": "Range", "in": "header", "schema": {"type": "string"}}],
                "responses": {
                    "200": {
                        "description": "Image data",
                        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "206": {
                        "description": "Partial image data",
                        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "204": NO_CONTENT,
                    **_errors(403, 404, 416),
                },
            },
            "put": {
                "operationId": "uploadImage",
                "requestBody": octets,
                "parameters": [
                    {"name": "x-openstack-image-size", "in": "header", "schema": {"type": "integer", "minimum": 0}},
                    {"name": "X-Image-Meta-Store", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {"204": NO_CONTENT, **_errors(400, 403, 404, 409, 413, 415)},
            },
        },
        "/v2/images/{image_id}/stage": {
            "parameters": [IMAGE_ID],
            "put": {
                "operationId": "stageImage",
                "requestBody": octets,
                "parameters": [
                    {"name": "x-openstack-image-size", "in": "header", "schema": {"type": "integer", "minimum": 0}}
                ],
                "responses": {"204": NO_CONTENT, **_errors(403, 404, 409, 413, 415)},
            },
        },
        "/v2/images/{image_id}/import": {
            "parameters": [IMAGE_ID],
            "post": {
                "operationId": "importImage",
                "requestBody": body("#/components/schemas/ImportRequest"),
                "responses": {"202": {"description": "Accepted"}, **_errors(403, 404, 409, 413, 415)},
            },
        },
        "/v2/images/{image_id}/tasks": {
            "parameters": [IMAGE_ID],
            "get": {
                "operationId": "listImageTasks",
                "responses": {"200": _json("#/components/schemas/Tasks"), **_errors(403, 404)},
            },
        },
        "/v2/images/{image_id}/locations": {
            "parameters": [IMAGE_ID],
            "get": {
                "operationId": "listImageLocations",
                "responses": {"200": _json("#/components/schemas/Locations"), **_errors(403, 404)},
            },
            "post": {
                "operationId": "addImageLocation",
                "requestBody": body("#/components/schemas/LocationAdd"),
                "responses": {"202": {"description": "Accepted"}, **_errors(403, 404, 409, 413, 415)},
            },
        },
        "/v2/tasks": {
            "get": {
                "operationId": "listTasks",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                    {"name": "marker", "in": "query", "schema": {"type": "string"}},
                    {"name": "sort_dir", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"]}},
                    {"name": "status", "in": "query", "schema": {"type": "string"}},
                    {"name": "type", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": _json("#/components/schemas/Tasks"), **_errors(403)},
            },
            "post": {
                "operationId": "createTask",
                "requestBody": body("#/components/schemas/TaskCreate"),
                "responses": {"201": _json("#/components/schemas/Task", "Created"), **_errors(403, 409, 413, 415)},
            },
        },
        "/v2/tasks/{task_id}": {
            "parameters": [_path_param("task_id", "Task id")],
            "get": {
                "operationId": "showTask",
                "responses": {"200": _json("#/components/schemas/Task"), **_errors(403, 404)},
            },
        },
        "/v2/info/import": {
            "get": {
                "operationId": "getImportInfo",
                "responses": {"200": _json("#/components/schemas/Schema"), **_errors()},
            }
        },
        "/v2/images/{image_id}/actions/deactivate": {
            "parameters": [IMAGE_ID],
            "post": {"operationId": "deactivateImage", "responses": {"204": NO_CONTENT, **_errors(403, 404)}},
        },
        "/v2/images/{image_id}/actions/reactivate": {
            "parameters": [IMAGE_ID],
            "post": {"operationId": "reactivateImage", "responses": {"204": NO_CONTENT, **_errors(403, 404)}},
        },
        "/v2/images/{image_id}/tags/{tag}": {
            "parameters": [IMAGE_ID, _path_param("tag", "Tag")],
            "put": {"operationId": "addTag", "responses": {"204": NO_CONTENT, **_errors(400, 403, 404, 413)}},
            "delete": {"operationId": "deleteTag", "responses": {"204": NO_CONTENT, **_errors(403, 404)}},
        },
        "/v2/images/{image_id}/members": {
            "parameters": [IMAGE_ID],
            "get": {
                "operationId": "listMembers",
                "responses": {"200": _json("#/components/schemas/Members"), **_errors(403, 404)},
            },
            "post": {
                "operationId": "createMember",
                "requestBody": body("#/components/schemas/MemberCreate"),
                "responses": {"200": _json("#/components/schemas/Member"), **_errors(400, 403, 404, 409, 413, 415)},
            },
        },
        "/v2/images/{image_id}/members/{member_id}": {
            "parameters": [IMAGE_ID, MEMBER_ID],
            "get": {
                "operationId": "showMember",
                "responses": {"200": _json("#/components/schemas/Member"), **_errors(403, 404)},
            },
            "put": {
                "operationId": "updateMember",
                "requestBody": body("#/components/schemas/MemberUpdate"),
                "responses": {"200": _json("#/components/schemas/Member"), **_errors(400, 403, 404, 413, 415)},
            },
            "delete": {"operationId": "deleteMember", "responses": {"204": NO_CONTENT, **_errors(403, 404)}},
        },
        "/v2/schemas/{name}": {
            "parameters": [_path_param("name", "image, images, member or members")],
            "get": {
                "operationId": "showSchema",
                "responses": {"200": _json("#/components/schemas/Schema"), **_errors(404)},
            },
        },
        "/v2/info/stores": {
            "get": {
                "operationId": "listStores",
                "responses": {"200": _json("#/components/schemas/Stores"), **_errors()},
            }
        },
        "/v2/info/stores/detail": {
            "get": {
                "operationId": "listStoresDetail",
                "responses": {"200": _json("#/components/schemas/Stores"), **_errors(403)},
            }
        },
        "/v2/info/usage": {
            "get": {
                "operationId": "getUsage",
                "responses": {"200": _json("#/components/schemas/Usage"), **_errors(403)},
            }
        },
        "/v2/stores/{store_id}/{image_id}": {
            "parameters": [_path_param("store_id", "Store id"), IMAGE_ID],
            "delete": {
                "operationId": "deleteImageFromStore",
                "responses": {"204": NO_CONTENT, **_errors(403, 404, 409)},
            },
        },
    }
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
