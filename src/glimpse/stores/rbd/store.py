"""The RBD store: its parts (``base``, ``writes``, ``reads``) in one object, its details and its check."""

from __future__ import annotations

import errno
import secrets
import threading
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread

from glimpse.errors import StoreError, StoreUnavailable
from glimpse.stores.rbd.connection import PROBE_TIMEOUT, Connection
from glimpse.stores.rbd.reads import Reading
from glimpse.stores.rbd.writes import Writing


class RbdStore(Writing, Reading):
    """A Ceph pool (or a namespace of one) as an image store: writing (``writes.py``) and reading
    (``reads.py``) over the connection and locations of ``base.py``."""

    type = "rbd"

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
