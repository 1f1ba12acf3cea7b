"""Writing: an upload in whole RADOS objects from a worker thread, and the removal of an image with its
snapshots."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import anyio.to_thread

from glimpse.concurrency import SerialWorker
from glimpse.errors import Conflict, StoreError
from glimpse.stores.base import Block, StoredObject
from glimpse.stores.rbd.base import RbdBase
from glimpse.stores.rbd.connection import Connection, load_bindings, translate
from glimpse.stores.rbd.upload import Upload


class Writing(RbdBase):
    """``put`` and ``delete``, and the removal a failed upload uses too."""

    async def put(self, key: str, blocks: AsyncIterator[Block], size_hint: int | None = None) -> StoredObject:
        name = self._image_name(key)
        conn = await self._run(lambda conn: conn, "cannot connect")
        upload = Upload(self, conn, name)
        try:
            # with a size hint the image is made at its final size at once: no resize while writing
            await self._run(lambda _conn: upload.create(max(size_hint or 0, 0)), f"cannot create image {name}")
            pieces: list[memoryview] = []
            pending = 0
            object_size = self.object_size
            write = self._guarded(lambda _conn, data: upload.write(data), f"cannot write image {name}")
            async with SerialWorker(limit=self.write_queue, name=f"rbd-{self.id}") as writer:
                async for block in blocks:
                    view = memoryview(block).cast("B")
                    while pending + len(view) >= object_size:
                        take = object_size - pending
                        pieces.append(view[:take])
                        view = view[take:]
                        await writer.submit(write, b"".join(pieces))
                        pieces, pending = [], 0
                    if view:
                        pieces.append(view)
                        pending += len(view)
                if pieces:
                    await writer.submit(write, b"".join(pieces))
                    pieces = []
            await self._run(lambda _conn: upload.finish(), f"cannot finish image {name}")
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(upload.discard)
            raise
        return StoredObject(url=self.url_for(conn.fsid, name), size=upload.written)

    async def delete(self, url: str) -> None:
        await self._run(self._delete, "cannot delete", url)

    def _delete(self, conn: Connection, url: str) -> None:
        name, _ = self._locate(conn, url)
        self._remove(conn, name)

    def _remove(self, conn: Connection, name: str) -> None:
        """Unprotect and remove the image's snapshots, then the image; a missing image is not an error."""
        _, rbd = load_bindings()
        try:
            with rbd.Image(conn.ioctx, name) as image:
                for snap in list(image.list_snaps()):
                    if image.is_protected_snap(snap["name"]):
                        try:
                            image.unprotect_snap(snap["name"])
                        except rbd.ImageBusy:
                            raise Conflict(
                                f"Image {name} is in use: snapshot {snap['name']} in store {self.id} has clones"
                            ) from None
                    image.remove_snap(snap["name"])
        except rbd.ImageNotFound:
            return
        except (rbd.ImageBusy, rbd.ImageHasSnapshots) as exc:
            raise Conflict(f"Image {name} is in use in store {self.id}: {exc}") from exc
        except rbd.Error as exc:
            raise translate(self.id, exc, f"cannot remove image {name}") from exc
        try:
            rbd.RBD().remove(conn.ioctx, name)
        except rbd.ImageNotFound:
            # librbd also says so when a step of the removal failed (in a full pool that never had a trash)
            if self._exists(conn, name):
                raise StoreError(f"Store {self.id} cannot remove image {name}: librbd gave up half way") from None
        except (rbd.ImageBusy, rbd.ImageHasSnapshots) as exc:
            raise Conflict(f"Image {name} is in use in store {self.id}: {exc}") from exc
        except rbd.Error as exc:
            raise translate(self.id, exc, f"cannot remove image {name}") from exc

    def _exists(self, conn: Connection, name: str) -> bool:
        _, rbd = load_bindings()
        try:
            with rbd.Image(conn.ioctx, name, read_only=True):
                return True
        except rbd.ImageNotFound:
            return False
