"""Writing: one streamed PUT for a small image, a static large object (segments, then the manifest) for a
large one, fed from the event loop to the uploading thread; deleting objects and their segments."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import secrets
from collections import deque
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import anyio.to_thread
import swiftclient

from glimpse.errors import StoreError
from glimpse.stores.base import Block, StoredObject
from glimpse.stores.swift.connection import (
    FEED_DEPTH,
    GROW_EVERY,
    MAX_OBJECT_SIZE,
    MAX_SEGMENTS,
    SEGMENTS_SUFFIX,
    UNSIZED_SINGLE_PUT,
    UPLOAD_META,
    SwiftBase,
    UploadAborted,
)

log = logging.getLogger(__name__)


# -- the data path between the event loop and an upload's thread ---------------------------------------------
class _Feed:
    """The blocks of one upload, from the event loop (``send``) to the thread that PUTs them (the rest)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.send, self.receive = anyio.create_memory_object_stream[bytes](FEED_DEPTH)
        self.aborted = False
        self._loop = loop
        self._pending: deque[bytes] = deque()
        self._pending_bytes = 0
        self._ended = False

    # thread side
    def _pull(self) -> bool:
        """One more block into the pending ones; False at the end of the stream."""
        while not self._ended:
            try:
                block = self._receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                if self.aborted:
                    raise UploadAborted from None
                self._ended = True
                return False
            if block:
                self._pending.append(block)
                self._pending_bytes += len(block)
                return True
        return False

    def _receive(self) -> bytes:
        pending = asyncio.run_coroutine_threadsafe(self.receive.receive(), self._loop)
        while True:
            try:
                return pending.result(timeout=5)
            except TimeoutError:
                if self._loop.is_closed() or not self._loop.is_running():  # nobody will ever send the rest
                    pending.cancel()
                    raise UploadAborted from None

    def buffer(self, limit: int) -> bool:
        """Hold up to ``limit`` bytes (plus one block): True when the stream ends within them."""
        while self._pending_bytes <= limit:
            if not self._pull():
                return True
        return False

    def take_buffered(self) -> bytes:
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        return data

    def at_end(self) -> bool:
        return not self._pending and not self._pull()

    def drained(self) -> bool:
        """Everything the event loop sent was taken (and the stream ended normally)."""
        return self._ended and not self._pending

    def take(self, limit: int | None, counter: list[int]) -> Iterator[bytes]:
        """A request body: the next ``limit`` bytes (all that is left when None); ``counter[0]`` counts them."""
        left = limit
        while left is None or left > 0:
            if not self._pending and not self._pull():
                return
            head = self._pending[0]
            if left is not None and len(head) > left:
                piece, self._pending[0] = head[:left], head[left:]
            else:
                piece = self._pending.popleft()
            self._pending_bytes -= len(piece)
            counter[0] += len(piece)
            if left is not None:
                left -= len(piece)
            yield piece

    def close_receiving(self) -> None:
        self._loop.call_soon_threadsafe(self.receive.close)


async def _settle(task: asyncio.Future[Any]) -> None:
    """Wait until ``task`` is done, whatever its outcome and even when we are being cancelled meanwhile (the
    cancellation then goes on once it is done)."""
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


