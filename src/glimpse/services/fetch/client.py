"""Sending the request to a checked address by number, following redirects hop by hop, and streaming the body
within ``max_bytes`` and the deadline; a POST for webhooks.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from types import TracebackType

import httpx

from glimpse.errors import BadRequest, NotFound
from glimpse.services.fetch.addresses import resolve_host
from glimpse.services.fetch.checks import _Hop, _parse, _plan, _refuse, redact
from glimpse.services.fetch.errors import FetchTimeout, FetchTooLarge, RemoteFetchError
from glimpse.services.fetch.policy import FetchPolicy, Resolver
from glimpse.services.fetch.poster import Poster

log = logging.getLogger("glimpse.services.fetch")  # the package's name: what operators filter on

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "glimpse"


def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """The system's trusted certificates, or only those of ``ca_file`` (reloaded when the file changes)."""
    try:
        version = os.stat(ca_file).st_mtime_ns if ca_file else None
    except OSError:
        version = None  # let ssl report the unreadable file
    return _cached_ssl_context(ca_file, version)


@functools.lru_cache(maxsize=8)
def _cached_ssl_context(ca_file: str | None, version: int | None) -> ssl.SSLContext:
    # building one costs ~20 ms (the system store); hostname checking and verification stay on
    return ssl.create_default_context(cafile=ca_file)


