"""``/v2/metadefs/*`` and ``/v2/schemas/metadefs/{name}``: metadata definitions.

Bodies are described as JSON objects only: the served metadef schemas (``/v2/schemas/metadefs/*``) are
the exact description, and their ``#/definitions`` references are local to each of them.
"""

from __future__ import annotations

from typing import Any

from glimpse.api.openapi.common import LIMIT, MARKER, NO_CONTENT, SORT_DIR, errors, json_body, json_response, path_param
from glimpse.services.schemas import Schemas

NS = "/v2/metadefs/namespaces/{namespace}"
NAMESPACE = path_param("namespace", "Namespace name")
SORT_KEY = {"name": "sort_key", "in": "query", "schema": {"type": "string"}}
RESOURCE_TYPE = {"name": "resource_type", "in": "query", "schema": {"type": "string"},
                 "description": "Name properties with this resource type association's prefix"}  # fmt: skip
APPEND = {"name": "X-Openstack-Append", "in": "header", "schema": {"type": "string"},
          "description": "true: add the tags to those the namespace has instead of replacing them"}  # fmt: skip
OBJ = "Schema"


def components(schemas: Schemas) -> dict[str, Any]:
    return {}


def _read(op: str, *params: dict[str, Any], codes: tuple[int, ...] = (400, 403, 404)) -> dict[str, Any]:
    return {"operationId": op, "parameters": list(params), "responses": {"200": json_response(OBJ), **errors(*codes)}}


def _write(op: str, status: str = "201", codes: tuple[int, ...] = (400, 403, 404, 409, 413, 415)) -> dict[str, Any]:
    responses = {status: json_response(OBJ), **errors(*codes)}
    return {"operationId": op, "requestBody": json_body(OBJ), "responses": responses}


def _delete(op: str) -> dict[str, Any]:
    return {"operationId": op, "responses": {"204": NO_CONTENT, **errors(403, 404, 409)}}


def describe(schemas: Schemas) -> dict[str, Any]:
    obj, prop, tag = path_param("object_name", "Object name"), path_param("property_name", "Property name"), \
        path_param("tag_name", "Tag name")  # fmt: skip
    rtype = path_param("resource_type", "Resource type name")
    listing = (LIMIT, MARKER, SORT_KEY, SORT_DIR)
    return {
        "/v2/schemas/metadefs/{name}": {
            "parameters": [path_param("name",
                "namespace(s), object(s), property, properties, tag(s), resource_type(s)")],
            "get": {"operationId": "showMetadefSchema", "responses": {"200": json_response(OBJ), **errors(404)}},
        },
        "/v2/metadefs/namespaces": {
            "get": _read("listMetadefNamespaces", *listing,
                         {"name": "visibility", "in": "query", "schema": {"type": "string"}},
                         {"name": "resource_types", "in": "query", "schema": {"type": "string"}}),
            "post": _write("createMetadefNamespace"),
        },
        NS: {
            "parameters": [NAMESPACE],
            "get": _read("showMetadefNamespace", RESOURCE_TYPE),
            "put": _write("updateMetadefNamespace", "200"),
            "delete": _delete("deleteMetadefNamespace"),
        },
        f"{NS}/objects": {
            "parameters": [NAMESPACE],
            "get": _read("listMetadefObjects", SORT_KEY, SORT_DIR),
            "post": _write("createMetadefObject"),
            "delete": _delete("deleteMetadefObjects"),
        },
        f"{NS}/objects/{{object_name}}": {
            "parameters": [NAMESPACE, obj],
            "get": _read("showMetadefObject"),
            "put": _write("updateMetadefObject", "200"),
            "delete": _delete("deleteMetadefObject"),
        },
        f"{NS}/properties": {
            "parameters": [NAMESPACE],
            "get": _read("listMetadefProperties", RESOURCE_TYPE),
            "post": _write("createMetadefProperty"),
            "delete": _delete("deleteMetadefProperties"),
        },
        f"{NS}/properties/{{property_name}}": {
            "parameters": [NAMESPACE, prop],
            "get": _read("showMetadefProperty", RESOURCE_TYPE),
            "put": _write("updateMetadefProperty", "200"),
            "delete": _delete("deleteMetadefProperty"),
        },
        f"{NS}/tags": {
            "parameters": [NAMESPACE],
            "get": _read("listMetadefTags", *listing),
            "post": {**_write("createMetadefTags"), "parameters": [APPEND]},
            "delete": _delete("deleteMetadefTags"),
        },
        f"{NS}/tags/{{tag_name}}": {
            "parameters": [NAMESPACE, tag],
            "get": _read("showMetadefTag"),
            "post": {"operationId": "createMetadefTag",
                     "responses": {"201": json_response(OBJ), **errors(400, 403, 404, 409, 413)}},
            "put": _write("updateMetadefTag", "200"),
            "delete": _delete("deleteMetadefTag"),
        },
        f"{NS}/resource_types": {
            "parameters": [NAMESPACE],
            "get": _read("listMetadefResourceTypeAssociations"),
            "post": _write("createMetadefResourceTypeAssociation"),
        },
        f"{NS}/resource_types/{{resource_type}}": {
            "parameters": [NAMESPACE, rtype],
            "delete": _delete("deleteMetadefResourceTypeAssociation"),
        },
        "/v2/metadefs/resource_types": {
            "get": _read("listMetadefResourceTypes", codes=(403,)),
            "post": {**_write("createMetadefResourceType"),
                     "description": "Glimpse extension: create a resource type (admin only)."},
        },
        "/v2/metadefs/resource_types/{resource_type}": {
            "parameters": [rtype],
            "delete": {**_delete("deleteMetadefResourceType"),
                       "description": "Glimpse extension: delete an unprotected resource type no namespace uses."},
        },
    }  # fmt: skip
