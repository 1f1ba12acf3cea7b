"""python-tuf's fetcher over the SSRF-guarded fetcher (``services/fetch.py``).

TUF's client (``tuf.ngclient.Updater``) is synchronous and runs in a worker thread; every request it makes
goes through :class:`GuardedFetcher`, which hands it to :func:`glimpse.services.fetch.open_stream` on the
server's event loop. So a catalog's metadata and files are fetched with the same checks as a web-download:
scheme (https only here), host and address filtering (no loopback, private or link-local address such as
169.254.169.254 unless listed in ``[catalog] allowed_hosts``), the connection pinned to the checked address,
redirects re-checked, a deadline, and TLS verified against the system's CAs (or ``[catalog] test_ca_file``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

from tuf.api.exceptions import DownloadError, DownloadHTTPError
from tuf.ngclient import FetcherInterface

from glimpse.services import fetch
from glimpse.settings import Settings

T = TypeVar("T")


def catalog_fetch_policy(settings: Settings) -> fetch.FetchPolicy:
    """https only, any port, private addresses only where ``[catalog] allowed_hosts`` lists them."""
    return fetch.FetchPolicy(
        allowed_schemes=("https",),
        allowed_hosts=tuple(settings.catalog_allowed_hosts),
        allowed_ports=(),
        max_bytes=settings.image_size_cap,
        deadline=3600.0,
        ca_file=str(settings.catalog_test_ca_file) if settings.catalog_test_ca_file else None,
    )


BLOCK = 1024 * 1024
"""What one hop from TUF's thread to the event loop brings back: the network's chunks (16 to 64 KiB over TLS)
joined up to about 1 MiB, so a 1 GiB target costs about a thousand thread hops instead of tens of thousands."""


async def _next_block(stream: fetch.RemoteStream, on_bytes: Callable[[int], None] | None, size: int = BLOCK) -> bytes:
    """The stream's next chunks up to about ``size`` bytes; ``on_bytes`` hears of each as it arrives."""
    parts: list[bytes] = []
    total = 0
    async for chunk in stream:
        if on_bytes is not None:
            on_bytes(len(chunk))
        parts.append(chunk)
        total += len(chunk)
        if total >= size:
            break
    if not parts:
        raise StopAsyncIteration
    return parts[0] if len(parts) == 1 else b"".join(parts)


class GuardedFetcher(FetcherInterface):
    """Called from TUF's thread; runs each fetch on ``loop`` (the server's event loop).

    ``on_bytes``, when set, is told the size of every chunk as it arrives, on the event loop (an install's
    progress follows the bytes; it only updates memory, the task's heartbeat writes it at its own interval).
    Each hop to the loop brings back a block of about 1 MiB (:func:`_next_block`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, policy: fetch.FetchPolicy,
                 on_bytes: Callable[[int], None] | None = None) -> None:  # fmt: skip
        self.loop = loop
        self.policy = policy
        self.on_bytes = on_bytes

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def _fetch(self, url: str) -> Iterator[bytes]:
        try:
            stream = self._call(fetch.open_stream(url, self.policy))
        except fetch.RemoteFetchError as exc:
            if exc.status is not None:  # TUF reads 403/404 of the next root as "no newer root"
                raise DownloadHTTPError(exc.message, exc.status) from exc
            raise DownloadError(exc.message) from exc
        return self._chunks(stream)

    def _chunks(self, stream: fetch.RemoteStream) -> Iterator[bytes]:
        try:
            while True:
                try:
                    chunk = self._call(_next_block(stream, self.on_bytes))
                except StopAsyncIteration:
                    return
                except fetch.RemoteFetchError as exc:
                    raise DownloadError(exc.message) from exc
                yield chunk
        finally:
            self._call(stream.aclose())
