"""The image service: its parts in one object, wired by ``container.py``."""

from __future__ import annotations

from glimpse.services.images.create import Creating
from glimpse.services.images.delete import Deleting
from glimpse.services.images.read import Reading
from glimpse.services.images.update import Updating


class ImageService(Creating, Reading, Updating, Deleting):
    """Image records: create (``create.py``), show and list (``read.py``), update (``update.py``), delete,
    deactivate and reactivate (``delete.py``), the data they leave unused removed by ``removal.py``, over the
    collaborators of ``base.py``."""
