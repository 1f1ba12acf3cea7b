"""The cluster side: the Ceph bindings (imported on first use), the shared connection, librados and
librbd errors as this store's, and the RBD features an image is created with."""

from __future__ import annotations

import errno
import importlib
import logging
import threading
from types import ModuleType
from typing import Any

from glimpse.errors import (
    Conflict,
    GlimpseError,
    NotFound,
    StorageFull,
    StorageWriteDenied,
    StoreError,
    StoreUnavailable,
)

SNAPSHOT = "snap"
DEFAULT_POOL = "images"
DEFAULT_CHUNK_MB = 8
DEFAULT_CONNECT_TIMEOUT = 10
LAYERING = 1
_FEATURE_BITS = {
    "layering": 1,
    "striping": 2,
    "exclusive-lock": 4,
    "object-map": 8,
    "fast-diff": 16,
    "deep-flatten": 32,
    "journaling": 64,
    "data-pool": 128,
}
LIST_PAGE = 64
READ_SIZE = 1 << 20
PROBE_TIMEOUT = 10.0

NOT_FOUND = frozenset({errno.ENOENT})
IN_USE = frozenset({errno.EBUSY, errno.ENOTEMPTY, errno.EEXIST})
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
_NOT_WRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
_UNREACHABLE = frozenset(
    {errno.ETIMEDOUT, errno.ESHUTDOWN, errno.ENOTCONN, errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.EINTR}
)

log = logging.getLogger(__name__)

_bindings_lock = threading.Lock()
_bindings: tuple[ModuleType, ModuleType] | None = None


def load_bindings() -> tuple[ModuleType, ModuleType]:
    """The ``rados`` and ``rbd`` modules, imported on first use."""
    global _bindings
    with _bindings_lock:
        if _bindings is None:
            try:
                _bindings = importlib.import_module("rados"), importlib.import_module("rbd")
            except ImportError as exc:
                raise StoreUnavailable(
                    f"The Ceph Python bindings are not importable ({exc}): install python3-rados and python3-rbd "
                    "and make them visible to this interpreter (scripts/ceph-python-link)"
                ) from exc
        return _bindings


def translate(store_id: str, exc: BaseException, what: str) -> GlimpseError:
    """This store's error for a failed librados/librbd call, chosen by its errno."""
    code = getattr(exc, "errno", None)
    reason = str(exc) or type(exc).__name__
    if code in NOT_FOUND:
        return NotFound(f"Store {store_id} {what}: not found ({reason})")
    if code in _NO_SPACE:
        return StorageFull(f"Image storage media is full: store {store_id} has no space left ({reason})")
    if code in _NOT_WRITABLE:
        return StorageWriteDenied(f"Store {store_id} cannot write: {reason}")
    if code in IN_USE:
        return Conflict(f"Store {store_id} {what}: in use ({reason})")
    if code in _UNREACHABLE or type(exc).__name__ in ("TimedOut", "Timeout", "ConnectionShutdown", "NotConnected"):
        return StoreUnavailable(f"Store {store_id} cannot reach the Ceph cluster: {reason}")
    return StoreError(f"Store {store_id} {what}: {reason}")


def features(configured: str) -> int:
    """The cluster's ``rbd_default_features`` (a number or a comma-separated list of names), plus layering."""
    configured = configured.strip()
    if not configured:
        return LAYERING
    if configured.isdigit():
        return int(configured) | LAYERING
    bits = LAYERING
    for name in configured.replace(" ", "").split(","):
        bits |= _FEATURE_BITS.get(name, 0)
    return bits


def is_zero(data: bytes) -> bool:
    # compares a stride at a time against zeros without building a second buffer of the whole length
    view = memoryview(data)
    for start in range(0, len(view), len(ZEROS)):
        piece = view[start : start + len(ZEROS)]
        if piece != ZEROS[: len(piece)]:
            return False
    return True


ZEROS = memoryview(bytes(1 << 20))


class Connection:
    """One cluster connection and the I/O context of the store's pool (and namespace)."""

    def __init__(self, cluster: Any, ioctx: Any, fsid: str, features: int) -> None:
        self.cluster = cluster
        self.ioctx = ioctx
        self.fsid = fsid
        self.features = features

    def close(self) -> None:
        try:
            self.ioctx.close()
        finally:
            self.cluster.shutdown()
