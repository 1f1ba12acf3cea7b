"""Image records: create, show, list, update (JSON-patch), delete, deactivate and reactivate.

The package: ``access`` (an image's policy target, enforcing a rule on an image), ``base`` (the collaborators,
what a caller may see, the checks on an image), ``create``, ``read``, ``update``, ``delete`` (with deactivate
and reactivate), ``removal`` (deleting data nothing uses any more), ``service`` (:class:`ImageService`, the
parts together). Import from here.
"""

from __future__ import annotations

from glimpse.services.images.access import enforce_on_image, image_target, target_of
from glimpse.services.images.read import ImagePage
from glimpse.services.images.service import ImageService

__all__ = ["ImagePage", "ImageService", "enforce_on_image", "image_target", "target_of"]
