"""GET / and /versions: the Images API versions this service really implements.

Glance's versions are cumulative: 2.N includes everything of 2.(N-1). We advertise the longest prefix of
versions whose features are all implemented, so a client never sees a version we only partly serve.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import json_response, services

# version -> the features it introduced (Glance's API history)
VERSION_FEATURES: tuple[tuple[str, frozenset[str]], ...] = (
    ("2.0", frozenset({"images", "image_data", "tags", "schemas"})),
    ("2.1", frozenset({"members"})),
    ("2.2", frozenset({"tasks", "metadefs", "property_protections"})),
    ("2.3", frozenset({"deactivate"})),
    ("2.4", frozenset({"import_plugins"})),
    ("2.5", frozenset({"community"})),
    ("2.6", frozenset({"import"})),
    ("2.7", frozenset({"os_hidden", "hash"})),
    ("2.8", frozenset({"multistore"})),
    ("2.9", frozenset({"copy_image"})),
    ("2.10", frozenset({"store_delete"})),
    ("2.11", frozenset({"import_to_stores"})),
    ("2.12", frozenset({"image_tasks"})),
    ("2.13", frozenset({"stores_detail"})),
    ("2.14", frozenset({"cache_api"})),
    ("2.15", frozenset({"usage"})),
    ("2.16", frozenset({"location_import"})),
    ("2.17", frozenset({"locations_api"})),
)

IMPLEMENTED = frozenset(
    {"images", "image_data", "tags", "schemas", "members", "deactivate", "community", "os_hidden", "hash",
     "multistore", "store_delete", "stores_detail", "tasks", "import_plugins", "import", "copy_image",
     "import_to_stores", "image_tasks", "property_protections"}
)  # fmt: skip


def advertised(implemented: frozenset[str] = IMPLEMENTED) -> list[str]:
    versions: list[str] = []
    for version, features in VERSION_FEATURES:
        if not features <= implemented:
            break
        versions.append(version)
    return versions


def versions_document(base_url: str) -> dict[str, object]:
    versions = advertised()
    href = base_url.rstrip("/") + "/v2/"
    return {
        "versions": [
            {
                "id": f"v{v}",
                "status": "CURRENT" if v == versions[-1] else "SUPPORTED",
                "links": [{"rel": "self", "href": href}],
            }
            for v in reversed(versions)
        ]
    }


def _base_url(request: Request) -> str:
    configured = services(request).settings.public_endpoint
    return configured or str(request.base_url)


async def root(request: Request) -> Response:
    return json_response(versions_document(_base_url(request)), status=300)


async def versions(request: Request) -> Response:
    return json_response(versions_document(_base_url(request)))
