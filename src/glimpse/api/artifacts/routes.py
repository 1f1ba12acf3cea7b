"""The artifacts API's whole URL map (its own app; ``/`` and ``/versions`` are answered by
:class:`glimpse.api.artifacts.versions.VersionMiddleware`). Other methods get 405 with ``Allow``."""

from __future__ import annotations

from glimpse.api.artifacts.v1 import artifacts, blobs, quotas, schemas
from glimpse.api.routes import resource

PUBLIC_PATHS = frozenset({"/", "/versions"})

ROUTES = [
    resource("/schemas", GET=schemas.index),
    resource("/schemas/{type_name}", GET=schemas.show),
    resource("/artifacts/{type_name}", GET=artifacts.index, POST=artifacts.create),
    resource(
        "/artifacts/{type_name}/{artifact_id}", GET=artifacts.show, PATCH=artifacts.update, DELETE=artifacts.delete
    ),
    resource(
        "/artifacts/{type_name}/{artifact_id}/{blob_path:path}",
        GET=blobs.download,
        PUT=blobs.upload,
        DELETE=blobs.delete,
    ),
    resource("/quotas", GET=quotas.index, PUT=quotas.update),
    resource("/project-quotas", GET=quotas.project),
    resource("/project-quotas/{project_id}", GET=quotas.project),
]
