"""``/catalog/v1``: the subscribed catalogs' assets (browse, search, install) and their state."""

from __future__ import annotations

from typing import Any

from glimpse.api.openapi.common import errors, json_response, path_param, ref
from glimpse.domain.catalog import ASSET_TYPES, METADATA_FIELDS
from glimpse.services.schemas import Schemas

_TEXT = {"type": "string"}
_MAYBE_INT = {"type": ["integer", "null"]}
_MAYBE_TEXT = {"type": ["string", "null"]}
ASSET_PATH = [path_param("name", "Asset name"), path_param("version", "Asset version")]
CATALOG = {"name": "catalog", "in": "query", "schema": _TEXT, "description": "Only this subscribed catalog"}


def components(schemas: Schemas) -> dict[str, Any]:
    asset = {
        "type": "object",
        "properties": {
            "catalog": _TEXT, "name": _TEXT, "version": _TEXT, "type": {"type": "string", "enum": list(ASSET_TYPES)},
            "sha256": _TEXT, "size": {"type": "integer"}, "depends": {"type": "array", "items": _TEXT},
            **{field: _TEXT for field in METADATA_FIELDS},
        },
    }  # fmt: skip
    remote = {
        "type": "object",
        "properties": {
            "name": _TEXT, "url": _TEXT, "root_version": _MAYBE_INT, "targets_version": _MAYBE_INT,
            "timestamp_version": _MAYBE_INT, "expires_at": _MAYBE_TEXT, "signers": {"type": "array", "items": _TEXT},
            "refreshed_at": _MAYBE_TEXT, "attempted_at": _MAYBE_TEXT, "last_error": _TEXT,
        },
    }  # fmt: skip
    report = {
        "type": "object",
        "properties": {"name": _TEXT, "ok": {"type": "boolean"}, "assets": {"type": "integer"}, "error": _TEXT},
    }
    install = {
        "type": "object",
        "properties": {
            "id": _TEXT, "status": {"type": "string", "enum": ["pending", "processing", "success", "failure"]},
            "asset": _TEXT, "catalog": _TEXT, "message": _TEXT, "created_at": _MAYBE_TEXT, "updated_at": _MAYBE_TEXT,
            "progress": {"type": "object", "properties": {"done": {"type": "integer"}, "total": _MAYBE_INT}},
            "result": {"type": ["object", "null"]},
        },
    }  # fmt: skip
    return {
        "CatalogInstall": install,
        "CatalogAsset": asset,
        "CatalogAssets": {"type": "object", "properties": {"assets": {"type": "array", "items": ref("CatalogAsset")}}},
        "CatalogRemotes": {"type": "object", "properties": {"remotes": {"type": "array", "items": remote}}},
        "CatalogRefresh": {"type": "object", "properties": {"remotes": {"type": "array", "items": report}}},
    }


def describe(schemas: Schemas) -> dict[str, Any]:
    search = [
        {"name": "q", "in": "query", "schema": _TEXT, "description": "A word of the name or description"},
        {"name": "type", "in": "query", "schema": {"type": "string", "enum": list(ASSET_TYPES)}},
        {"name": "name", "in": "query", "schema": _TEXT},
        CATALOG,
    ]
    return {
        "/catalog/v1/assets": {
            "get": {"operationId": "listCatalogAssets", "parameters": search,
                    "responses": {"200": json_response("CatalogAssets"), **errors(403, 404)}},
        },
        "/catalog/v1/assets/{name}/{version}": {
            "get": {"operationId": "showCatalogAsset", "parameters": [*ASSET_PATH, CATALOG],
                    "responses": {"200": json_response("CatalogAsset"), **errors(403, 404)}},
        },
        "/catalog/v1/assets/{name}/{version}/install": {
            "post": {"operationId": "installCatalogAsset", "parameters": ASSET_PATH,
                     "requestBody": {"required": False, "content": {"application/json": {"schema": {
                         "type": "object", "properties": {"catalog": _TEXT}}}}},
                     "responses": {"202": json_response("CatalogInstall", "Accepted"), **errors(403, 404, 415)}},
        },
        "/catalog/v1/installs/{task_id}": {
            "get": {"operationId": "showCatalogInstall", "parameters": [path_param("task_id", "Install task id")],
                    "responses": {"200": json_response("CatalogInstall"), **errors(403, 404)}},
        },
        "/catalog/v1/remotes": {
            "get": {"operationId": "listCatalogRemotes",
                    "responses": {"200": json_response("CatalogRemotes"), **errors(403)}},
        },
        "/catalog/v1/remotes/refresh": {
            "post": {"operationId": "refreshCatalogs",
                     "responses": {"200": json_response("CatalogRefresh"), **errors(403)}},
        },
    }  # fmt: skip
