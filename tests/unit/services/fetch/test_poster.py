"""Pipelined webhook POSTs (services/fetch/poster.py) against raw receivers on 127.0.0.1 that show what
reached them and when: the first request alone, then a window on the wire; receivers that close under
unanswered requests, say ``Connection: close`` mid-way, or mishandle pipelining still get every request."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from glimpse.services.fetch import FetchPolicy, post_each

LOCAL = FetchPolicy(allowed_hosts=("127.0.0.1",), allowed_ports=(), deadline=5.0)
OK = b"HTTP/1.1 204 No Content\r\n\r\n"


class Peer:
    """One accepted connection: whole requests read off it (their ``x-n`` header), answers written to it."""

    def __init__(self, conn: socket.socket, number: int, log: list[tuple[int, str]]) -> None:
        self.conn = conn
        self.number = number
        self.log = log
        self.buffer = b""

    def _request(self) -> str | None:
        """The next whole request in the buffer (its ``x-n``), taken off it; None if none is whole."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buffer[:end].decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in head[1:])
        total = end + 4 + int(headers["content-length"])
        if len(self.buffer) < total:
            return None
        self.buffer = self.buffer[total:]
        self.log.append((self.number, headers["x-n"]))
        return headers["x-n"]

    def requests(self, count: int) -> list[str] | None:
        """The next ``count`` requests, reading as needed; None when the client closed first."""
        got: list[str] = []
        while len(got) < count:
            request = self._request()
            if request is not None:
                got.append(request)
                continue
            chunk = self.conn.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        return got

    def received_at_once(self) -> int:
        """Reads once (waiting for data) and counts the whole requests that came: what was on the wire."""
        chunk = self.conn.recv(65536)
        self.buffer += chunk
        count = 0
        while self._request() is not None:
            count += 1
        return count


@contextmanager
def receiver(handle: Callable[[Peer], None]) -> Iterator[tuple[str, list[tuple[int, str]]]]:
    """``http://127.0.0.1:<port>/hook`` of a server running ``handle`` on each connection in turn, and the
    log of ``(connection number, x-n)`` of every request it read."""
    log: list[tuple[int, str]] = []
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        number = 0
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(10)
                with suppress(OSError):
                    handle(Peer(conn, number, log))
            number += 1

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook", log
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def post(url: str, count: int, depth: int, policy: FetchPolicy = LOCAL) -> list[tuple[int | None, str | None]]:
    requests = [(f"body {n}".encode(), {"x-n": str(n)}) for n in range(count)]
    return asyncio.run(post_each(url, requests, policy, depth=depth))


def test_after_the_first_answer_a_window_of_requests_is_on_the_wire_at_once() -> None:
    """The receiver answers nothing until it holds a whole window: one at a time, that would never come."""
    windows: list[int] = []

    def handle(peer: Peer) -> None:
        assert peer.requests(1) == ["0"]  # alone: nothing else was sent before its answer
        peer.conn.sendall(OK)
        while True:
            batch = peer.requests(4)
            if batch is None:
                return
            windows.append(len(batch))
            peer.conn.sendall(OK * len(batch))

    with receiver(handle) as (url, log):
        assert post(url, 13, depth=4) == [(204, None)] * 13
    assert [n for _, n in log] == [str(n) for n in range(13)]
    assert {number for number, _ in log} == {0}
    assert windows == [4, 4, 4]


def test_the_first_request_goes_alone_and_then_the_window_fills() -> None:
    seen: list[int] = []

    def handle(peer: Peer) -> None:
        seen.append(peer.received_at_once())
        peer.conn.sendall(OK)
        seen.append(peer.received_at_once())
        peer.conn.sendall(OK * seen[-1])

    with receiver(handle) as (url, _):
        assert post(url, 9, depth=8) == [(204, None)] * 9
    assert seen == [1, 8]


def test_a_receiver_that_closes_under_unanswered_requests_gets_them_again_on_a_new_connection() -> None:
    def handle(peer: Peer) -> None:
        if peer.number == 0:  # answers three of what it got, then goes away without a word
            assert peer.requests(1) == ["0"]
            peer.conn.sendall(OK)
            assert peer.requests(4) == ["1", "2", "3", "4"]
            peer.conn.sendall(OK * 2)
            return
        while (batch := peer.requests(1)) is not None:
            peer.conn.sendall(OK * len(batch))

    with receiver(handle) as (url, log):
        assert post(url, 8, depth=4) == [(204, None)] * 8
    again = [n for number, n in log if number == 1]
    assert again == ["3", "4", "5", "6", "7"]  # the unanswered ones first, then the rest, in order


def test_an_answer_that_closes_the_connection_ends_the_window_there() -> None:
    close = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

    def handle(peer: Peer) -> None:
        if peer.number == 0:
            assert peer.requests(1) == ["0"]
            peer.conn.sendall(OK)
            peer.requests(3)
            peer.conn.sendall(OK + close)  # 1 answered, 2 answered and the end; 3 is not handled
            return
        while (batch := peer.requests(1)) is not None:
            peer.conn.sendall(OK * len(batch))

    with receiver(handle) as (url, log):
        assert post(url, 5, depth=3) == [(204, None), (204, None), (200, None), (204, None), (204, None)]
    assert [n for number, n in log if number == 1] == ["3", "4"]


def test_a_receiver_that_mishandles_pipelining_still_gets_everything() -> None:
    """It handles one request per read and leaves the rest unread until more data comes: once the client has
    nothing more to send, the answers stop; the unanswered requests time out once, then go again one at a
    time on a new connection."""

    def handle(peer: Peer) -> None:
        while True:
            chunk = peer.conn.recv(65536)
            if not chunk:
                return
            peer.buffer += chunk
            if peer._request() is not None:
                peer.conn.sendall(OK)

    quick = FetchPolicy(allowed_hosts=("127.0.0.1",), allowed_ports=(), deadline=0.5)
    with receiver(handle) as (url, log):
        assert post(url, 6, depth=4, policy=quick) == [(204, None)] * 6
    first = [n for number, n in log if number == 0]
    assert first == [str(n) for n in range(len(first))]
    assert len(first) < 6
    assert [n for number, n in log if number > 0] == [str(n) for n in range(len(first), 6)]


def test_the_first_request_on_a_new_connection_without_an_answer_stops_the_batch() -> None:
    def handle(peer: Peer) -> None:
        if peer.number == 0:
            assert peer.requests(1) == ["0"]
            peer.conn.sendall(OK)
            peer.requests(2)
            return  # goes away under 1 and 2
        peer.requests(1)  # and then answers nothing more, on any connection

    with receiver(handle) as (url, log):
        results = post(url, 4, depth=2)
    assert results[0] == (204, None)
    assert results[1] == (None, f"{url} closed the connection without answering")
    assert [why for _, why in results[2:]] == [f"not sent: {results[1][1]}"] * 2
    assert [n for number, n in log if number == 1] == ["1"]
