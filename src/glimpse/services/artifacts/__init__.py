"""The artifacts API's use cases (Glare's engine): types, artifacts and their lifecycle, blobs."""

from glimpse.services.artifacts.blobs import BlobService
from glimpse.services.artifacts.registry import ArtifactTypes
from glimpse.services.artifacts.service import ArtifactService

__all__ = ["ArtifactService", "ArtifactTypes", "BlobService"]
