"""The import service: its three parts in one object, wired by ``container.py``."""

from __future__ import annotations

from glimpse.services.image_import.call import ImportCall
from glimpse.services.image_import.running import ImportRun
from glimpse.services.image_import.staging import Staging


class ImportService(Staging, ImportCall, ImportRun):
    """Interoperable image import: staging (``staging.py``), the import call (``call.py``) and the running of
    an import task (``running.py``), over the collaborators of ``base.py``."""
