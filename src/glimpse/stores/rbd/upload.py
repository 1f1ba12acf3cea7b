"""One RBD image being written: created (or grown) as the data arrives, written in whole objects, then
snapshotted and protected; discarded when the write fails."""

from __future__ import annotations

import contextlib
import logging
import math
from typing import TYPE_CHECKING, Any

from glimpse.errors import Conflict
from glimpse.stores.rbd.connection import SNAPSHOT, Connection, is_zero, load_bindings

if TYPE_CHECKING:
    from glimpse.stores.rbd.writes import Writing

log = logging.getLogger(__name__)


class Upload:
    """The blocking side of one put: the image being written, used by one thread at a time."""

    def __init__(self, store: Writing, conn: Connection, name: str) -> None:
        self.store = store
        self.conn = conn
        self.name = name
        self.image: Any = None
        self.size = 0  # the RBD image's current size
        self.written = 0  # bytes received so far (the image's size at the end)
        self.created = False

    def create(self, size: int) -> None:
        _, rbd = load_bindings()
        try:
            rbd.RBD().create(
                self.conn.ioctx, self.name, size, order=self.store.order, old_format=False, features=self.conn.features
            )
        except rbd.ImageExists:
            raise Conflict(f"Store {self.store.id} already holds an image named {self.name}") from None
        self.created = True
        self.image = rbd.Image(self.conn.ioctx, self.name)
        self.size = size

    def _grow_to(self, end: int) -> None:
        # without a size hint the image grows one object (rbd_store_chunk_size) at a time as data arrives
        if end > self.size:
            step = self.store.object_size
            self.size = math.ceil(end / step) * step
            self.image.resize(self.size)

    def write(self, data: bytes) -> None:
        offset = self.written
        self._grow_to(offset + len(data))
        self.written += len(data)
        if self.store.thin_provisioning and is_zero(data):
            return  # a fresh RBD image reads as zeros where nothing was written
        self.image.write(data, offset)

    def finish(self) -> None:
        if self.size != self.written:
            self.image.resize(self.written)
            self.size = self.written
        self.image.flush()
        self.image.create_snap(SNAPSHOT)
        self.image.protect_snap(SNAPSHOT)
        self.image.close()
        self.image = None

    def discard(self) -> None:
        """Remove whatever this upload created; errors here must not hide the one that caused it."""
        if self.image is not None:
            with contextlib.suppress(Exception):  # the removal below reports what matters
                self.image.close()
            self.image = None
        if not self.created:
            return  # an image of that name that this upload did not make is not ours to remove
        try:
            self.store._remove(self.conn, self.name)
        except Exception as exc:  # the caller raises the error that made the upload fail
            log.warning("store %s: the unfinished RBD image %s stays behind: %s", self.store.id, self.name, exc)
