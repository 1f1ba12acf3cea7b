"""What the parts of the RBD store share: its settings, the one cluster connection every call (each in a
worker thread) uses, and its locations."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

import anyio.to_thread

from glimpse.errors import NotFound, StoreError, StoreUnavailable
from glimpse.stores.rbd.connection import (
    DEFAULT_CHUNK_MB,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_POOL,
    READ_SIZE,
    SNAPSHOT,
    Connection,
    features,
    load_bindings,
    translate,
)

T = TypeVar("T")


class RbdBase:
    """The collaborators of :class:`RbdStore`'s parts: the pool, the sizes, the cluster connection."""

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
