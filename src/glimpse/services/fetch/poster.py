"""POSTs to one checked address over kept-alive HTTP/1.1 connections, pipelined (webhooks' deliveries).

httpx costs close to a millisecond of CPU per request here (its client, pool and anyio layers), and h11 (the
protocol engine httpx runs on) still about 0.3 ms, most of it validating and normalising headers; a webhook
dispatch sends many small requests of its own making to one receiver, so this writes the request line and
headers itself (names checked as tokens, values refused with a line break or NUL) over an asyncio
connection, and parses the answers with httptools (llhttp, the C parser uvicorn serves with): each one's
status, its body read and dropped, at most :data:`ANSWER_LIMIT` bytes; interim 1xx answers are skipped. The
connection goes to an address :func:`~glimpse.services.fetch.checks._plan` checked, by number; for https the
TLS server name and certificate check use the host name.

Pipelining (RFC 9112, 9.3.2): once a connection's first answer said it stays open, up to ``depth`` requests
are on the wire at once and their answers are read in order, so a batch costs a write and a read per window
rather than per request, and a distant receiver gets ``depth`` deliveries per round trip instead of one. The
RFC asks a client not to pipeline after a non-idempotent method unless it can detect and recover from a
partial failure: a delivery is idempotent by its ``webhook-id`` (receivers drop duplicates by it), and a
connection that ends under unanswered requests has them sent again on a new connection, one at a time (a
receiver that mishandles pipelining still gets every request). A request is reported without an answer only
when it was the first on a new connection, alone on the wire; then the rest are not sent (the receiver is
away). ``deadline`` bounds the connection and each wait for the next answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections import deque
from collections.abc import Mapping, Sequence

import httptools

from glimpse.services.fetch.checks import _Hop
from glimpse.services.fetch.errors import RemoteFetchError

ANSWER_LIMIT = 64 * 1024  # bytes of a receiver's answer read (and dropped); a longer one closes the connection
READ_SIZE = 16 * 1024
USER_AGENT = "glimpse"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # a header name (RFC 9110, 5.6.2)
_UNSAFE = re.compile(r"[\r\n\0]")  # never in a header value

Result = tuple[int | None, str | None]
"""A request's answer status, or None and why it got none."""


def _head(path: bytes, host: str, length: int, headers: Mapping[str, str]) -> bytes:
    """The request line and headers of a POST of ``length`` bytes."""
    lines = [f"Host: {host}", f"User-Agent: {USER_AGENT}", "Accept-Encoding: identity", f"Content-Length: {length}"]
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name) or _UNSAFE.search(value):
            raise ValueError(f"invalid header {name!r}")
        lines.append(f"{name}: {value}")
    return b"POST " + path + b" HTTP/1.1\r\n" + "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n"


