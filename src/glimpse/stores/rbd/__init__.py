"""Ceph RBD: each image's data is an RBD image in one pool, with a protected snapshot that others clone.

An upload creates the RBD image (with layering), writes the data in whole RADOS objects (the image's
object size, ``rbd_store_chunk_size`` MB), then takes the snapshot ``snap`` and protects it, so Nova and
Cinder can make copy-on-write clones of it. An image without the protected snapshot is a write in progress
or the leftover of one. Locations look like ``rbd://<fsid>/<pool>/<image>/snap``; with the Glimpse-specific
``rbd_store_namespace`` the namespace comes between the pool and the image.

librados and librbd block, so every call runs in a worker thread; the cluster connection is made on first
use (bounded by ``rados_connect_timeout``) and shared by everything the store does. The Python bindings
(Debian's python3-rados and python3-rbd) are imported then too: a deployment without Ceph never needs them.

The package: ``connection`` (bindings, the cluster connection, errors), ``base`` (the settings, the
connection made on first use, locations), ``upload`` (one image being written), ``writes`` (put, delete),
``reads`` (open, stat, list), ``store`` (:class:`RbdStore`, the parts together, its details and check);
``from_options`` is here.
"""

from __future__ import annotations

from glimpse.settings import RbdStoreOptions
from glimpse.stores.rbd.connection import DEFAULT_CONNECT_TIMEOUT, DEFAULT_POOL, SNAPSHOT, features, translate
from glimpse.stores.rbd.store import RbdStore

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "DEFAULT_POOL", "SNAPSHOT", "RbdStore", "features", "from_options", "translate"]


def from_options(
    store_id: str, options: RbdStoreOptions, *, description: str, weight: int, chunk_size: int
) -> RbdStore:
    """A store from Glance's rbd option names (plus ``rbd_store_namespace``)."""
    return RbdStore(
        store_id,
        pool=options.rbd_store_pool,
        user=options.rbd_store_user,
        conffile=options.rbd_store_ceph_conf,
        chunk_size_mb=options.rbd_store_chunk_size,
        connect_timeout=options.rados_connect_timeout,
        thin_provisioning=options.rbd_thin_provisioning,
        namespace=options.rbd_store_namespace,
        description=description,
        weight=weight,
        chunk_size=chunk_size,
    )
