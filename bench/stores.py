"""Store driver benchmark: 1 GiB put and full read through each driver against the real servers on loopback
(`make backends`: scripts/swift-up for Swift and S3, scripts/ceph-up for RBD), plus RBD with and without
the size hint.

    .venv/bin/python bench/stores.py                 # 1 GiB, every backend
    .venv/bin/python bench/stores.py --size-mib 256 --only rbd s3

Each figure is the best of ``--repeat`` runs (default 2): the machine has 2 cores and other work on it
only ever makes a run slower. Data is a 4 MiB random block repeated (no backend here deduplicates or
compresses). Results go to bench/results/stores-latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from glimpse.settings import RbdStoreOptions, S3StoreOptions, SwiftStoreOptions
from glimpse.stores.base import Store
from glimpse.stores.filesystem import FilesystemStore
from glimpse.stores.rbd import from_options as rbd_store
from glimpse.stores.s3 import from_options as s3_store
from glimpse.stores.swift import from_options as swift_store

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results" / "stores-latest.json"
BLOCK = 4 * 1024 * 1024
CHUNK = 1024 * 1024
CEPH_CONF = Path(os.environ.get("GLIMPSE_CEPH_HOME", Path.home() / ".cache" / "glimpse-ceph")) / "ceph.conf"
NAME = f"glimpse-bench-{uuid.uuid4().hex[:8]}"


def _s3() -> Store:
    return s3_store("s3", S3StoreOptions.model_validate({
        "s3_store_host": "http://127.0.0.1:8080", "s3_store_access_key": "glimpse:glimpse",
        "s3_store_secret_key": "glimpse-secret", "s3_store_bucket": f"{NAME}-s3",
        "s3_store_create_bucket_on_put": "true",
    }), description="", weight=0, chunk_size=CHUNK)  # fmt: skip


def _swift() -> Store:
    return swift_store("swift", SwiftStoreOptions.model_validate({
        "swift_store_auth_address": "http://127.0.0.1:8080/auth/v1.0", "swift_store_auth_version": "1",
        "swift_store_user": "glimpse:glimpse", "swift_store_key": "glimpse-secret",
        "swift_store_container": f"{NAME}-swift", "swift_store_create_container_on_put": "true",
    }), description="", weight=0, chunk_size=CHUNK)  # fmt: skip


def _rbd() -> Store:
    options = RbdStoreOptions(rbd_store_ceph_conf=str(CEPH_CONF), rbd_store_user="admin", rbd_store_pool="images")
    return rbd_store("rbd", options, description="", weight=0, chunk_size=CHUNK)


async def _blocks(total: int, block: bytes) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        piece = block[: min(len(block), total - sent)]
        sent += len(piece)
        yield piece


async def _one(store: Store, size: int, block: bytes, *, hint: bool) -> dict[str, float]:
    key = str(uuid.uuid4())
    started = time.perf_counter()
    stored = await store.put(key, _blocks(size, block), size_hint=size if hint else None)
    put = time.perf_counter() - started
    assert stored.size == size
    started = time.perf_counter()
    read = 0
    async for chunk in store.open(stored.url):
        read += len(chunk)
    got = time.perf_counter() - started
    assert read == size
    await store.delete(stored.url)
    return {"put_s": put, "read_s": got}


def _measure(name: str, make: Callable[[], Store], size: int, repeat: int, *, hint: bool) -> dict[str, Any]:
    block = os.urandom(BLOCK)
    store = make()
    runs = [asyncio.run(_one(store, size, block, hint=hint)) for _ in range(repeat)]
    put = min(run["put_s"] for run in runs)
    read = min(run["read_s"] for run in runs)
    mb = size / 1e6
    return {"backend": name, "size_hint": hint, "put_s": round(put, 3), "put_MBps": round(mb / put, 1),
            "read_s": round(read, 3), "read_MBps": round(mb / read, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=["filesystem", "s3", "swift", "rbd"])
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="glimpse-bench-") as tmp:
        backends: dict[str, Callable[[], Store]] = {
            "filesystem": lambda: FilesystemStore("fs", Path(tmp) / "fs", chunk_size=CHUNK),
            "s3": _s3,
            "swift": _swift,
            "rbd": _rbd,
        }
        results = []
        for name in args.only:
            hints = (True, False) if name == "rbd" else (True,)
            for hint in hints:
                result = _measure(name, backends[name], size, args.repeat, hint=hint)
                results.append(result)
                print(json.dumps(result), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MiB")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"size_mib": args.size_mib, "results": results, "peak_rss_mib": round(peak)},
                                  indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
