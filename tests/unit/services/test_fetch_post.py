"""glimpse.services.fetch.post_each against real HTTP servers on 127.0.0.1: one kept-alive connection for a
batch, every answer's status, receivers that close or answer at length, the SSRF guard, a receiver away."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from glimpse.services.fetch import FetchPolicy, post_each
from tests.webserver import QuietHandler, serving

LOCAL = FetchPolicy(allowed_hosts=("127.0.0.1",), allowed_ports=(), deadline=5.0)


def receiver(
    statuses: list[int], protocol: str = "HTTP/1.1", answer: bytes = b""
) -> tuple[type, list[tuple[int, str, bytes, str]]]:
    seen: list[tuple[int, str, bytes, str]] = []

    class Handler(QuietHandler):
        protocol_version = protocol

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            seen.append((self.client_address[1], self.headers["x-n"], body, self.headers["host"]))
            self.send_response(statuses[len(seen) - 1])
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    return Handler, seen


def run(url: str, count: int, policy: FetchPolicy = LOCAL) -> list[tuple[int | None, str | None]]:
    requests = [(f"body {n}".encode(), {"x-n": str(n)}) for n in range(count)]
    return asyncio.run(post_each(url, requests, policy))


def test_a_batch_goes_over_one_kept_alive_connection() -> None:
    handler, seen = receiver([204, 500, 200])
    with serving(handler) as url:
        assert run(f"{url}/hook?x=1", 3) == [(204, None), (500, None), (200, None)]
    assert [(n, body) for _, n, body, _ in seen] == [("0", b"body 0"), ("1", b"body 1"), ("2", b"body 2")]
    assert len({port for port, *_ in seen}) == 1
    assert seen[0][3] == url.removeprefix("http://")


def test_receivers_that_close_or_answer_at_length() -> None:
    handler, seen = receiver([200, 201], protocol="HTTP/1.0")  # closes after each answer
    with serving(handler) as url:
        assert run(url, 2) == [(200, None), (201, None)]
    assert len({port for port, *_ in seen}) == 2
    handler, seen = receiver([200, 200], answer=b"x" * 200_000)  # more than is read: a new connection
    with serving(handler) as url:
        assert run(url, 2) == [(200, None), (200, None)]


def test_the_guard_and_an_absent_receiver() -> None:
    refused = run("http://169.254.169.254/latest", 2)
    assert [status for status, _ in refused] == [None, None]
    assert all("not public" in (why or "") or "allowed" in (why or "") for _, why in refused)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there
    away = run(f"http://127.0.0.1:{port}/", 3)
    assert away[0] == (None, f"Could not connect to http://127.0.0.1:{port}/")
    assert [why.startswith("not sent: ") for _, why in away[1:]] == [True, True]


def test_a_scheme_other_than_http_is_refused_before_anything_is_sent() -> None:
    [(status, why)] = run("ftp://127.0.0.1/x", 1)
    assert status is None
    assert "scheme" in (why or "")


def test_interim_and_chunked_answers_and_unsafe_headers() -> None:
    """A 100 Continue before the answer is skipped, a chunked answer is read to its end and the connection
    kept; a header value with a line break is never written."""
    answers = [
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ]
    accepted: list[int] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            accepted.append(1)
            with conn:
                for answer in answers:
                    request = b""
                    while not request.endswith(b"body 0") and not request.endswith(b"body 1"):
                        request += conn.recv(4096)
                    conn.sendall(answer)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        assert run(f"http://127.0.0.1:{port}/hook", 2) == [(202, None), (204, None)]
        thread.join(5)
    assert accepted == [1]
    requests = [(b"x", {"x-n": "1\r\nInjected: yes"})]
    with pytest.raises(ValueError, match="invalid header"):
        asyncio.run(post_each(f"http://127.0.0.1:{port}/hook", requests, LOCAL))
