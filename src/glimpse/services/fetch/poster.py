"""POSTs to one checked address over one kept-alive HTTP/1.1 connection (webhooks' deliveries).

httpx costs close to a millisecond of CPU per request here (its client, pool and anyio layers), and h11 (the
protocol engine httpx runs on) still about 0.3 ms, most of it validating and normalising headers; a webhook
dispatch sends many small requests of its own making to one receiver, so this writes the request line and
headers itself (names checked as tokens, values refused with a line break or NUL) over one asyncio
connection, and parses the answer with httptools (llhttp, the C parser uvicorn serves with): its status,
then its body read and dropped, at most :data:`ANSWER_LIMIT` bytes; interim 1xx answers are skipped. The
connection goes to an address :func:`~glimpse.services.fetch.checks._plan` checked, by number; for https the
TLS server name and certificate check use the host name. A receiver that closes the connection or answers
without keep-alive gets a new connection for the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Mapping

import httptools

from glimpse.services.fetch.checks import _Hop
from glimpse.services.fetch.errors import RemoteFetchError

ANSWER_LIMIT = 64 * 1024  # bytes of a receiver's answer read (and dropped); a longer one closes the connection
READ_SIZE = 16 * 1024
USER_AGENT = "glimpse"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # a header name (RFC 9110, 5.6.2)
_UNSAFE = re.compile(r"[\r\n\0]")  # never in a header value


def _head(path: bytes, host: str, length: int, headers: Mapping[str, str]) -> bytes:
    """The request line and headers of a POST of ``length`` bytes."""
    lines = [f"Host: {host}", f"User-Agent: {USER_AGENT}", "Accept-Encoding: identity", f"Content-Length: {length}"]
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name) or _UNSAFE.search(value):
            raise ValueError(f"invalid header {name!r}")
        lines.append(f"{name}: {value}")
    return b"POST " + path + b" HTTP/1.1\r\n" + "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n"


class _Answer:
    """httptools' callbacks for one answer: its status (1xx interim answers skipped), how much of its body
    came, whether it ended and may be followed by another request on its connection."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status: int | None = None
        self.read = 0
        self.done = False
        self.keep_alive = False

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.read += len(body)

    def on_message_complete(self) -> None:
        if self.status is not None and self.status < 200:  # interim (100 Continue, 103): the answer follows
            self.status, self.read = None, 0
            return
        self.done = True
        self.keep_alive = self.parser.should_keep_alive()  # (only meaningful while the message is current)


class Poster:
    """One receiver's connection; :meth:`post` sends a body and returns the status."""

    def __init__(self, hop: _Hop, tls: ssl.SSLContext | None) -> None:
        self.hop = hop
        self.tls = tls
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        target = hop.target
        self._path = target.url.raw_path  # the path and query, percent-encoded by httpx's parser
        self._host = target.url.netloc.decode("ascii")

    async def _connect(self) -> None:
        target = self.hop.target
        server_hostname = target.host if self.tls is not None and target.literal is None else None
        failure: OSError | None = None
        for address in self.hop.addresses:
            try:
                self._reader, self._writer = await asyncio.open_connection(
                    str(address).split("%", 1)[0], target.port, ssl=self.tls, server_hostname=server_hostname,
                    limit=READ_SIZE,
                )  # fmt: skip
                return
            except ssl.SSLCertVerificationError as exc:
                raise RemoteFetchError(
                    f"Could not connect to {target.where}: the TLS certificate could not be verified"
                ) from exc
            except ssl.SSLError as exc:
                raise RemoteFetchError(f"Could not connect to {target.where}: the TLS handshake failed") from exc
            except OSError as exc:
                failure = exc
        raise RemoteFetchError(f"Could not connect to {target.where}") from failure

    async def post(self, body: bytes, headers: Mapping[str, str]) -> int:
        """Send ``body``; the receiver's status. Raises RemoteFetchError when there is no (valid) answer."""
        head = _head(self._path, self._host, len(body), headers)
        if self._writer is None:
            await self._connect()
        writer, reader = self._writer, self._reader
        assert writer is not None
        assert reader is not None
        where = self.hop.target.where
        answer = _Answer()
        keep = False
        try:
            writer.write(head + body)
            await writer.drain()
            while not answer.done:
                chunk = await reader.read(READ_SIZE)
                if not chunk:  # closed: an answer without a length ends here
                    break
                answer.parser.feed_data(chunk)
                if answer.read > ANSWER_LIMIT:
                    break
            keep = answer.done and answer.keep_alive
        except (OSError, httptools.HttpParserError) as exc:
            await self.close()
            raise RemoteFetchError(f"No valid answer from {where}: {type(exc).__name__}") from exc
        finally:
            if not keep:  # closed, cut short, or not kept alive: the next request gets a new connection
                await self.close()
        if answer.status is None:
            raise RemoteFetchError(f"{where} closed the connection without answering")
        return answer.status

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
