"""GET / and /versions, and version negotiation: which Images API versions this service offers.

The list is Glance 33's for the same configuration, in Glance's own order: Glimpse always runs with named
stores (Glance's ``enabled_backends``), so 2.8 and 2.10-2.13 are listed; without the image cache Glance lists
2.15 and 2.17 (CURRENT) but not 2.14, 2.16 and 2.18, which come with the cache API.

Negotiation follows Glance's ``versionnegotiation`` filter, which runs before authentication: the first path
segment (or an ``Accept: application/vnd.openstack.images-vN`` header) names the version. A version on offer
(``v2``, ``v2.0`` ... ``v2.17``) is served by the v2 API (``/v2.17/images`` is ``/v2/images``); anything else
(``/v1/...``, ``/v3/...``, ``/``) answers 300 Multiple Choices with the versions document. ``/versions``
answers 200. With the image cache on, 2.14-2.18 are offered as Glance 33 offers them (2.18 CURRENT).
Glimpse's own endpoints (health check, metrics, OpenAPI document) stay outside negotiation.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from glimpse.api.http import json_response, services

CURRENT = "2.17"
# Glance 33's list with the cache off and enabled_backends set, in its order (it is not sorted)
OFFERED: tuple[str, ...] = (
    "2.15", "2.13", "2.12", "2.11", "2.10", "2.9", "2.8", "2.17", "2.7", "2.6", "2.5", "2.4", "2.3", "2.2",
    "2.1", "2.0",
)  # fmt: skip
# with the image cache on (image_cache_dir set): 2.14-2.18 first, 2.18 current
CACHE_CURRENT = "2.18"
OFFERED_WITH_CACHE: tuple[str, ...] = (
    "2.18", "2.17", "2.16", "2.15", "2.14", "2.13", "2.12", "2.11", "2.10", "2.9", "2.8", "2.7", "2.6", "2.5",
    "2.4", "2.3", "2.2", "2.1", "2.0",
)  # fmt: skip
# the URL prefixes (and vnd media-type suffixes) negotiation accepts as the v2 API: the versions on offer
ACCEPTED_PREFIXES = frozenset({"v2", *(f"v{version}" for version in OFFERED)})
ACCEPTED_WITH_CACHE = frozenset({"v2", *(f"v{version}" for version in OFFERED_WITH_CACHE)})
OWN_PATHS = frozenset({"/healthcheck", "/metrics", "/openapi.json"})
_VND = "application/vnd.openstack.images-"


def versions_document(base_url: str, cache: bool = False) -> dict[str, object]:
    href = base_url.rstrip("/") + "/v2/"
    offered, current = (OFFERED_WITH_CACHE, CACHE_CURRENT) if cache else (OFFERED, CURRENT)
    return {
        "versions": [
            {
                "id": f"v{version}",
                "status": "CURRENT" if version == current else "SUPPORTED",
                "links": [{"rel": "self", "href": href}],
            }
            for version in offered
        ]
    }


def negotiate(scope: Scope, accept: str, image_cache: bool = False) -> None:
    """Rewrite ``scope["path"]`` as Glance's filter does: ``/v2/...`` for a version on offer, ``/versions``
    for the explicit versions request, ``/`` (the 300 answer) for anything else. The versions document
    answers every method, as Glance's does: such a request is routed as a GET."""
    path: str = scope["path"]
    if path in OWN_PATHS or path.startswith("/catalog/"):  # Glimpse's own API, unversioned by Glance
        return
    segment, _, rest = path.lstrip("/").partition("/")
    if segment == "versions":
        negotiated = "/versions"
    else:
        if accept.startswith(_VND):
            version, remainder = accept[len(_VND) :], path
        else:
            version, remainder = segment, ("/" + rest if rest or path.endswith(segment + "/") else "")
        accepted = ACCEPTED_WITH_CACHE if image_cache else ACCEPTED_PREFIXES
        negotiated = f"/v2{remainder}" if version in accepted else "/"
    scope["path"] = negotiated
    if negotiated in ("/", "/versions") and scope["method"] not in ("GET", "HEAD"):
        scope["method"] = "GET"


def _base_url(request: Request) -> str:
    configured = services(request).settings.public_endpoint
    return configured or str(request.base_url)


def _document(request: Request) -> dict[str, object]:
    return versions_document(_base_url(request), cache=services(request).settings.image_cache_dir is not None)


async def root(request: Request) -> Response:
    return json_response(_document(request), status=300)


async def versions(request: Request) -> Response:
    return json_response(_document(request))
