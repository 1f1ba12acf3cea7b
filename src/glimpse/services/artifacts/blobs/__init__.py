"""Artifact blobs: upload, external and internal locations, download, delete; their data stored once per sha256.

Storage (content-addressed, deduplicated): the bytes of an upload go through THE data pipeline into the
default store under a fresh key, with md5, sha1, sha256 and the images' multihash computed on the way (and,
when the artifact's metadata signs the blob, the signature verified as an image's is: services/signatures.py,
``blob_properties``; a bad one fails the upload and leaves nothing stored). Then,
in one transaction holding the object's lock (a row of ``artifact_locks`` named after the sha256):

- an object with that sha256 already exists: the blob names it, and the bytes just written are removed;
- a live image in the same store holds exactly these bytes (size, md5 and multihash): the object is created
  at the image's location (its row locked meanwhile), and the bytes just written are removed;
- else the object is created where the bytes were just written.

Reference counting: an object's count is the number of internal blob rows naming its sha256, counted under
its lock. Whoever drops a reference (a re-upload, an artifact's delete) counts again under that lock in the
same transaction; at zero, the object row goes and, unless an image still keeps its data there (that image's
row locked), a task to delete the data is enqueued in that very transaction. So bytes are deleted only once
nothing references them, and never forgotten: the task is durable. An image's delete leaves the data an
object shares (``ImageService.remove_data``).

Crash consistency: a blob is ``saving`` while its bytes stream; it keeps its previous data's columns (so its
previous object stays referenced), and goes back to them, or away for a first upload, when the upload fails,
or at the next start after a crash (``Fsck.recover``). Bytes written but never committed are an orphan that
`glimpse fsck` finds by their ``artifact-`` key and removes (with no upload running).

The package: ``base`` (the collaborators, the checks every blob operation makes, blob paths), ``upload``,
``locations``, ``download``, ``service`` (:class:`BlobService`, the parts together). Import from here.
"""

from __future__ import annotations

from glimpse.services.artifacts.blobs.base import blob_name, parse_blob_path
from glimpse.services.artifacts.blobs.download import BlobDownload
from glimpse.services.artifacts.blobs.locations import LOCATION_MEDIA_TYPE
from glimpse.services.artifacts.blobs.service import BlobService
from glimpse.services.artifacts.blobs.upload import KEY_PREFIX

__all__ = ["KEY_PREFIX", "LOCATION_MEDIA_TYPE", "BlobDownload", "BlobService", "blob_name", "parse_blob_path"]
