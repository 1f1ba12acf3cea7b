"""The network service Nova asks about a server's ports and security groups, for scripts/nova-up's Nova, which has no
Neutron: its servers boot with ``"networks": "none"``, so they have no port and no security group, and every list
Nova asks for is empty. It is a stand-in like the fake virt driver, not a network service: it answers only the reads
(``GET /v2.0/<collection>``, an empty list under the collection's name, ``security-groups`` as ``security_groups``)
and refuses every change with Neutron's 404 body. Nova reaches it through ``[neutron] endpoint_override``; it is not
in Keystone's catalog, so no client but Nova's services ever sees it.

``nova_network.py HOST PORT LOG_FILE`` (standard library only)."""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        message = f"No network resources here: {self.command} {urlsplit(self.path).path} (servers boot without one)"
        self._answer(404, {"NeutronError": {"type": "NotFound", "message": message, "detail": ""}})

    def do_GET(self) -> None:
        parts = [part for part in urlsplit(self.path).path.split("/") if part]
        if len(parts) == 2 and parts[0] == "v2.0":
            collection = parts[1].removesuffix(".json").replace("-", "_")
            self._answer(200, {collection: []})
        else:
            self._refuse()

    do_POST = do_PUT = do_DELETE = _refuse

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.log_date_time_string()} {self.address_string()} {format % args}\n")


def main(host: str, port: str, log_file: str) -> None:
    sys.stderr = open(log_file, "a", buffering=1)  # noqa: SIM115 (the process's log, open while it runs)
    ThreadingHTTPServer((host, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main(*sys.argv[1:4])
