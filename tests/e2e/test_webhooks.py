"""Webhooks end to end: a real `glimpse serve` (tokens auth, its own database: SQLite, or PostgreSQL with
GLIMPSE_TEST_DB=postgresql), python-glanceclient creating and deleting images, and real HTTP receivers on
127.0.0.1 that verify every HMAC signature; a failing receiver gets retries with growing waits and its webhook
is disabled after ``disable_after`` failures; the metadata service's address is refused."""

from __future__ import annotations

import http.server
import itertools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from glimpse.domain.webhooks import verify
from tests import clis
from tests.e2e.conftest import GLANCE, GlimpseServer, create_tokens, launch
from tests.serverproc import new_database
from tests.serverproc import server_env as _server_env
from tests.serverproc import stop as _stop

WAIT = 60.0
CONFIG = """\
[webhooks]
enabled = true
backoff = 0.5
disable_after = 3
max_attempts = 5

[import_filtering_opts]
allowed_hosts = 127.0.0.1
allowed_ports =

[glimpse]
task_heartbeat_interval = 0.2
"""


class Receiver:
    """A real HTTP server answering ``status``; what it got: (time, headers, body)."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.got: list[tuple[float, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    receiver.got.append((time.monotonic(), {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int) -> list[tuple[float, dict[str, str], bytes]]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.got) >= count:
                    return list(self.got)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.got)} of {count} deliveries arrived within {WAIT}s")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GlimpseServer]:
    root = tmp_path_factory.mktemp("e2e-webhooks")
    data_dir, home = root / "data", root / "home"
    home.mkdir()
    config = root / "glimpse.conf"
    config.write_text(CONFIG)
    with new_database(root, prefix="glimpse_e2e_hooks") as database_url:
        env = _server_env(data_dir, database_url, home)
        server = GlimpseServer(url="", tokens=create_tokens(env), log_file=root / "server.log", home=home)
        try:
            launch(server, env, config)
            yield server
        finally:
            if server.process is not None:
                _stop(server.process)


def api(server: GlimpseServer, who: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-Auth-Token": server.tokens[who]}, timeout=30)


def glance(server: GlimpseServer, who: str, *args: str) -> str:
    """`glance ARGS` as WHO, its stdin closed (so image-create uploads nothing)."""
    command = [GLANCE, f"--os-image-url={server.url}", f"--os-auth-token={server.tokens[who]}", *args]
    done = clis.run(command, timeout=120, stdin_closed=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_receiver_verifies_the_signed_events_of_glanceclient_changes(hooked: GlimpseServer) -> None:
    receiver = Receiver(204)
    try:
        with api(hooked, "alpha") as alpha:
            created = alpha.post("/v2/webhooks", json={"url": receiver.url, "events": ["image.create", "image.delete"]})
            assert created.status_code == 201, created.text
            secret = created.json()["secret"]
            assert "secret" not in alpha.get(f"/v2/webhooks/{created.json()['id']}").json()
        out = glance(hooked, "alpha", "image-create", "--name", "e2e-hooked", "--disk-format", "raw",
                     "--container-format", "bare")  # fmt: skip
        image_id = next(line.split("|")[2].strip() for line in out.splitlines() if line.startswith("| id "))
        glance(hooked, "beta", "image-create", "--name", "not-alphas")  # another project's: not sent
        glance(hooked, "alpha", "image-delete", image_id)
        arrived = receiver.wait_for(2)
        time.sleep(1.0)
        assert len(receiver.got) == 2
        for _, headers, body in arrived:
            assert verify(secret, headers, body)
        events = [json.loads(body) for _, _, body in arrived]
        assert [(e["type"], e["subject"]) for e in events] == [
            ("org.openstack.glance.image.create", image_id),
            ("org.openstack.glance.image.delete", image_id),
        ]
        assert events[1]["data"]["deleted"] is True
    finally:
        receiver.close()


def test_a_failing_receiver_is_retried_with_backoff_then_disabled(hooked: GlimpseServer) -> None:
    failing = Receiver(503)
    try:
        with api(hooked, "beta") as beta:
            hook = beta.post("/v2/webhooks", json={"url": failing.url, "events": ["image.create"]}).json()
            beta.post("/v2/images", json={"name": "e2e-unheard", "disk_format": "raw", "container_format": "bare"})
            arrived = failing.wait_for(3)
            deadline = time.monotonic() + WAIT
            while beta.get(f"/v2/webhooks/{hook['id']}").json()["status"] != "disabled":
                assert time.monotonic() < deadline, "the webhook was never disabled"
                time.sleep(0.1)
            time.sleep(2.0)
            assert len(failing.got) == 3  # nothing more for a disabled webhook
            [delivery] = beta.get(f"/v2/webhooks/{hook['id']}/deliveries").json()["deliveries"]
        gaps = [later - earlier for (earlier, _, _), (later, _, _) in itertools.pairwise(arrived)]
        assert gaps[0] >= 0.5, gaps
        assert gaps[1] >= 1.0, gaps  # doubled
        assert len({headers["webhook-id"] for _, headers, _ in arrived}) == 1
        assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("failed", 3, 503)
    finally:
        failing.close()


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/"])
def test_the_metadata_service_is_refused(hooked: GlimpseServer, url: str) -> None:
    with api(hooked, "alpha") as alpha:
        refused = alpha.post("/v2/webhooks", json={"url": url})
    assert refused.status_code == 400
    assert "Webhook URL does not pass filtering" in refused.text


def test_the_server_log_never_shows_a_secret(hooked: GlimpseServer) -> None:
    with api(hooked, "alpha") as alpha:
        secret = alpha.post("/v2/webhooks", json={"url": "http://127.0.0.1:9/x"}).json()["secret"]
    assert secret not in Path(hooked.log_file).read_text(errors="replace")