def _cause_is(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _remote_error(exc: httpx.HTTPError, where: str) -> RemoteFetchError:
    if isinstance(exc, httpx.TimeoutException):
        return FetchTimeout(f"Fetching {where} timed out")
    if isinstance(exc, httpx.ConnectError):
        if _cause_is(exc, ssl.SSLCertVerificationError):
            return RemoteFetchError(f"Could not connect to {where}: the TLS certificate could not be verified")
        if _cause_is(exc, ssl.SSLError):
            return RemoteFetchError(f"Could not connect to {where}: the TLS handshake failed")
        return RemoteFetchError(f"Could not connect to {where}")
    return RemoteFetchError(f"Fetching {where} failed: {type(exc).__name__}")


def _timeouts(policy: FetchPolicy) -> httpx.Timeout:
    return httpx.Timeout(
        connect=policy.connect_timeout,
        read=policy.read_timeout,
        write=policy.read_timeout,
        pool=policy.connect_timeout,
    )


async def _send(
    hop: _Hop, policy: FetchPolicy, method: str = "GET", body: bytes | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> tuple[httpx.AsyncClient, httpx.Response]:  # fmt: skip
    """Send the request (GET, or ``method`` with ``body``) to the hop's checked addresses, in order, until
    one accepts the connection.

    A new client per hop: its pool is keyed by IP and port, so a connection opened (and verified) for one
    host name is never reused for another name on the same address.
    """
    target = hop.target
    transport = httpx.AsyncHTTPTransport(verify=_ssl_context(policy.ca_file), trust_env=False, retries=0)
    client = httpx.AsyncClient(transport=transport, trust_env=False, follow_redirects=False, timeout=_timeouts(policy))
    headers, extensions = _request_parts(hop, extra_headers)
    try:
        failure: httpx.HTTPError | None = None
        for address in hop.addresses:
            try:
                pinned = target.url.copy_with(host=str(address).split("%", 1)[0])
            except httpx.InvalidURL as exc:
                raise RemoteFetchError(f"Cannot connect to {target.where} at {address}") from exc
            log.debug("fetch: GET %s from %s", target.where, address)
            request = client.build_request(method, pinned, headers=headers, content=body, extensions=extensions)
            try:
                return client, await client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                log.debug("fetch: %s at %s: %s", target.where, address, type(exc).__name__)
                failure = exc
            except httpx.HTTPError as exc:
                raise _remote_error(exc, target.where) from exc
        if failure is None:  # no address at all; _plan never lets that happen
            raise RemoteFetchError(f"Could not connect to {target.where}")
        raise _remote_error(failure, target.where) from failure
    except BaseException:
        await client.aclose()
        raise


def _request_parts(hop: _Hop, extra_headers: Mapping[str, str] | None) -> tuple[dict[str, str], dict[str, str]]:
    """The headers (the name in ``Host``) and extensions (the name for TLS) of a request to a pinned address."""
    target = hop.target
    headers = {
        **(extra_headers or {}),
        "Host": target.url.netloc.decode("ascii"),
        "Accept-Encoding": "identity",
        "User-Agent": USER_AGENT,
    }
    extensions = {"sni_hostname": target.host} if target.url.scheme == "https" and target.literal is None else {}
    return headers, extensions


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.raw_host.lower(), a.port) == (b.scheme, b.raw_host.lower(), b.port)


def _content_length(response: httpx.Response) -> int | None:
    if "transfer-encoding" in response.headers:
        return None
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


class RemoteStream:
    """The body of a fetched response: an async iterator of raw byte chunks, with ``size`` when announced.

    Iterating to the end closes the connection; so does any error, and :meth:`aclose` (use ``async with``
    when the body may be abandoned). Chunks come as they arrive from the network, never decoded.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        response: httpx.Response,
        *,
        where: str,
        size: int | None,
        max_bytes: int | None,
        deadline: float | None,
    ) -> None:
        self._client = client
        self._response = response
        self._chunks: AsyncIterator[bytes] = response.aiter_raw()
        self._max_bytes = max_bytes
        self._deadline = deadline
        self._closed = False
        self.url = where  # the final URL, redacted
        self.size = size  # Content-Length, when the remote sent one
        self.status = response.status_code
        self.content_type = response.headers.get("content-type")
        self.received = 0

    def __aiter__(self) -> RemoteStream:
        return self

    async def __anext__(self) -> bytes:
        if self._closed:
            raise StopAsyncIteration
        try:
            async with asyncio.timeout_at(self._deadline):
                chunk = await anext(self._chunks)
        except StopAsyncIteration:
            await self.aclose()
            raise
        except TimeoutError:
            await self.aclose()
            raise FetchTimeout(f"Fetching {self.url} took longer than the deadline") from None
        except httpx.HTTPError as exc:
            await self.aclose()
            raise _remote_error(exc, self.url) from exc
        except BaseException:
            await self.aclose()
            raise
        self.received += len(chunk)
        if self._max_bytes is not None and self.received > self._max_bytes:
            await self.aclose()
            raise FetchTooLarge(f"The data at {self.url} is larger than the limit of {self._max_bytes} bytes")
        return chunk

    async def aclose(self) -> None:
        """Stop reading and close the connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            if isinstance(self._chunks, AsyncGenerator):
                await self._chunks.aclose()
        finally:
            try:
                await self._response.aclose()
            finally:
                await self._client.aclose()

    async def __aenter__(self) -> RemoteStream:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


async def _open(url: str, policy: FetchPolicy, resolve: Resolver, deadline: float | None) -> RemoteStream:
    current = _parse(url)
    redirects = 0
    while True:
        hop = await _plan(current, policy, resolve)
        where = hop.target.where
        client, response = await _send(hop, policy)
        try:
            if response.status_code in REDIRECT_STATUSES:
                location = response.headers.get("location")
                if not location:
                    raise RemoteFetchError(
                        f"{where} answered {response.status_code} without a Location", response.status_code
                    )
                if redirects >= policy.max_redirects:
                    raise _refuse(where, f"more than {policy.max_redirects} redirects", "max_redirects")
                try:
                    following = current.join(location)
                except httpx.InvalidURL:
                    raise RemoteFetchError(f"{where} redirected to an invalid URL", response.status_code) from None
                if current.scheme == "https" and following.scheme == "http":
                    raise _refuse(where, f"redirect from https to http ({redact(following)})", "https_downgrade")
                if not _same_origin(current, following):
                    following = following.copy_with(userinfo=b"")
                log.debug("fetch: %s redirects (%d) to %s", where, response.status_code, redact(following))
                redirects += 1
                current = following
                await response.aclose()
                await client.aclose()
                continue
            if not 200 <= response.status_code < 300:
                raise RemoteFetchError(
                    f"{where} answered {response.status_code} {response.reason_phrase}".rstrip(),
                    response.status_code,
                )
            size = _content_length(response)
            if policy.max_bytes is not None and size is not None and size > policy.max_bytes:
                raise FetchTooLarge(
                    f"The data at {where} is {size} bytes, larger than the limit of {policy.max_bytes} bytes"
                )
        except BaseException:
            await response.aclose()
            await client.aclose()
            raise
        return RemoteStream(client, response, where=where, size=size, max_bytes=policy.max_bytes, deadline=deadline)


async def open_stream(url: str, policy: FetchPolicy, *, resolver: Resolver | None = None) -> RemoteStream:
    """Check ``url`` against ``policy``, follow its redirects and return its body, ready to iterate.

    Raises :class:`InvalidFetchURL`, :class:`FetchRefused`, :class:`RemoteFetchError` (:class:`FetchTimeout`)
    or :class:`FetchTooLarge` before any byte of the body is returned; the returned stream raises the last
    three while it is read. ``resolver`` replaces :func:`resolve_host` (for tests, or a caching resolver).
    """
    deadline = None if policy.deadline is None else asyncio.get_running_loop().time() + policy.deadline
    try:
        async with asyncio.timeout_at(deadline):
            return await _open(url, policy, resolver or resolve_host, deadline)
    except TimeoutError:
        raise FetchTimeout(f"Fetching {redact(url)} took longer than the deadline") from None


GONE_STATUSES = frozenset({404, 410})


async def open_location(url: str, policy: FetchPolicy, *, resolver: Resolver | None = None) -> RemoteStream:
    """:func:`open_stream` for the HTTP store: a location the web server no longer has (404, 410) is
    ``NotFound``, the error every store raises for missing data, so a download falls back to another copy
    and ``stat`` reports the data missing."""
    try:
        return await open_stream(url, policy, resolver=resolver)
    except RemoteFetchError as exc:
        if exc.status in GONE_STATUSES:
            raise NotFound(f"The data at {redact(url)} is gone: the server answered {exc.status}") from exc
        raise


async def post_each(
    url: str, requests: Sequence[tuple[bytes, Mapping[str, str]]], policy: FetchPolicy, *,
    resolver: Resolver | None = None, depth: int = 1,
) -> list[tuple[int | None, str | None]]:  # fmt: skip
    """POST each ``(body, headers)`` to ``url`` in order, after every check a fetch makes (webhooks): the URL
    is checked and its host resolved and checked once for the batch, and every request goes to the checked
    address over kept-alive connections, up to ``depth`` on the wire at once
    (:class:`~glimpse.services.fetch.poster.Poster`). Each request's ``(status, None)``, or ``(None, why)``
    when it got no answer (``policy.deadline`` bounds the connection and each wait for an answer).
    Redirects are not followed: a 3xx is the answer. After a request without an answer the rest are not
    sent (the receiver is away): they get the same reason."""
    try:
        async with asyncio.timeout(policy.deadline):
            hop = await _plan(_parse(url), policy, resolver or resolve_host)
    except TimeoutError:
        return [(None, f"Resolving the host of {redact(url)} took longer than the deadline")] * len(requests)
    except (BadRequest, RemoteFetchError) as exc:
        return [(None, exc.message)] * len(requests)
    tls = _ssl_context(policy.ca_file) if hop.target.url.scheme == "https" else None
    return await Poster(hop, tls, deadline=policy.deadline, depth=depth).post_all(requests)
