"""A `glimpse serve` configuration with the filesystem, Swift and RBD stores of this machine (`make backends`:
scripts/swift-up for Swift, scripts/ceph-up for RBD), for the benchmarks that go through real stores."""

from __future__ import annotations

import os
from pathlib import Path

CEPH_CONF = Path(os.environ.get("GLIMPSE_CEPH_HOME", Path.home() / ".cache" / "glimpse-ceph")) / "ceph.conf"
SWIFT_AUTH = "http://127.0.0.1:8080/auth/v1.0"
BACKEND_TYPES = {"fs": "file", "swift": "swift", "rbd": "rbd"}


def store_sections(work: Path, stores: list[str], container: str, defaults: str = "") -> str:
    """``[DEFAULT]`` (``enabled_backends`` and the lines of ``defaults``), ``default_backend`` (the first store)
    and each store's section; the filesystem store's objects go under ``work/fs``, Swift's into ``container``
    (made on the first put)."""
    sections = {
        "fs": f"[fs]\nfilesystem_store_datadir = {work / 'fs'}\n",
        "swift": f"[swift]\nswift_store_auth_address = {SWIFT_AUTH}\nswift_store_auth_version = 1\n"
        "swift_store_user = glimpse:glimpse\nswift_store_key = glimpse-secret\n"
        f"swift_store_container = {container}\nswift_store_create_container_on_put = true\n",
        "rbd": f"[rbd]\nrbd_store_ceph_conf = {CEPH_CONF}\nrbd_store_user = admin\nrbd_store_pool = images\n",
    }
    enabled = ", ".join(f"{store}:{BACKEND_TYPES[store]}" for store in stores)
    return (
        f"[DEFAULT]\nenabled_backends = {enabled}\n{defaults}"
        + f"[glance_store]\ndefault_backend = {stores[0]}\n"
        + "".join(sections[store] for store in stores)
    )