class SwiftWriter(SwiftBase):
    """Puts (single or segmented) and deletes, each undone or cleaned up when it fails."""

    # -- put ------------------------------------------------------------------------------------------------
    async def put(self, key: str, blocks: AsyncIterator[Block], size_hint: int | None = None) -> StoredObject:
        if not key or key.startswith("/"):
            raise StoreError(f"Store {self.id} cannot store an object under the key {key!r}")
        prefix = await anyio.to_thread.run_sync(self._prefix)
        loop = asyncio.get_running_loop()
        feed = _Feed(loop)
        # a thread of its own for the whole upload (not one of the shared worker threads, which it would hold
        # for as long as the client takes to send the image)
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"swift-{self.id}")
        writer = asyncio.ensure_future(loop.run_in_executor(thread, self._upload, key, feed, size_hint))
        thread.shutdown(wait=False)  # the thread ends with the upload
        try:
            try:
                async for block in blocks:
                    if writer.done():
                        break
                    await feed.send.send(bytes(block))
            except anyio.BrokenResourceError:
                pass  # the writer stopped; awaiting it tells why
            except BaseException:
                feed.aborted = True  # before the close: the writer must not take the end for a complete image
                raise
            finally:
                feed.send.close()
            container, name, size = await asyncio.shield(writer)
        except BaseException:
            await self._undo(writer)
            raise
        return StoredObject(url=self._url(prefix, container, name), size=size)

    async def _undo(self, writer: asyncio.Future[tuple[str, str, int]]) -> None:
        """After a failed or cancelled put: wait for its writer (which removes what it wrote when it fails),
        and remove the object when the writer completed all the same."""
        await _settle(writer)
        if writer.cancelled() or writer.exception() is not None:
            return
        container, name, _ = writer.result()
        removal = asyncio.ensure_future(anyio.to_thread.run_sync(self._delete, container, name))
        await _settle(removal)
        if not removal.cancelled() and (exc := removal.exception()) is not None:
            log.warning("store %s: could not remove %s/%s after a cancelled write: %s", self.id, container, name, exc)

    def _upload(self, key: str, feed: _Feed, size_hint: int | None) -> tuple[str, str, int]:
        """The writing thread: one PUT, or segments then their manifest. Returns (container, name, size)."""
        try:
            container = self._container_for(key)
            self._ensure_container(container)
            if size_hint is not None and size_hint <= self.large_object_size:
                return container, key, self._put_single(container, key, feed)
            if size_hint is None and feed.buffer(min(self.large_object_size, UNSIZED_SINGLE_PUT)):
                data = feed.take_buffered()
                self._call("cannot write", lambda conn: conn.put_object(container, key, data))
                return container, key, len(data)
            return container, key, self._put_large(container, key, feed, size_hint)
        finally:
            feed.close_receiving()

    def _ready(self, conn: swiftclient.Connection, container: str) -> None:
        """The container exists (created when the store may). Touching it also renews an expired token."""
        try:
            conn.head_container(container)
        except swiftclient.ClientException as exc:
            if exc.http_status != 404:
                raise
            if not self.create_container_on_put:
                raise StoreError(
                    f"Store {self.id}: container {container} does not exist (and "
                    f"swift_store_create_container_on_put is off)"
                ) from None
            conn.put_container(container)

    def _ensure_container(self, container: str) -> None:
        # One at a time: Swift's proxy caches a container's 404 (for a tenth of its existence recheck time)
        # when a HEAD's answer comes back, and a HEAD sent before another thread's container PUT can answer
        # after it, leaving the new container cached as missing, so that object PUTs get 404 for seconds.
        # Serialised, every HEAD after the first creation sees the container.
        with self._container_lock:
            self._call(f"cannot use container {container}", self._ready, container)

    def _put_single(self, container: str, key: str, feed: _Feed) -> int:
        sent = [0]
        try:
            self._call("cannot write", self._stream, container, key, feed.take(None, sent))
        except BaseException:
            if feed.drained():
                # the whole body went out: the object may exist although the answer was lost
                self._remove_quietly(container, key)
            raise
        return sent[0]

    def _stream(
        self, conn: swiftclient.Connection, container: str, name: str, body: Iterator[bytes], **kwargs: Any
    ) -> str:
        """PUT a streamed body. The container is touched first: that renews an expired token (a streamed
        body cannot be sent twice, so the PUT itself must not meet a 401)."""
        self._ready(conn, container)
        etag: str = conn.put_object(container, name, contents=body, **kwargs)
        return etag

    def _segment_size(self, index: int, size_hint: int | None) -> int:
        chunk = self.large_object_chunk_size
        if size_hint is not None:
            size = max(chunk, math.ceil(size_hint / MAX_SEGMENTS))
        else:
            size = chunk << min(index // GROW_EVERY, 40)
        return min(size, MAX_OBJECT_SIZE)

    def _put_large(self, container: str, key: str, feed: _Feed, size_hint: int | None) -> int:
        segments_container = container + SEGMENTS_SUFFIX
        self._ensure_container(segments_container)
        if feed.at_end():  # a size hint above the threshold, and no data: an empty object, not an empty SLO
            self._call("cannot write", lambda conn: conn.put_object(container, key, b""))
            return 0
        token = secrets.token_hex(8)
        manifest: list[dict[str, object]] = []
        total = 0
        manifest_sent = False
        try:
            while True:
                name = f"{key}/{token}/{len(manifest) + 1:08d}"
                sent = [0]
                body = feed.take(self._segment_size(len(manifest), size_hint), sent)
                etag = self._call("cannot write a segment", self._stream, segments_container, name, body)
                manifest.append({"path": f"/{segments_container}/{name}", "etag": etag, "size_bytes": sent[0]})
                total += sent[0]
                if feed.at_end():
                    break
            document = json.dumps(manifest)
            manifest_sent = True
            self._call(
                "cannot write the manifest",
                lambda conn: conn.put_object(
                    container,
                    key,
                    document,
                    query_string="multipart-manifest=put",
                    headers={UPLOAD_META: token},
                    content_type="application/octet-stream",
                ),
            )
        except BaseException:
            if manifest_sent:
                self._remove_quietly(container, key)
            self._remove_group_quietly(segments_container, f"{key}/{token}/")
            raise
        return total

    # -- removal (thread side) ----------------------------------------------------------------------------
    def _delete_object(self, conn: swiftclient.Connection, container: str, name: str) -> bool:
        try:
            conn.delete_object(container, name)
        except swiftclient.ClientException as exc:
            if exc.http_status != 404:
                raise
            return False
        return True

    def _remove_quietly(self, container: str, name: str) -> None:
        try:
            self._call("cannot delete", self._delete_object, container, name)
        except Exception as exc:
            log.warning("store %s: could not remove %s/%s after a failed write: %s", self.id, container, name, exc)

    def _remove_group_quietly(self, container: str, group: str) -> None:
        try:
            self._remove_group(container, group)
        except Exception as exc:
            log.warning("store %s: could not remove the segments %s/%s: %s", self.id, container, group, exc)

    def _remove_group(self, container: str, group: str) -> None:
        """Delete every object named ``group*`` (the segments of one upload)."""

        def names(conn: swiftclient.Connection) -> list[str]:
            try:
                return [item["name"] for item in conn.get_container(container, prefix=group, full_listing=True)[1]]
            except swiftclient.ClientException as exc:
                if exc.http_status != 404:
                    raise
                return []

        for name in self._call("cannot list segments", names):
            self._call("cannot delete a segment", self._delete_object, container, name)

    def _delete(self, container: str, name: str) -> None:
        if container.endswith(SEGMENTS_SUFFIX) and name.endswith("/"):
            self._remove_group(container, name)  # an unfinished write's segments, as list_objects shows them
            return

        def manifest(conn: swiftclient.Connection) -> list[dict[str, Any]] | None:
            """The segments of an SLO (None: no such object; [] for an ordinary object)."""
            try:
                headers = conn.head_object(container, name)
                if headers.get("x-static-large-object", "").lower() != "true":
                    return []
                segments: list[dict[str, Any]] = json.loads(
                    conn.get_object(container, name, query_string="multipart-manifest=get")[1]
                )
                return segments
            except swiftclient.ClientException as exc:
                if exc.http_status != 404:
                    raise
                return None

        segments = self._call("cannot read", manifest)
        if segments is None:
            return
        self._call("cannot delete", self._delete_object, container, name)
        for segment in segments:
            seg_container, _, seg_name = str(segment["name"]).lstrip("/").partition("/")
            self._call("cannot delete a segment", self._delete_object, seg_container, seg_name)
