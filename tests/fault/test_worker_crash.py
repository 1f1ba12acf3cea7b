"""kill -9 of a `glimpse worker` in the middle of an import, and two workers sharing one queue.

The server runs with `[glimpse] worker_in_process = false` and short task timings from its INI file
(GLIMPSE_CONFIG); the imports are web-downloads from a local HTTP server that stalls its first answer
half-way, so the kill always lands while the worker holds the task and has written part of the image.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.fault.conftest import FaultServer, MakeServer
from tests.serverproc import backend, kill, spawn_worker, stop

CONFIG = """\
[glimpse]
worker_in_process = {in_process}
task_heartbeat_interval = 0.2
task_stale_after = 2
task_max_attempts = {attempts}

[import_filtering_opts]
allowed_hosts = 127.0.0.1
allowed_ports =
"""
DATA = os.urandom(12 << 20)
STALL_AFTER = 6 << 20  # the first answer stops here: one 4 MiB block is in the store by then
BLOCK = 4 << 20


class Source:
    """An HTTP server with one image at /image.raw. The first ``stalls`` answers send STALL_AFTER bytes and
    then hang until ``release`` (then send the rest if ``resume``, else end short); later answers send
    everything (``later`` when given: the image changed at the source), ``pause`` seconds between 256 KiB
    chunks."""

    def __init__(
        self, data: bytes, *, stalls: int = 0, pause: float = 0.0, host: str = "127.0.0.1", later: bytes | None = None
    ) -> None:
        self.data, self.stalls, self.pause = data, stalls, pause
        self.later = data if later is None else later
        self.served = 0
        self.release = threading.Event()
        self.resume = False  # whether a stalled answer sends the rest once released, or ends there
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/image.raw":
                    self.send_error(404)
                    return
                with owner.lock:
                    owner.served += 1
                    stall = owner.served <= owner.stalls
                data = owner.data if stall else owner.later
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    if stall:
                        self.wfile.write(owner.data[:STALL_AFTER])
                        self.wfile.flush()
                        if owner.release.wait(60) and owner.resume:
                            self.wfile.write(owner.data[STALL_AFTER:])
                        return
                    for start in range(0, len(data), 256 << 10):
                        self.wfile.write(data[start : start + (256 << 10)])
                        time.sleep(owner.pause)
                except OSError:  # the worker reading this died
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}/image.raw"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def source() -> Iterator[Callable[..., Source]]:
    made: list[Source] = []

    def make(data: bytes = DATA, **options: Any) -> Source:
        made.append(Source(data, **options))
        return made[-1]

    yield make
    for server in made:
        server.close()


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log_file: Path

    def log_text(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace") if self.log_file.exists() else ""


@pytest.fixture
def workers() -> Iterator[Callable[[FaultServer], WorkerProcess]]:
    """``start(server)``: a `glimpse worker` with the server's settings, running once it logged its start."""
    started: list[WorkerProcess] = []

    def start(server: FaultServer) -> WorkerProcess:
        log_file = server.root / f"worker{len(started)}.log"
        worker = WorkerProcess(spawn_worker(server.env, log_file), log_file)
        started.append(worker)
        deadline = time.monotonic() + 60
        while "task worker" not in worker.log_text() or " started" not in worker.log_text():
            assert worker.process.poll() is None, f"glimpse worker exited:\n{worker.log_text()}"
            assert time.monotonic() < deadline, f"glimpse worker did not start:\n{worker.log_text()}"
            time.sleep(0.05)
        return worker

    yield start
    for worker in started:
        stop(worker.process)


def configure(server: FaultServer, attempts: int = 2, *, in_process: bool = False) -> None:
    config = server.root / "glimpse.conf"
    config.write_text(CONFIG.format(attempts=attempts, in_process=str(in_process).lower()))
    server.env["GLIMPSE_CONFIG"] = str(config)


def start_import(server: FaultServer, url: str, image_id: str | None = None) -> str:
    """POST a web-download import of ``url`` (into a new image unless ``image_id``); returns the image's id."""
    image_id = image_id or server.create_image("imported")
    body = json.dumps({"method": {"name": "web-download", "uri": url}})
    response = server.request("POST", f"/v2/images/{image_id}/import", body, {"content-type": "application/json"})
    assert response.status == 202, response.text
    return image_id


