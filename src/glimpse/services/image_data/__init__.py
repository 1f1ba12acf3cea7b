"""Image data: the upload (and the start of every client data stream) and the download.

The bytes themselves go through THE data pipeline, ``glimpse.data.pipeline.run``: an upload is
request stream -> pipeline (blocks, size cap, quota, inspection of a bare container, md5 + the multihash in
parallel threads) -> the store -> ``Image.activate``.

The package: ``streams`` (what every client data stream shares: the plan, the recorded digests, the start by
compare-and-set), ``base`` (the collaborators), ``upload`` (the upload), ``undo`` (putting a failed upload
back), ``download`` (ranges, the download, ``image.send``), ``service`` (:class:`ImageDataService`, the parts
together). Import from here.
"""

from __future__ import annotations

from glimpse.services.image_data.download import Download, parse_range
from glimpse.services.image_data.service import ImageDataService
from glimpse.services.image_data.streams import image_hashes, plan, record, start_receiving

__all__ = [
    "Download",
    "ImageDataService",
    "image_hashes",
    "parse_range",
    "plan",
    "record",
    "start_receiving",
]
