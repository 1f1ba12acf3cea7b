"""Interoperable image import: staging, the import call, and running an import task.

The import call only validates, moves the image to `importing` and records a durable task; a worker
(in-process by default, `glimpse worker` for scale) claims the task and runs it: it opens the source once
and writes it to every target store in parallel, hashing and inspecting it on the way.

The package: ``base`` (the collaborators, the enabled methods), ``staging`` (stage, sweep), ``call`` (the import
call), ``running`` (a worker's run and undo of an import task), ``bookkeeping`` (the ``os_glance_*`` properties),
``service`` (:class:`ImportService`, the three parts together). Import from here.
"""

from __future__ import annotations

from glimpse.services.image_import.base import METHODS
from glimpse.services.image_import.bookkeeping import FAILED_IMPORT, IMPORT_TASK, IMPORTING_TO, PROGRESS, change_image
from glimpse.services.image_import.call import ImportRequest
from glimpse.services.image_import.running import REMOTE_CORE
from glimpse.services.image_import.service import ImportService
from glimpse.services.image_import.staging import SweepReport

__all__ = [
    "FAILED_IMPORT",
    "IMPORTING_TO",
    "IMPORT_TASK",
    "METHODS",
    "PROGRESS",
    "REMOTE_CORE",
    "ImportRequest",
    "ImportService",
    "SweepReport",
    "change_image",
]
