"""Blob locations: an external URL clients are sent to, or an internal one Glimpse reads (admins only)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from glimpse.context import RequestContext
from glimpse.db.repositories.artifacts import ArtifactRecord, ArtifactRepository, Viewer
from glimpse.domain.artifacts import lifecycle
from glimpse.domain.clock import utcnow
from glimpse.errors import BadRequest, Conflict, Forbidden, NotFound
from glimpse.services.artifacts.blobs.base import BlobBase, _own_lock, blob_name, parse_blob_path

LOCATION_MEDIA_TYPE = "application/vnd+openstack.glare-custom-location+json"
RESTRICTED_SCHEMES = frozenset({"file", "filesystem", "swift+config", "sql"})  # never an internal location
INTERNAL_SCHEMES = frozenset({"http", "https"})  # internal locations Glimpse can read (through the fetch guard)
_COLUMN_WIDTHS = {"md5": 32, "sha1": 40, "sha256": 64}


class Locations(BlobBase):
    """``PUT .../{{blob path}}`` with a location body, and the delete of an external blob."""

    async def add_location(
        self, ctx: RequestContext, type_name: str, artifact_id: str, path: str, raw: bytes
    ) -> dict[str, Any]:
        kind = self._writable_type(type_name)
        name, key = parse_blob_path(path)
        data = _location_body(raw)
        url = data["url"]
        location_type = data.get("location_type", "external")
        if location_type == "external":
            rule = "artifact:set_location"
            if not url.startswith("http"):
                raise BadRequest(f"Url '{url}' doesn't have http(s) scheme")
            if "md5" not in data:
                raise BadRequest(
                    "Incorrect blob metadata. MD5 must be specified for external location in artifact blob."
                )
            self.check_url(url)  # the SSRF guard's rules (scheme, host, port) for a URL clients are sent to
        elif location_type == "internal":
            rule = "artifact:set_internal_location"
            scheme = urlparse(url).scheme.lower()
            if scheme in RESTRICTED_SCHEMES:
                raise Forbidden(f"Forbidden to set internal locations with scheme '{scheme}'")
            if scheme not in INTERNAL_SCHEMES:
                raise BadRequest(f"Unknown scheme '{scheme}'")
        else:
            raise BadRequest(
                f"Incorrect location type '{location_type}'. It must be one of the following external, internal"
            )
        self._field(kind, name, key)
        blob = {
            "status": "active", "external": location_type == "external", "size": None, "md5": data.get("md5"),
            "sha1": data.get("sha1"), "sha256": data.get("sha256"), "content_type": None, "url": url,
        }  # fmt: skip

        def work(session: Any) -> ArtifactRecord:
            repo = ArtifactRepository(session)
            record = self._locked_record(ctx, repo, kind, artifact_id)
            self.artifacts.enforce(ctx, rule, self.artifacts.present(kind, record))
            if record.blobs.get(name, {}).get(key) is not None:
                raise Conflict(f"Blob {name} already exists for artifact {artifact_id}")
            lifecycle.check_change_allowed(kind, record.columns["status"], name)
            repo.set_blob(artifact_id, name, key, blob)
            repo.update_columns(artifact_id, {"updated_at": utcnow()})
            repo.unlock_scope(_own_lock(kind, artifact_id))
            return repo.get(artifact_id, kind.type_name, Viewer(None, all_projects=True))

        return self.artifacts.present(kind, await self.db.run(work))

    async def delete_external(self, ctx: RequestContext, type_name: str, artifact_id: str, path: str) -> dict[str, Any]:
        kind = self._writable_type(type_name)
        name, key = parse_blob_path(path)
        self._field(kind, name, key)

        def work(session: Any) -> ArtifactRecord:
            repo = ArtifactRepository(session)
            record = self._locked_record(ctx, repo, kind, artifact_id)
            self.artifacts.enforce(ctx, "artifact:delete_blob", self.artifacts.present(kind, record))
            blob = record.blobs.get(name, {}).get(key)
            if blob is None:
                raise NotFound(f"Blob {blob_name(name, key)} wasn't found for artifact")
            if not blob["external"]:
                raise Forbidden(f"Blob {blob_name(name, key)} is not external")
            repo.set_blob(artifact_id, name, key, None)
            repo.update_columns(artifact_id, {"updated_at": utcnow()})
            repo.unlock_scope(_own_lock(kind, artifact_id))
            return repo.get(artifact_id, kind.type_name, Viewer(None, all_projects=True))

        return self.artifacts.present(kind, await self.db.run(work))


def _location_body(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        raise BadRequest("Malformed JSON in request body.") from None
    if not isinstance(data, dict):
        raise BadRequest(f"Dictionary expected as body value. Got {type(data).__name__}.")
    if not isinstance(data.get("url"), str):
        raise BadRequest(
            f"url is required when specifying external location. Cannot find 'url' in request body: {data}"
        )
    for item, width in _COLUMN_WIDTHS.items():
        value = data.get(item)
        if value is not None and (not isinstance(value, str) or len(value) > width):
            raise BadRequest(f"{item} must be a string of at most {width} characters")
    return data
