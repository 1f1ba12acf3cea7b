"""Fault-injection fixtures: real `glimpse serve` processes that the tests kill -9, starve of disk space,
make read-only, or cut off from their database.

Each test gets its own data directory and database (SQLite or PostgreSQL, from GLIMPSE_TEST_DB) and
three filesystem stores: `local` (the default), `tiny` and `frozen`, the last two for tests that mount
something over their directory. The servers run with `noauth`: a bare request acts as the admin.
Mounting needs root, which CI has: a failed mount fails the test, it never skips it.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.serverproc import GLIMPSE, ManagedProcess, free_port, new_database, server_env, spawn, stop, wait_for_root

STORES = ("local", "tiny", "frozen")
LOGS_KEY = pytest.StashKey[list["FaultServer"]]()


@dataclass
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class FaultServer(ManagedProcess):
    root: Path
    database_url: str
    env: dict[str, str]
    log_file: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def data_dir(self) -> Path:
        return Path(self.env["GLIMPSE_DATA_DIR"])

    def store_dir(self, store: str = "local") -> Path:
        return self.data_dir / "stores" / store

    def store_files(self, store: str = "local") -> list[str]:
        return sorted(p.name for p in self.store_dir(store).iterdir())

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> None:
        for _attempt in range(3):  # another process may take the free port before the server binds it
            self.port = free_port()
            self.process = spawn(self.port, self.env, self.log_file, append=True)
            if wait_for_root(self.process, self.port) == 300:
                return
            stop(self.process)
            if "address already in use" not in self.log_tail().lower():
                break
        pytest.fail(f"glimpse serve did not start:\n{self.log_tail()}", pytrace=False)

    # -- the operator's tool -------------------------------------------------------------------------------
    def fsck(self, *args: str) -> tuple[int, dict[str, Any]]:
        """`glimpse fsck --json ARGS` with this server's settings: (exit code, report)."""
        done = subprocess.run(
            [GLIMPSE, "fsck", "--json", *args], env=self.env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode in (0, 1), f"glimpse fsck failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        report: dict[str, Any] = json.loads(done.stdout)
        return done.returncode, report

    # -- HTTP ----------------------------------------------------------------------------------------------
    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 30
    ) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return Response(response.status, response.read())
        finally:
            conn.close()

    def create_image(self, name: str = "fault") -> str:
        body = json.dumps({"name": name, "disk_format": "raw", "container_format": "bare"})
        response = self.request("POST", "/v2/images", body, {"content-type": "application/json"})
        assert response.status == 201, response.text
        image_id: str = response.json()["id"]
        return image_id

    def upload(self, image_id: str, data: Any, store: str | None = None) -> Response:
        headers = {"content-type": "application/octet-stream"}
        if store is not None:
            headers["x-image-meta-store"] = store
        return self.request("PUT", f"/v2/images/{image_id}/file", data, headers)

    def active_image(self, data: bytes, store: str | None = None) -> str:
        image_id = self.create_image()
        response = self.upload(image_id, data, store)
        assert response.status == 204, response.text
        return image_id

    def image(self, image_id: str) -> dict[str, Any]:
        response = self.request("GET", f"/v2/images/{image_id}")
        assert response.status == 200, response.text
        image: dict[str, Any] = response.json()
        return image

    def status(self, image_id: str) -> str:
        status: str = self.image(image_id)["status"]
        return status

    def wait_for_status(self, image_id: str, status: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while (current := self.status(image_id)) != status:
            assert time.monotonic() < deadline, f"image {image_id} stayed {current!r}, expected {status!r}"
            time.sleep(0.1)

    def assert_active_images_intact(self) -> int:
        """Every active image downloads, and its bytes have the recorded checksum and size."""
        response = self.request("GET", "/v2/images?limit=1000")
        assert response.status == 200, response.text
        checked = 0
        for image in response.json()["images"]:
            if image["status"] != "active":
                continue
            data = self.request("GET", f"/v2/images/{image['id']}/file")
            assert data.status == 200, f"image {image['id']}: download answered {data.status}"
            assert len(data.body) == image["size"], f"image {image['id']}: wrong size"
            digest = hashlib.md5(data.body, usedforsecurity=False).hexdigest()
            assert digest == image["checksum"], f"image {image['id']}: data does not match its checksum"
            checked += 1
        return checked

    def assert_no_traceback(self) -> None:
        assert "Traceback" not in self.log_text(), f"the server logged a traceback:\n{self.log_tail()}"


class SlowUpload(threading.Thread):
    """A client streaming ``chunks`` blocks of ``chunk`` bytes, ``pause`` seconds apart (chunked encoding).

    With ``hold_after=N`` it sends N blocks, then waits until ``release()`` before sending the rest, so a test
    can act while the upload is certainly still in progress, however slow the machine."""

    def __init__(
        self,
        server: FaultServer,
        image_id: str,
        *,
        chunks: int,
        chunk: int,
        pause: float,
        hold_after: int | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.server, self.image_id = server, image_id
        self.chunks, self.chunk, self.pause = chunks, chunk, pause
        self.hold_after = hold_after
        self.held = threading.Event()  # set once the first hold_after blocks are sent
        self._go = threading.Event()
        self.payload = bytes(range(256)) * (chunk // 256)
        self.sent = 0
        self.response: Response | None = None
        self.error: BaseException | None = None

    def release(self) -> None:
        self._go.set()

    def _body(self) -> Iterator[bytes]:
        for index in range(self.chunks):
            if index == self.hold_after:
                self.held.set()
                self._go.wait(timeout=120)
            yield self.payload
            self.sent += len(self.payload)
            time.sleep(self.pause)

    def run(self) -> None:
        try:
            self.response = self.server.upload(self.image_id, self._body())
        except BaseException as exc:  # the server died under us: that is the point
            self.error = exc


MakeServer = Callable[..., FaultServer]


@pytest.fixture
def mounts() -> Iterator[Callable[..., None]]:
    """``mount(*args, target)`` runs mount(8) as root; everything mounted is unmounted at teardown."""
    mounted: list[Path] = []

    def mount(*args: str, target: Path) -> None:
        done = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.fail(f"mount {' '.join(args)} {target} failed (needs root): {done.stderr.strip()}", pytrace=False)
        mounted.append(target)

    yield mount
    for target in reversed(mounted):
        unmount(target)


def is_mount_point(target: Path) -> bool:
    return any(line.split()[1] == str(target) for line in Path("/proc/mounts").read_text().splitlines())


def unmount(target: Path) -> None:
    """Unmount every mount stacked on ``target``."""
    while is_mount_point(target):
        subprocess.run(["umount", str(target)], capture_output=True, check=True)


@pytest.fixture
def make_server(request: pytest.FixtureRequest, tmp_path: Path, mounts: Callable[..., None]) -> Iterator[MakeServer]:
    """``make_server(database_url=None, start=True)``: a server with its own data directory and database."""
    servers: list[FaultServer] = []
    request.node.stash[LOGS_KEY] = servers
    with new_database(tmp_path, prefix="glimpse_fault") as own_database:

        def make(database_url: str | None = None, start: bool = True) -> FaultServer:
            root = tmp_path / f"server{len(servers)}"
            home = root / "home"
            home.mkdir(parents=True)
            env = server_env(root / "data", database_url or own_database, home)
            env.update(
                GLIMPSE_AUTH="noauth",
                GLIMPSE_ENABLED_BACKENDS=",".join(f"{name}:file" for name in STORES),
                GLIMPSE_DEFAULT_BACKEND="local",
                GLIMPSE_DATABASE_BUSY_TIMEOUT="1",
            )
            server = FaultServer(root=root, database_url=own_database, env=env, log_file=root / "server.log")
            for name in STORES:
                server.store_dir(name).mkdir(parents=True)
            servers.append(server)
            if start:
                server.start()
            return server

        try:
            yield make
        finally:
            for server in servers:
                server.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the servers' logs to the report of a failing fault test."""
    report: Any = yield
    if report.failed:
        for index, server in enumerate(item.stash.get(LOGS_KEY, [])):
            report.sections.append((f"glimpse serve log {index} (tail)", server.log_tail()))
    return report  # type: ignore[no-any-return]
