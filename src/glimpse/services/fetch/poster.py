"""POSTs to one checked address over one kept-alive HTTP/1.1 connection (webhooks' deliveries).

httpx costs close to a millisecond of CPU per request here (its client, pool and anyio layers); a webhook
dispatch sends many small requests to one receiver, so this speaks HTTP/1.1 with h11 (the protocol engine
httpx itself runs on) over one asyncio connection: the request line and headers as h11 writes them, the
answer parsed by h11 (status, then its body read and dropped, at most :data:`ANSWER_LIMIT` bytes). The
connection goes to an address :func:`~glimpse.services.fetch.checks._plan` checked, by number; for https the
TLS server name and certificate check use the host name. A receiver that closes the connection or answers
without keep-alive gets a new connection for the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping

import h11

from glimpse.services.fetch.checks import _Hop
from glimpse.services.fetch.errors import RemoteFetchError

ANSWER_LIMIT = 64 * 1024  # bytes of a receiver's answer read (and dropped); a longer one closes the connection
READ_SIZE = 16 * 1024
USER_AGENT = "glimpse"


class Poster:
    """One receiver's connection; :meth:`post` sends a body and returns the status."""

    def __init__(self, hop: _Hop, tls: ssl.SSLContext | None) -> None:
        self.hop = hop
        self.tls = tls
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._h11: h11.Connection | None = None
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
                self._h11 = h11.Connection(h11.CLIENT)
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
        if self._h11 is None or self._h11.our_state is not h11.IDLE:
            await self.close()
            await self._connect()
        connection, writer, reader = self._h11, self._writer, self._reader
        assert connection is not None
        assert writer is not None
        assert reader is not None
        where = self.hop.target.where
        fields = [
            ("Host", self._host),
            ("User-Agent", USER_AGENT),
            ("Accept-Encoding", "identity"),
            ("Content-Length", str(len(body))),
            *headers.items(),
        ]
        try:
            writer.write(
                connection.send(h11.Request(method="POST", target=self._path, headers=fields))
                + connection.send(h11.Data(data=body))
                + connection.send(h11.EndOfMessage())
            )
            await writer.drain()
            status, read = None, 0
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    chunk = await reader.read(READ_SIZE)
                    connection.receive_data(chunk)
                    continue
                if isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    read += len(event.data)
                    if read > ANSWER_LIMIT:
                        await self.close()
                        break
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    break
        except (OSError, h11.ProtocolError) as exc:
            await self.close()
            raise RemoteFetchError(f"No valid answer from {where}: {type(exc).__name__}") from exc
        if status is None:
            await self.close()
            raise RemoteFetchError(f"{where} closed the connection without answering")
        if self._h11 is not None:
            if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
                self._h11.start_next_cycle()
            else:
                await self.close()
        return status

    async def close(self) -> None:
        writer, self._writer, self._reader, self._h11 = self._writer, None, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
