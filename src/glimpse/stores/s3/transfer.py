"""Moving bytes: the streamed PUT's body pulled from the event loop by botocore's thread, and multipart
uploads' parts sent from a bounded pool of threads."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextvars
import hashlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import anyio.to_thread

from glimpse.errors import StoreError
from glimpse.stores.base import Block
from glimpse.stores.s3.options import STREAM_READ

if TYPE_CHECKING:
    from glimpse.stores.s3.writes import Writing

log = logging.getLogger(__name__)

T = TypeVar("T")

_background: set[asyncio.Task[None]] = set()


def content_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


# -- threads -----------------------------------------------------------------------------------------------
def in_own_thread(name: str, call: Callable[[], T]) -> concurrent.futures.Future[T]:
    """Run ``call`` in a new thread of its own (a streamed PUT holds one for as long as its client sends),
    in a copy of the caller's context."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()
    context = contextvars.copy_context()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(context.run(call))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


async def finish_anyway(cleanup: Coroutine[Any, Any, None]) -> None:
    """Run a cleanup to its end even when the caller is cancelled meanwhile (it then goes on by itself)."""
    task = asyncio.ensure_future(cleanup)
    _background.add(task)
    task.add_done_callback(_background.discard)
    await asyncio.shield(task)


async def settled(futures: list[concurrent.futures.Future[Any]]) -> None:
    """Wait until each call has ended, whatever its outcome (a running thread cannot be stopped)."""
    if futures:
        await asyncio.gather(*(asyncio.wrap_future(f) for f in futures), return_exceptions=True)


# -- the streamed PUT's body --------------------------------------------------------------------------------
class SourceFailed(Exception):
    """Raised into botocore's sending thread to abandon the request; the real cause is ``SourceBody.failure``."""


class SourceBody:
    """A file-like view of the async source for the sending thread: ``read`` pulls blocks from the event loop.

    Exactly ``size`` bytes are delivered; a source that ends early or goes on longer fails the read (and so
    the request, before its last chunk, so the service stores nothing).
    """

    def __init__(self, source: AsyncIterator[Block], size: int, loop: asyncio.AbstractEventLoop) -> None:
        self._source = source
        self._loop = loop
        self.size = size
        self.position = 0
        self.failure: BaseException | None = None
        self._view = memoryview(b"")
        self._pulling: concurrent.futures.Future[Block | None] | None = None
        self._stopped = False
        self._lock = threading.Lock()

    def __len__(self) -> int:  # botocore's way to learn the length without seeking
        return self.size

    def read(self, amount: int | None = -1) -> bytes:
        if self.failure is not None:
            raise SourceFailed("the source failed")
        while not self._view:
            block = self._pull()
            if block is None:
                if self.position < self.size:
                    self._fail(StoreError(f"Image data ended after {self.position} of the {self.size} bytes announced"))
                return b""
            self._view = memoryview(block).cast("B")
            if self.position + len(self._view) > self.size:
                self._fail(StoreError(f"Image data is longer than the {self.size} bytes announced"))
        limit = STREAM_READ if amount is None or amount < 0 else min(amount, STREAM_READ)
        chunk = bytes(self._view[:limit])
        self._view = self._view[limit:]
        self.position += len(chunk)
        return chunk

    def _pull(self) -> Block | None:
        with self._lock:
            if self._stopped:
                self._fail(StoreError("the upload was abandoned"))
            self._pulling = asyncio.run_coroutine_threadsafe(self._next(), self._loop)
        try:
            return self._pulling.result()
        except BaseException as exc:
            self._fail(exc)
        finally:
            self._pulling = None

    async def _next(self) -> Block | None:
        return await anext(self._source, None)

    def _fail(self, exc: BaseException) -> NoReturn:
        if self.failure is None:
            self.failure = exc
        raise SourceFailed("the source failed") from exc

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        """Only a rewind before anything was sent (botocore retries a request that failed to connect)."""
        if (offset, whence) != (0, 0) or self.position:
            raise OSError("a streamed upload cannot be rewound")
        return 0

    def stop(self) -> None:
        """Make the sending thread give up: its pending (or next) pull from the source fails."""
        with self._lock:
            self._stopped = True
            if self._pulling is not None:
                self._pulling.cancel()


def send_streamed_with_trailer(params: dict[str, Any], **_: Any) -> None:
    """botocore sends a CRC32 *trailer* (which streams) only over TLS, else a header (which reads the body
    twice); a streamed PUT asks for the trailer over plain HTTP too (the service checks it either way)."""
    if isinstance(params.get("body"), SourceBody):
        algorithm = params.get("context", {}).get("checksum", {}).get("request_algorithm")
        if isinstance(algorithm, dict) and algorithm.get("in") == "header":
            algorithm["in"] = "trailer"


# -- one multipart upload -----------------------------------------------------------------------------------
class Multipart:
    """The parts of one upload: at most ``budget`` bytes in flight in ``threads`` threads."""

    def __init__(self, store: Writing, key: str, upload_id: str) -> None:
        self.store = store
        self.key = key
        self.upload_id = upload_id
        self.budget = store.options.thread_pools * store.options.part_size
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=store.options.thread_pools, thread_name_prefix=f"s3-{store.id}-part"
        )
        self._futures: list[concurrent.futures.Future[str]] = []
        self._completing = False
        self._in_flight: dict[concurrent.futures.Future[str], int] = {}

    @property
    def count(self) -> int:
        return len(self._futures)

    async def send(self, data: bytes) -> None:
        """Queue the next part, first waiting until the bytes in flight leave room for it."""
        self._reap()
        while self._in_flight and sum(self._in_flight.values()) + len(data) > self.budget:
            await asyncio.wait([asyncio.wrap_future(f) for f in self._in_flight], return_when=asyncio.FIRST_COMPLETED)
            self._reap()
        number = len(self._futures) + 1
        future = self._executor.submit(self.store._upload_part, self.key, self.upload_id, number, data)
        self._futures.append(future)
        self._in_flight[future] = len(data)

    def _reap(self) -> None:
        """Forget finished parts; the first failure surfaces here (and stops the upload)."""
        for future in [f for f in self._in_flight if f.done()]:
            del self._in_flight[future]
            future.result()

    async def complete(self) -> None:
        etags = [await asyncio.wrap_future(future) for future in self._futures]
        self._executor.shutdown(wait=False)
        parts = [{"ETag": etag, "PartNumber": number} for number, etag in enumerate(etags, start=1)]
        self._completing = True
        await self.store._thread(
            self.store._complete_upload, self.key, self.upload_id, parts, what="cannot complete an upload"
        )

    async def abort(self) -> None:
        """Wait for the parts still being sent, then abort the upload (the service drops its parts). A
        completion whose answer was lost may have made the object: it goes too."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        await settled(list(self._futures))
        try:
            await anyio.to_thread.run_sync(self.store._abort_upload, self.key, self.upload_id)
            if self._completing:
                await anyio.to_thread.run_sync(self.store._remove_object, self.key)
        except Exception:
            log.warning(
                "store %s: could not abort the multipart upload %s of %s; `glimpse fsck --repair` removes it",
                self.store.id,
                self.upload_id,
                self.key,
                exc_info=True,
            )
