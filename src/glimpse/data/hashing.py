"""Hashing a stream with any set of algorithms at once, each in its own thread.

hashlib releases the GIL while it digests a large buffer, so the algorithms run in parallel with each other,
with the store's writes and with the receipt of the next blocks. Each algorithm's thread takes the blocks in
order; at most ``in_flight`` blocks wait for it, which bounds memory.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from glimpse.concurrency import SerialWorker
from glimpse.data.blocks import Lease


def new_hash(algorithm: str) -> Any:
    if algorithm == "md5":
        return hashlib.md5(usedforsecurity=False)
    return hashlib.new(algorithm)


def _update(update: Callable[[Any], None], lease: Lease) -> None:
    try:
        update(lease.view)
    finally:
        lease.release()


class Hashes:
    """``async with Hashes(["md5", "sha512"]) as hashes: await hashes.feed(lease)``; then ``hexdigests()``."""

    def __init__(self, algorithms: Iterable[str], *, in_flight: int = 3) -> None:
        self._hashers = {algorithm: new_hash(algorithm) for algorithm in dict.fromkeys(algorithms)}
        self._in_flight = in_flight
        self._workers: list[SerialWorker] = []
        self._stack = contextlib.AsyncExitStack()

    @property
    def algorithms(self) -> list[str]:
        return list(self._hashers)

    async def __aenter__(self) -> Hashes:
        for algorithm in self._hashers:
            worker = SerialWorker(self._in_flight, f"hash-{algorithm}")
            self._workers.append(await self._stack.enter_async_context(worker))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._stack.__aexit__(*exc)

    async def feed(self, lease: Lease) -> None:
        """Queue the block for every algorithm; each thread releases its hold on the block when done."""
        for worker, hasher in zip(self._workers, self._hashers.values(), strict=True):
            lease.hold()
            try:
                await worker.submit(_update, hasher.update, lease)
            except BaseException:
                lease.release()
                raise

    def hexdigests(self) -> dict[str, str]:
        """Valid once the context has been left normally (every queued block digested)."""
        return {algorithm: hasher.hexdigest() for algorithm, hasher in self._hashers.items()}