class _Answers:
    """httptools' callbacks for the answers on one connection: each complete one's status and whether the
    connection stays open after it, in order (1xx interim answers skipped); the answer being read."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.complete: deque[tuple[int, bool]] = deque()
        self.status: int | None = None  # of the answer being read, once its headers came
        self.read = 0  # of its body

    def on_message_begin(self) -> None:
        self.status, self.read = None, 0

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.read += len(body)

    def on_message_complete(self) -> None:
        status, self.status, self.read = self.status, None, 0
        if status is None or status < 200:  # interim (100 Continue, 103): the answer follows
            return
        self.complete.append((status, self.parser.should_keep_alive()))

    def cut(self) -> None:
        """The connection ends in the answer being read (it has no length, or is longer than is read): its
        status counts, and nothing follows it."""
        if self.status is not None:
            self.complete.append((self.status, False))
            self.status = None


class Poster:
    """One receiver: :meth:`post_all` sends bodies in order and returns each one's answer."""

    def __init__(self, hop: _Hop, tls: ssl.SSLContext | None, *, deadline: float | None, depth: int = 1) -> None:
        self.hop = hop
        self.tls = tls
        self.deadline = deadline
        self.depth = max(1, depth)
        target = hop.target
        self._path = target.url.raw_path  # the path and query, percent-encoded by httpx's parser
        self._host = target.url.netloc.decode("ascii")
        self._where = target.where

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        target = self.hop.target
        server_hostname = target.host if self.tls is not None and target.literal is None else None
        failure: OSError | None = None
        for address in self.hop.addresses:
            try:
                return await asyncio.open_connection(
                    str(address).split("%", 1)[0], target.port, ssl=self.tls, server_hostname=server_hostname,
                    limit=READ_SIZE,
                )  # fmt: skip
            except ssl.SSLCertVerificationError as exc:
                raise RemoteFetchError(
                    f"Could not connect to {target.where}: the TLS certificate could not be verified"
                ) from exc
            except ssl.SSLError as exc:
                raise RemoteFetchError(f"Could not connect to {target.where}: the TLS handshake failed") from exc
            except OSError as exc:
                failure = exc
        raise RemoteFetchError(f"Could not connect to {target.where}") from failure

    async def post_all(self, requests: Sequence[tuple[bytes, Mapping[str, str]]]) -> list[Result]:
        """POST each ``(body, headers)`` in order; each one's ``(status, None)`` or ``(None, why)``. A header
        that cannot be written raises ValueError before anything is sent."""
        messages = [_head(self._path, self._host, len(body), headers) + body for body, headers in requests]
        results: list[Result] = []
        depth = self.depth
        while len(results) < len(messages):
            answered, failure = await self._exchange(messages, len(results), depth)
            if failure is not None and not answered:  # the first request on a new connection got no answer
                results.append((None, failure))
                results.extend([(None, f"not sent: {failure}")] * (len(messages) - len(results)))
                break
            results.extend((status, None) for status in answered)
            if failure is not None:  # a used connection ended under requests: again, anew, one at a time
                depth = 1
        return results

    async def _exchange(self, messages: Sequence[bytes], start: int, depth: int) -> tuple[list[int], str | None]:
        """Send ``messages[start:]`` over one new connection, the first alone and then up to ``depth`` on
        the wire, until every one was answered or the connection ends: the statuses of the answers, in
        order, and why the connection ended before the last (None: every request was answered, or the
        receiver closes the connection after an answer that said so)."""
        answered: list[int] = []
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(self.deadline):
                reader, writer = await self._connect()
            answers = _Answers()
            written = start
            while start + len(answered) < len(messages):
                window = depth if answered else 1  # alone until the receiver said the connection stays open
                upto = min(len(messages), start + len(answered) + window)
                async with asyncio.timeout(self.deadline):
                    if written < upto:
                        writer.write(b"".join(messages[written:upto]))
                        written = upto
                        await writer.drain()
                    ended = await self._read(reader, answers)
                if len(answers.complete) > written - start - len(answered):
                    return answered, f"{self._where} answered requests it was not sent"
                while answers.complete:
                    status, keep = answers.complete.popleft()
                    answered.append(status)
                    if not keep:  # nothing more on this connection
                        return answered, None
                if ended is not None:
                    return answered, ended
            return answered, None
        except TimeoutError:
            return answered, f"Posting to {self._where} took longer than the deadline"
        except RemoteFetchError as exc:
            return answered, exc.message
        except OSError as exc:
            return answered, f"No valid answer from {self._where}: {type(exc).__name__}"
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(OSError, ssl.SSLError):
                    await writer.wait_closed()

    async def _read(self, reader: asyncio.StreamReader, answers: _Answers) -> str | None:
        """Read until an answer is complete or the connection ends: why it ended (None: it goes on)."""
        while not answers.complete:
            chunk = await reader.read(READ_SIZE)
            if not chunk:  # closed: an answer without a length ends here
                answers.cut()
                return f"{self._where} closed the connection without answering"
            try:
                answers.parser.feed_data(chunk)  # the answers before an error count
            except httptools.HttpParserError as exc:
                return f"No valid answer from {self._where}: {type(exc).__name__}"
            if answers.read > ANSWER_LIMIT:
                answers.cut()
                return f"{self._where} answered at more length than is read"
        return None
