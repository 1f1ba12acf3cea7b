"""The blob service: its parts in one object, wired by ``container.py``."""

from __future__ import annotations

from glimpse.services.artifacts.blobs.download import Downloading
from glimpse.services.artifacts.blobs.locations import Locations
from glimpse.services.artifacts.blobs.upload import Uploading


class BlobService(Uploading, Locations, Downloading):
    """Artifact blobs: upload (``upload.py``), locations (``locations.py``) and download (``download.py``),
    over the collaborators and checks of ``base.py``; their stored objects are ``blob_objects.py``'s."""
