"""A real HTTP server on 127.0.0.1 for the tests that fetch from the web (web-download, the http store,
locations): the test writes the handler, this runs it on a free port and shuts it down afterwards."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that keeps the test output free of its access log."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a threading server running ``handler``, for as long as the block runs."""
    with _running(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)) as port:
        yield f"http://127.0.0.1:{port}"


@contextmanager
def _running(server: http.server.ThreadingHTTPServer) -> Iterator[int]:
    threading.Thread(target=server.serve_forever, name="test-web-server", daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def bytes_handler(data: bytes) -> type[http.server.BaseHTTPRequestHandler]:
    """A handler answering every GET with ``data`` (and its Content-Length)."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def serving_directory_tls(directory: Path, cert: Path, key: Path, host: str = "localhost") -> Iterator[str]:
    """``https://<host>:<port>`` of a static file server over ``directory`` with TLS (``cert``/``key``)."""
    import functools
    import ssl

    handler = functools.partial(_QuietFiles, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with _running(server) as port:
        yield f"https://{host}:{port}"


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass
