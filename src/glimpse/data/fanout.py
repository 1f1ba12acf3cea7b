"""Fan-out: one stream of blocks written to several stores at once, the source read once.

Each store consumes its own bounded queue, so a slow store slows the source instead of buffering the image.
A store that fails is dropped (or, with ``all_must_succeed``, everything stops and what was written is
deleted). With no store at all the blocks are only consumed (a location import reads and checks data it
never writes).

Blocks are pooled buffers (``blocks.Lease``): a store may only be handed one if it says how many blocks it
may still be reading after it asks for the next one (``held_blocks``, e.g. queued writes); the buffer goes
back to the pool once every store is past it. A store that does not say gets buffers that are never reused.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Any

from glimpse.data.blocks import Lease
from glimpse.data.sealing import Sealer, sealed_size
from glimpse.errors import NotFound
from glimpse.stores.base import Block, Store, StoredObject

log = logging.getLogger(__name__)

QUEUE_BLOCKS = 2


def held_blocks(store: Store) -> int | None:
    """How many blocks ``store`` may still read after it has asked for the next one (None: unknown)."""
    value: Any = getattr(store, "held_blocks", None)
    return value if isinstance(value, int) else None


def can_recycle(stores: list[Store]) -> bool:
    return all(held_blocks(store) is not None for store in stores)


async def write(
    stores: list[Store],
    key: str,
    blocks: AsyncIterator[Lease],
    *,
    size_hint: int | None,
    all_must_succeed: bool,
    sealers: Mapping[str, Sealer] | None = None,
) -> tuple[dict[str, StoredObject], dict[str, BaseException]]:
    """Write ``blocks`` to every store under ``key``; returns what each store stored and why each failed
    store failed. A store with a sealer gets its copy sealed (encryption at rest). Every lease received is
    released, whatever happens."""
    sealers = sealers or {}
    queues: dict[str, asyncio.Queue[Lease | None]] = {store.id: asyncio.Queue(QUEUE_BLOCKS) for store in stores}
    held: dict[str, deque[Lease]] = {store.id: deque() for store in stores}

    async def drain(store: Store) -> AsyncIterator[Block]:
        queue, mine, depth = queues[store.id], held[store.id], held_blocks(store)
        while (lease := await queue.get()) is not None:
            mine.append(lease)
            yield lease.view
            while len(mine) > (depth or 0):
                mine.popleft().release()

    async def put(store: Store) -> StoredObject:
        try:
            sealer = sealers.get(store.id)
            if sealer is None:
                return await store.put(key, drain(store), size_hint)
            hint = sealed_size(size_hint) if size_hint is not None else None
            return await store.put(key, sealer.seal(drain(store)), hint)
        finally:  # the store is done with every block it was given
            for lease in held[store.id]:
                lease.release()
            held[store.id].clear()
            queue = queues.get(store.id)
            while queue is not None and not queue.empty():
                left = queue.get_nowait()
                if left is not None:
                    left.release()

    writers = {store.id: asyncio.create_task(put(store)) for store in stores}
    failures: dict[str, BaseException] = {}

    def check_writers() -> None:
        for store_id, writer in writers.items():
            if writer.done() and store_id not in failures and writer.exception() is not None:
                failures[store_id] = writer.exception()  # type: ignore[assignment]
                dropped = queues.pop(store_id, None)
                while dropped is not None and not dropped.empty():
                    left = dropped.get_nowait()
                    if left is not None:
                        left.release()
                log.warning("write to store %s failed: %s", store_id, failures[store_id])
        if failures and (all_must_succeed or not queues):
            raise next(iter(failures.values()))

    async def offer(store_id: str, lease: Lease) -> None:
        lease.hold()
        while True:
            queue = queues.get(store_id)
            if queue is None:  # the store failed meanwhile
                lease.release()
                return
            try:
                await asyncio.wait_for(queue.put(lease), timeout=1.0)
                return
            except TimeoutError:
                check_writers()
            except BaseException:
                lease.release()
                raise

    try:
        try:
            async for lease in blocks:
                try:
                    check_writers()
                    for store_id in list(queues):
                        await offer(store_id, lease)
                finally:
                    lease.release()
        finally:
            close = getattr(blocks, "aclose", None)  # an abandoned pipeline stops its hash threads at once
            if close is not None:
                await close()
        for queue in queues.values():
            await queue.put(None)
        if writers:
            await asyncio.wait(writers.values())
        check_writers()
    except BaseException as exc:
        for writer in writers.values():
            writer.cancel()
        results = await asyncio.gather(*writers.values(), return_exceptions=True)
        # a cancelled import was abandoned by a worker that lost its task: what it finished writing has the
        # name the run now owning the task writes to, so it is left alone (at worst an orphan for fsck)
        if not isinstance(exc, asyncio.CancelledError):
            for result in results:
                if isinstance(result, StoredObject):
                    await delete_quietly(stores, result)
        raise
    stored = {store_id: writer.result() for store_id, writer in writers.items() if store_id not in failures}
    return stored, failures


async def delete_quietly(stores: list[Store], stored: StoredObject) -> None:
    for store in stores:
        try:
            await store.delete(stored.url)
            return
        except NotFound:
            continue
        except Exception:
            log.exception("could not remove %s after a failed write", stored.url)
            return
