"""A tiny building block of the data path: a thread that runs blocking calls in order, ahead of the loop."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any


class SerialWorker:
    """One thread running submitted calls in submission order.

    ``submit`` returns as soon as the call is queued, waiting only while ``limit`` calls are already queued,
    so the event loop keeps receiving while the thread works (and memory stays bounded). An error in a
    call surfaces on a later ``submit`` or on ``drain``. Use as an async context manager: leaving the block
    normally drains; leaving it on an exception waits for queued calls and discards their results.
    """

    def __init__(self, limit: int = 3, name: str = "serial") -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pending: deque[asyncio.Future[Any]] = deque()
        self._limit = limit

    async def submit(self, call: Callable[..., Any], *args: Any) -> None:
        while len(self._pending) >= self._limit:
            await self._pending.popleft()
        self._pending.append(asyncio.get_running_loop().run_in_executor(self._executor, call, *args))

    async def drain(self) -> None:
        while self._pending:
            await self._pending.popleft()

    async def __aenter__(self) -> SerialWorker:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                await self.drain()
        finally:
            if self._pending:
                await asyncio.gather(*self._pending, return_exceptions=True)
                self._pending.clear()
            self._executor.shutdown(wait=False)
