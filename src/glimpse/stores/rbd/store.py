"""The RBD store: one connection shared by every call (each in a worker thread), locations, the protocol."""

from __future__ import annotations

import errno
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

import anyio
import anyio.to_thread

from glimpse.concurrency import SerialWorker
from glimpse.errors import (
    Conflict,
    NotFound,
    StoreError,
    StoreUnavailable,
)
from glimpse.stores.base import Block, ListedObject, StoredObject
from glimpse.stores.rbd.connection import (
    DEFAULT_CHUNK_MB,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_POOL,
    LIST_PAGE,
    PROBE_TIMEOUT,
    READ_SIZE,
    SNAPSHOT,
    Connection,
    features,
    load_bindings,
    translate,
)
from glimpse.stores.rbd.upload import Upload

log = logging.getLogger(__name__)

T = TypeVar("T")


class RbdStore:
    type = "rbd"

    def __init__(
        self,
        store_id: str,
        *,
        pool: str = DEFAULT_POOL,
        user: str | None = None,
        conffile: str = "",
        chunk_size_mb: int = DEFAULT_CHUNK_MB,
        connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
        thin_provisioning: bool = False,
        namespace: str = "",
        description: str = "",
        weight: int = 0,
        chunk_size: int = 1 << 20,
    ) -> None:
        if chunk_size_mb < 1 or chunk_size_mb & (chunk_size_mb - 1):
            raise ValueError(f"rbd_store_chunk_size must be a power of two of at least 1 (MB), not {chunk_size_mb}")
        self.id = store_id
        self.description = description
        self.weight = weight
        self.pool = pool
        self.user = user or None
        self.conffile = conffile
        self.namespace = namespace
        self.chunk_size_mb = chunk_size_mb
        self.object_size = chunk_size_mb << 20
        self.order = self.object_size.bit_length() - 1
        self.connect_timeout = connect_timeout
        self.thin_provisioning = thin_provisioning
        self.chunk_size = chunk_size  # the size of the blocks open() yields
        self.read_size = max(chunk_size, READ_SIZE)
        self.write_queue = 2  # object-sized writes queued ahead of the writing thread
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._known_fsid: str | None = None

    # -- the connection ---------------------------------------------------------------------------------

    def _connection(self) -> Connection:
        """The store's cluster connection, made on first use (blocking: call from a worker thread)."""
        with self._lock:
            if self._conn is None:
                self._conn = self._connect()
                self._known_fsid = self._conn.fsid
            return self._conn

    def _connect(self) -> Connection:
        rados, _ = load_bindings()
        settings: dict[str, str] = {}
        if self.connect_timeout > 0:
            settings = {
                "client_mount_timeout": str(self.connect_timeout),
                "rados_mon_op_timeout": str(self.connect_timeout),
            }
        try:
            cluster = rados.Rados(conffile=self.conffile, rados_id=self.user, conf=settings)
        except rados.Error as exc:
            raise StoreUnavailable(f"Store {self.id} cannot read its Ceph configuration: {exc}") from exc
        try:
            cluster.connect(timeout=max(self.connect_timeout, 0))
            ioctx = cluster.open_ioctx(self.pool)
            # a full pool (or cluster) fails writes with EDQUOT/ENOSPC instead of pausing them until space
            # appears, and removals still go through
            ioctx.set_osdmap_full_try()
        except rados.Error as exc:
            cluster.shutdown()
            if isinstance(exc, rados.ObjectNotFound):
                raise StoreUnavailable(f"Store {self.id}: pool {self.pool} does not exist") from exc
            raise StoreUnavailable(f"Store {self.id} cannot connect to the Ceph cluster: {exc}") from exc
        if self.namespace:
            _, rbd = load_bindings()
            try:
                exists = rbd.RBD().namespace_exists(ioctx, self.namespace)
            except (rados.Error, rbd.Error) as exc:
                exists = False
                reason = str(exc)
            else:
                reason = "it does not exist"
            if not exists:
                ioctx.close()
                cluster.shutdown()
                raise StoreUnavailable(f"Store {self.id}: RBD namespace {self.namespace} of pool {self.pool}: {reason}")
            ioctx.set_namespace(self.namespace)
        return Connection(cluster, ioctx, cluster.get_fsid(), features(cluster.conf_get("rbd_default_features")))

    def close(self) -> None:
        """Shut the cluster connection down (a later call connects again)."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _guarded(self, call: Callable[..., T], what: str) -> Callable[..., T]:
        """``call`` run with the connection as first argument, its librados/librbd errors translated."""

        def run(*args: Any) -> T:
            conn = self._connection()
            rados, rbd = load_bindings()
            try:
                return call(conn, *args)
            except (rados.Error, rbd.Error) as exc:
                raise translate(self.id, exc, what) from exc

        return run

    async def _run(self, call: Callable[..., T], what: str, *args: Any) -> T:
        return await anyio.to_thread.run_sync(self._guarded(call, what), *args)

    # -- locations ----------------------------------------------------------------------------------------

    def url_for(self, fsid: str, name: str) -> str:
        pieces = [self.pool, *([self.namespace] if self.namespace else []), name, SNAPSHOT]
        return f"rbd://{fsid}/" + "/".join(quote(piece, safe="") for piece in pieces)

    def _parse(self, url: str, fsid: str | None) -> tuple[str, str | None] | None:
        """The image name and snapshot ``url`` names if it is a location of this store (of cluster ``fsid``
        when that is known), else None."""
        try:
            parsed = urlsplit(url)
        except ValueError:
            return None
        if parsed.scheme != "rbd" or not parsed.netloc:
            return None
        path = parsed.path.strip("/")
        if not path:  # the oldest form, rbd://<image>: an image of the pool (which has no namespace then)
            return (unquote(parsed.netloc), None) if not self.namespace else None
        pieces = [unquote(piece) for piece in path.split("/")]
        expected = [self.pool, *([self.namespace] if self.namespace else [])]
        if fsid is not None and unquote(parsed.netloc) != fsid:
            return None
        if len(pieces) != len(expected) + 2 or pieces[:-2] != expected or not pieces[-2]:
            return None
        return pieces[-2], pieces[-1] or None

    def _locate(self, conn: Connection, url: str) -> tuple[str, str | None]:
        """The image name and snapshot a location of this store names; NotFound for any other location."""
        located = self._parse(url, conn.fsid)
        if located is None:
            raise NotFound(f"Location {url} does not belong to store {self.id}")
        return located

    def owns(self, url: str) -> bool:
        """An ``rbd://`` location in this store's pool (and namespace), of its cluster when the fsid is known
        (from the connection, or from the configuration file: no network)."""
        return self._parse(url, self._fsid()) is not None

    def _image_name(self, key: str) -> str:
        if not key or "/" in key or "@" in key:
            raise StoreError(f"Store {self.id} cannot name an RBD image {key!r}")
        return key

    # -- the protocol ---------------------------------------------------------------------------------------

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

    async def open(self, url: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        image, size = await self._run(self._open_image, "cannot read", url)
        try:
            end = size if length is None else min(size, start + length)
            offset = start
            read = self._guarded(lambda _conn, at, count: image.read(at, count), f"cannot read {url}")
            # librbd is asked for at least READ_SIZE at a time (one round trip each), handed out in chunk_size
            while offset < end:
                data: bytes = await anyio.to_thread.run_sync(read, offset, min(self.read_size, end - offset))
                if not data:
                    break
                offset += len(data)
                if len(data) <= self.chunk_size:
                    yield data
                    continue
                view = memoryview(data)
                for at in range(0, len(view), self.chunk_size):
                    yield bytes(view[at : at + self.chunk_size])
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(image.close)

    def _open_image(self, conn: Connection, url: str) -> tuple[Any, int]:
        _, rbd = load_bindings()
        name, snapshot = self._locate(conn, url)
        try:
            image = rbd.Image(conn.ioctx, name, snapshot=snapshot, read_only=True)
        except rbd.ImageNotFound:
            raise NotFound(f"Image data for {url} is missing from store {self.id}") from None
        try:
            return image, image.size()
        except BaseException:
            image.close()
            raise

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

    async def stat(self, url: str) -> int | None:
        return await self._run(self._stat, "cannot read", url)

    def _stat(self, conn: Connection, url: str) -> int | None:
        _, rbd = load_bindings()
        name, snapshot = self._locate(conn, url)
        try:
            with rbd.Image(conn.ioctx, name, snapshot=snapshot, read_only=True) as image:
                return int(image.size())
        except rbd.ImageNotFound:
            return None

    async def list_objects(self) -> AsyncIterator[ListedObject]:
        names: list[str] = await self._run(self._names, "cannot list its pool")
        for page in range(0, len(names), LIST_PAGE):
            found = await self._run(self._describe, "cannot list its pool", names[page : page + LIST_PAGE])
            for listed in found:
                yield listed

    def _names(self, conn: Connection) -> list[str]:
        _, rbd = load_bindings()
        return sorted(rbd.RBD().list(conn.ioctx))

    def _describe(self, conn: Connection, names: list[str]) -> list[ListedObject]:
        """Size and completeness of each named image (one without the protected snapshot is unfinished)."""
        _, rbd = load_bindings()
        found = []
        for name in names:
            try:
                with rbd.Image(conn.ioctx, name, read_only=True) as image:
                    size = image.size()
                    try:
                        complete = bool(image.is_protected_snap(SNAPSHOT))
                    except rbd.ImageNotFound:  # no such snapshot yet
                        complete = False
            except rbd.ImageNotFound:  # removed while we looked
                continue
            found.append(ListedObject(url=self.url_for(conn.fsid, name), size=size, key=name, partial=not complete))
        return found

    def details(self) -> dict[str, object]:
        properties: dict[str, object] = {  # Glance's keys (the chunk size in bytes)
            "chunk_size": self.chunk_size_mb * 1024 * 1024,
            "pool": self.pool,
            "thin_provisioning": self.thin_provisioning,
            "fsid": self._fsid(),
        }
        if self.namespace:  # Glimpse's RADOS namespaces (Glance has none): where the images are in the pool
            properties["namespace"] = self.namespace
        return properties

    def _fsid(self) -> str | None:
        """The cluster's fsid: known once connected, else read from the configuration file (no network)."""
        if self._known_fsid is None:
            try:
                rados, _ = load_bindings()
                fsid = rados.Rados(conffile=self.conffile, rados_id=self.user).conf_get("fsid")
            except Exception:
                return None
            if fsid and fsid.strip("0-"):
                self._known_fsid = fsid
        return self._known_fsid

    async def check(self) -> None:
        try:
            with anyio.fail_after(max(self.connect_timeout, 0) + PROBE_TIMEOUT):
                await anyio.to_thread.run_sync(self._guarded(self._probe, "cannot write"), abandon_on_cancel=True)
        except TimeoutError:
            raise StoreUnavailable(f"Store {self.id}: the Ceph cluster does not answer") from None
        except StoreUnavailable:
            raise
        except StoreError as exc:
            raise StoreUnavailable(exc.message) from exc

    def _probe(self, conn: Connection) -> None:
        """Write a small object to the pool and remove it, waiting a bounded time for each."""
        name = f".glimpse-healthcheck.{secrets.token_hex(4)}"
        self._await_completion(lambda done: conn.ioctx.aio_write_full(name, b"ok", oncomplete=done), "write")
        self._await_completion(lambda done: conn.ioctx.aio_remove(name, oncomplete=done), "remove")

    def _await_completion(self, start: Callable[[Callable[..., None]], object], what: str) -> None:
        """Start an asynchronous librados operation and wait for it at most a few seconds (no thread stays
        blocked on a cluster that does not answer)."""
        finished = threading.Event()
        outcome: list[int] = []

        def done(completion: Any, *_: Any) -> None:
            outcome.append(completion.get_return_value())
            finished.set()

        start(done)
        if not finished.wait(PROBE_TIMEOUT):
            raise StoreUnavailable(f"Store {self.id}: pool {self.pool} did not {what} a probe object in time")
        if outcome[0] < 0:
            reason = errno.errorcode.get(-outcome[0], str(-outcome[0]))
            raise StoreUnavailable(f"Store {self.id} cannot {what} a probe object in pool {self.pool}: {reason}")
