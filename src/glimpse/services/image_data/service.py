"""The image data service: its parts in one object, wired by ``container.py``."""

from __future__ import annotations

from glimpse.services.image_data.download import Downloading
from glimpse.services.image_data.upload import Uploading


class ImageDataService(Uploading, Downloading):
    """Image data: the upload (``upload.py``, undone by ``undo.py``) and the download (``download.py``), over
    the collaborators of ``base.py``."""
