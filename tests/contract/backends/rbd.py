"""RBD stores on the real single-node Ceph of scripts/ceph-up, each over a fresh RBD namespace.

A namespace costs one entry in the pool's directory, so every test gets its own (a pool per test would
wait for its placement groups to be created and peered). The namespace, with every image left in it, is
removed afterwards. The cluster's client configuration is $GLIMPSE_CEPH_CONF, by default the one
scripts/ceph-up writes; when the cluster is down the tests fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import rados
import rbd

from glimpse.stores.base import Store
from glimpse.stores.rbd import RbdStore

POOL = "images"


def ceph_conf() -> str:
    configured = os.environ.get("GLIMPSE_CEPH_CONF")
    if configured:
        return configured
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    home = Path(os.environ.get("GLIMPSE_CEPH_HOME") or cache / "glimpse-ceph")
    return str(home / "ceph.conf")


@contextmanager
def admin_ioctx(namespace: str = "") -> Iterator[Any]:
    """An I/O context on the test pool as client.admin (for setting up and inspecting behind the store)."""
    cluster = rados.Rados(conffile=ceph_conf(), conf={"client_mount_timeout": "10", "rados_mon_op_timeout": "10"})
    cluster.connect(timeout=10)
    try:
        ioctx = cluster.open_ioctx(POOL)
        try:
            if namespace:
                ioctx.set_namespace(namespace)
            yield ioctx
        finally:
            ioctx.close()
    finally:
        cluster.shutdown()


def _purge(ioctx: Any) -> None:
    """Remove every image of the context's namespace, clones before their parents."""
    for _ in range(10):
        names = rbd.RBD().list(ioctx)
        if not names:
            return
        for name in names:
            try:
                with rbd.Image(ioctx, name) as image:
                    for snap in list(image.list_snaps()):
                        if image.is_protected_snap(snap["name"]):
                            image.unprotect_snap(snap["name"])
                        image.remove_snap(snap["name"])
                rbd.RBD().remove(ioctx, name)
            except (rbd.ImageBusy, rbd.ImageHasSnapshots, rbd.ImageNotFound):
                continue  # a parent whose clones go first, or gone already
    raise AssertionError(f"images left in the test namespace: {rbd.RBD().list(ioctx)}")


@contextmanager
def rbd_namespace() -> Iterator[str]:
    """A new, empty RBD namespace of the test pool, removed with everything in it afterwards."""
    namespace = f"glimpse-test-{secrets.token_hex(6)}"
    with admin_ioctx() as ioctx:
        rbd.RBD().namespace_create(ioctx, namespace)
    try:
        yield namespace
    finally:
        with admin_ioctx(namespace) as ioctx:
            _purge(ioctx)
        with admin_ioctx() as ioctx:
            rbd.RBD().namespace_remove(ioctx, namespace)


@contextmanager
def new_rbd_store(**options: Any) -> Iterator[RbdStore]:
    """An RbdStore over a fresh namespace; keyword arguments go to RbdStore."""
    with rbd_namespace() as namespace:
        store = RbdStore("ceph", conffile=ceph_conf(), namespace=namespace, **{"chunk_size": 64 * 1024, **options})
        try:
            yield store
        finally:
            store.close()


@contextmanager
def rbd_store(tmp_path: Path) -> Iterator[Store]:
    with new_rbd_store(chunk_size_mb=1) as store:
        yield store
