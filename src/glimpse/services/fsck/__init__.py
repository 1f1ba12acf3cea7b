"""`glimpse fsck` and the start-up recovery: make the stores and the database agree again after a crash.

Found, per store: orphan objects (data that no location of a live image references, unfinished
``*.partial`` writes included), missing data (a location whose object is gone), size mismatches; and
images stuck in ``saving`` by a process that died during their upload. Repaired: orphans are deleted and
stuck images go back to ``queued``, as after any failed upload. Lost data is reported, never papered over:
no image is marked active, or anything else, to hide it.

The rules that keep a repair from ever destroying good data:

- An object is deleted only inside a transaction that holds its image's row lock, after checking again,
  under that lock, that no live location references it and that no upload of the image can be running.
  A new upload of that image must change the row, so it waits until the deletion is over.
- A complete object whose key names no image at all was not written through this database: it is
  reported and left alone, so a wrong ``--config`` cannot empty a store.
- Whether an upload can be running is decided by the data directory lock (``DataDirLock``): every
  `glimpse serve` holds it shared; fsck and the start-up recovery try to take it exclusively. Without it,
  images in ``saving`` and their unfinished writes belong to uploads in progress and are left alone.

The package: ``report`` (findings and the printed report), ``rules`` (what a stored object is: classify), ``checker``
(:class:`Fsck`: the check, the repairs, the start-up recovery), ``lock`` (:class:`DataDirLock`). Import from here.
"""

from __future__ import annotations

from glimpse.services.fsck.checker import Fsck
from glimpse.services.fsck.lock import LOCK_NAME, DataDirLock, claim_data_dir
from glimpse.services.fsck.report import Finding, FsckReport, Kind, StoreTally
from glimpse.services.fsck.rules import ARTIFACT_KEY_PREFIX, IMPORT_STATUSES, classify

__all__ = [
    "ARTIFACT_KEY_PREFIX",
    "IMPORT_STATUSES",
    "LOCK_NAME",
    "DataDirLock",
    "Finding",
    "Fsck",
    "FsckReport",
    "Kind",
    "StoreTally",
    "claim_data_dir",
    "classify",
]