def settled(server: FaultServer, image_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        image = server.image(image_id)
        if image["status"] != "importing" and not image.get("os_glance_importing_to_stores"):
            return image
        assert time.monotonic() < deadline, f"the import of {image_id} did not settle: {image}"
        time.sleep(0.1)


def task_rows(server: FaultServer) -> list[dict[str, Any]]:
    """Straight from the database: what the tasks API does not show (attempts, the claiming worker)."""
    engine = sa.create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT id, image_id, status, attempts, claimed_by FROM tasks ORDER BY created_at")
            return [dict(row._mapping) for row in conn.execute(query)]
    finally:
        engine.dispose()


def image_tasks(server: FaultServer, image_id: str) -> list[dict[str, Any]]:
    response = server.request("GET", f"/v2/images/{image_id}/tasks")
    assert response.status == 200, response.text
    tasks: list[dict[str, Any]] = response.json()["tasks"]
    return tasks


def wait_for_partial(server: FaultServer, image_id: str, size: int) -> str:
    """The name of the worker's unfinished write once it holds ``size`` bytes."""
    deadline = time.monotonic() + 60
    while True:
        for name in server.store_files():
            partial = name.startswith(image_id) and name.endswith(".partial")
            if partial and (server.store_dir() / name).stat().st_size >= size:
                return name
        assert time.monotonic() < deadline, f"the import never wrote {size} bytes: {server.store_files()}"
        time.sleep(0.02)


def pause_outside_a_write(server: FaultServer, worker: WorkerProcess) -> None:
    """SIGSTOP the worker. On PostgreSQL anywhere: a transaction it is stopped in ends after task_stale_after
    (idle_in_transaction_session_timeout) and its locks with it. SQLite has no such timeout: a process stopped
    inside a write transaction (a heartbeat, every 0.2 s here) keeps the database's write lock until it runs
    again, which no other process can take from it. There the worker is stopped at a moment it holds no write
    lock: stopped, then let go and stopped again a moment later while the lock turns out to be held."""
    worker.process.send_signal(signal.SIGSTOP)
    if backend() != "sqlite":
        return
    path = sa.make_url(server.database_url).database
    assert path
    for _ in range(100):
        probe = sqlite3.connect(path, timeout=0.05, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")  # the write lock, if nobody holds it
            probe.execute("ROLLBACK")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
        finally:
            probe.close()
        worker.process.send_signal(signal.SIGCONT)
        time.sleep(0.03)
        worker.process.send_signal(signal.SIGSTOP)
    pytest.fail("the worker held SQLite's write lock at every one of 100 pauses")


def kill_mid_import(server: FaultServer, worker: WorkerProcess, image_id: str) -> str:
    """kill -9 the worker once it has written a block of the image; returns the partial file it leaves."""
    partial = wait_for_partial(server, image_id, BLOCK)
    [task] = task_rows(server)
    assert (task["status"], task["attempts"]) == ("processing", 1)
    assert f":{worker.process.pid}:" in task["claimed_by"]
    assert server.status(image_id) == "importing"
    kill(worker.process)
    return partial


def copy_of(server: FaultServer, image_id: str) -> str:
    """The one finished copy of the image's data in the store (each import attempt writes its own,
    ``<image id>.attempt-<token>``)."""
    [done] = [name for name in server.store_files() if name.startswith(image_id) and not name.endswith(".partial")]
    assert done.startswith(f"{image_id}.attempt-"), done
    return done


def assert_imported(server: FaultServer, image: dict[str, Any], data: bytes) -> None:
    assert image["status"] == "active", image
    assert (image["size"], image["stores"]) == (len(data), "local")
    assert image["checksum"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert image["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert image["os_glance_importing_to_stores"] == ""
    assert image["os_glance_failed_import"] == ""
    assert "os_glance_import_task" not in image  # the import's lock is dropped, as Glance does
    assert server.request("GET", f"/v2/images/{image['id']}/file").body == data


def finding_kinds(report: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((finding["kind"], Path(finding["url"] or "").name) for finding in report["findings"])


def test_a_killed_worker_s_import_is_retried_and_succeeds(
    make_server: MakeServer, workers: Callable[[FaultServer], WorkerProcess], source: Callable[..., Source]
) -> None:
    server = make_server(start=False)
    configure(server, attempts=2)
    server.start()
    first = workers(server)
    web = source(stalls=1)
    image_id = start_import(server, web.url)
    partial = kill_mid_import(server, first, image_id)

    second = workers(server)  # reaps the task once its heartbeat is 2 s old, then runs it again
    image = settled(server, image_id)
    assert_imported(server, image, DATA)
    [task] = image_tasks(server, image_id)
    assert (task["image_id"], task["status"]) == (image_id, "success")
    [row] = task_rows(server)
    assert (row["status"], row["attempts"]) == ("success", 2)
    assert f":{second.process.pid}:" in row["claimed_by"]
    assert "stopped; retrying (attempt 2 of 2)" in second.log_text()
    assert web.served == 2

    # the killed worker's unfinished write is still there. While a worker runs (it holds the data directory
    # like a server does) fsck cannot tell it from a write in progress; with everything stopped it is an orphan
    done = copy_of(server, image_id)
    assert server.store_files() == sorted([done, partial])
    server.stop()
    if backend() == "postgresql":
        # except by the writer locks: no attempt of this import runs any more, so fsck on any node removes
        # the dead attempt's write while the worker serves on
        code, report = server.fsck("--repair")
        assert (code, report["uploads_may_run"]) == (0, True)
        assert finding_kinds(report) == [("orphan", partial)]
        assert server.store_files() == [done]
        stop(second.process)
        code, report = server.fsck()
        assert (code, report["findings"]) == (0, [])
        server.assert_no_traceback()
        return
    code, report = server.fsck("--repair")
    assert (code, report["uploads_may_run"]) == (0, True)
    assert finding_kinds(report) == [("in_progress", partial)]
    assert server.store_files() == sorted([done, partial])
    stop(second.process)
    code, report = server.fsck()
    assert code == 1
    assert finding_kinds(report) == [("orphan", partial)]
    server.start()  # the start-up recovery removes it
    assert server.store_files() == [done]
    assert f"start-up recovery: removed {(server.store_dir() / partial).as_uri()}" in server.log_text()
    code, report = server.fsck()
    assert (code, report["findings"]) == (0, [])
    assert server.assert_active_images_intact() == 1
    server.assert_no_traceback()


def test_a_server_killed_mid_import_restarts_clean_at_once(
    make_server: MakeServer, source: Callable[..., Source]
) -> None:
    """kill -9 of a server whose in-process worker is writing an import: the restart's recovery removes the
    dead attempt's unfinished write at once (the image is still `importing`, but no process can be writing
    it), and the retried import then leaves exactly the image's data: no second restart, no fsck --repair."""
    server = make_server(start=False)
    configure(server, attempts=2, in_process=True)
    server.start()
    web = source(stalls=1)
    image_id = start_import(server, web.url)
    partial = wait_for_partial(server, image_id, BLOCK)
    assert server.status(image_id) == "importing"
    server.kill()

    server.start()
    assert partial not in server.store_files()  # gone before the server served anything
    assert f"start-up recovery: removed {(server.store_dir() / partial).as_uri()}" in server.log_text()
    image = settled(server, image_id)  # reaped once its heartbeat is 2 s old, then run again
    assert_imported(server, image, DATA)
    assert web.served == 2
    assert server.store_files() == [copy_of(server, image_id)]
    server.stop()
    code, report = server.fsck()
    assert (code, report["findings"]) == (0, [])
    server.assert_no_traceback()


def test_a_killed_worker_s_import_fails_after_its_last_attempt(
    make_server: MakeServer, workers: Callable[[FaultServer], WorkerProcess], source: Callable[..., Source]
) -> None:
    server = make_server(start=False)
    configure(server, attempts=1)
    server.start()
    first = workers(server)
    web = source(stalls=1)
    image_id = start_import(server, web.url)
    partial = kill_mid_import(server, first, image_id)

    second = workers(server)
    image = settled(server, image_id)
    assert image["status"] == "queued"
    assert image["os_glance_failed_import"] == "local"
    assert image["os_glance_importing_to_stores"] == ""
    assert image["checksum"] is None
    [task] = image_tasks(server, image_id)
    assert task["status"] == "failure"
    assert "stopped responding" in task["message"]
    [row] = task_rows(server)
    assert (row["status"], row["attempts"]) == ("failure", 1)
    assert web.served == 1  # never run again

    stop(second.process)
    server.stop()
    code, report = server.fsck("--repair")
    assert code == 0, report
    assert finding_kinds(report) == [("orphan", partial)]
    assert report["findings"][0]["repaired"] is True
    assert server.store_files() == []

    # the image takes a new import
    server.start()
    workers(server)
    image = settled(server, start_import(server, source().url, image_id))
    assert_imported(server, image, DATA)
    code, report = server.fsck()
    assert (code, report["findings"]) == (0, [])
    server.assert_no_traceback()


def test_two_workers_never_run_the_same_task(
    make_server: MakeServer, workers: Callable[[FaultServer], WorkerProcess], source: Callable[..., Source]
) -> None:
    server = make_server(start=False)
    configure(server)
    server.start()
    pair = [workers(server), workers(server)]
    data = os.urandom(3 << 20)
    web = source(data, pause=0.04)  # about 0.5 s per import, so both workers are busy at once
    images = [start_import(server, web.url) for _ in range(6)]

    for image_id in images:
        assert_imported(server, settled(server, image_id), data)
    rows = task_rows(server)
    assert sorted(row["image_id"] for row in rows) == sorted(images)
    assert {(row["status"], row["attempts"]) for row in rows} == {("success", 1)}
    assert web.served == 6  # each task fetched its image once: no task ran twice
    claims = {
        worker.process.pid: [row["id"] for row in rows if f":{worker.process.pid}:" in row["claimed_by"]]
        for worker in pair
    }
    assert sorted(task_id for ids in claims.values() for task_id in ids) == sorted(row["id"] for row in rows)
    assert all(claims.values()), f"one worker took every task: {claims}"
    logs = "".join(worker.log_text() for worker in pair)
    for row in rows:
        assert logs.count(f"task {row['id']} (") == 1  # claimed once, by one worker
    response = server.request("GET", "/v2/tasks?limit=100")
    assert sorted(task["status"] for task in response.json()["tasks"]) == ["success"] * 6
    server.assert_no_traceback()


@pytest.mark.parametrize("download", ["completes-with-other-bytes", "fails"])
def test_a_paused_worker_that_lost_its_task_does_not_undo_the_retry(
    make_server: MakeServer,
    workers: Callable[[FaultServer], WorkerProcess],
    source: Callable[..., Source],
    download: str,
) -> None:
    """A worker stopped (SIGSTOP) for longer than task_stale_after loses its task to another worker; when
    it runs again it must give the task up: neither finish it a second time over the other worker's result,
    nor replace that result's data with its own download (each attempt writes under a key of its own; here
    the image changed at the source between the attempts, so its download is other bytes), nor mark the
    image failed when its own download fails."""
    server = make_server(start=False)
    configure(server, attempts=2)
    server.start()
    first = workers(server)
    retried = os.urandom(len(DATA) - 7)  # what the source serves once the first answer stalled
    web = source(stalls=1, later=retried)
    web.resume = download == "completes-with-other-bytes"
    image_id = start_import(server, web.url)
    wait_for_partial(server, image_id, BLOCK)
    pause_outside_a_write(server, first)
    try:
        second = workers(server)
        image = settled(server, image_id)
        assert_imported(server, image, retried)
        retry_copy = copy_of(server, image_id)
        web.release.set()  # the paused worker's download can go on: the rest of the old image is on its way
    finally:
        first.process.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + 10
    # it notices at its next beat, or first finds its download cut short (or complete) and then that the task
    # is not its own
    while "lost ownership" not in first.log_text() and "took it over" not in first.log_text():
        assert time.monotonic() < deadline, f"the paused worker never noticed:\n{first.log_text()}"
        time.sleep(0.05)
    # whatever the first worker still does, it does now: its abandoned write (or its whole copy) goes away
    deadline = time.monotonic() + 60
    while server.store_files() != [retry_copy] and time.monotonic() < deadline:
        time.sleep(0.1)

    assert_imported(server, server.image(image_id), retried)  # the retry's data and checksums, served
    [row] = task_rows(server)
    assert (row["status"], row["attempts"]) == ("success", 2)
    assert f":{second.process.pid}:" in row["claimed_by"]
    assert server.store_files() == [retry_copy]  # the first attempt removed what it wrote
    assert first.process.poll() is None  # and the worker carries on with other work
    stop(first.process)
    stop(second.process)
    code, report = server.fsck()
    assert (code, report["findings"]) == (0, [])
    server.assert_no_traceback()
