"""`glimpse serve`'s task worker in a child process (cli/workerchild.py), on a real server.

The server polls for tasks only every 30 s here (``task_heartbeat_interval``), so an import that finishes in
a few seconds was started by the server's wake-up through the pipe, not by the poll. Each test has its own
server: two of them kill it.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.e2e.conftest import GlimpseServer, create_tokens, launch
from tests.serverproc import kill, new_database, server_env, stop

pytestmark = pytest.mark.e2e

CONFIG = """\
[glimpse]
task_heartbeat_interval = 30
task_stale_after = 120
"""
DATA = os.urandom(1 << 20)
QUICK = 15.0  # seconds an import may take here: well under the 30 s poll


@pytest.fixture
def node(tmp_path: Path) -> Iterator[GlimpseServer]:
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "glimpse.conf"
    config.write_text(CONFIG)
    with new_database(tmp_path, prefix="glimpse_e2e_workerproc") as database_url:
        env = server_env(tmp_path / "data", database_url, home)
        state = GlimpseServer(url="", tokens=create_tokens(env, ("alpha",)), log_file=tmp_path / "server.log",
                              home=home)  # fmt: skip
        try:
            launch(state, env, config)
            yield state
        finally:
            if state.process is not None:
                stop(state.process)


def worker_of(server: GlimpseServer) -> psutil.Process:
    """The server's one child, once its worker loop runs (logged "task worker <host>:<pid>:<id> started")."""
    assert server.process is not None
    children = psutil.Process(server.process.pid).children()
    assert len(children) == 1, children
    started = re.compile(rf"task worker \S+:{children[0].pid}:\w+ started")
    until(lambda: started.search(server.log_tail(400)) is not None, 30, f"worker {children[0].pid} running")
    return children[0]


def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        time.sleep(0.05)


def imported(server: GlimpseServer) -> str:
    """Create, stage and import (glance-direct) an image; its id once it is active."""
    headers = {"X-Auth-Token": server.tokens["alpha"]}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        created = client.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"})
        assert created.status_code == 201, created.text
        image_id: str = created.json()["id"]
        staged = client.put(
            f"/v2/images/{image_id}/stage", content=DATA, headers={"content-type": "application/octet-stream"}
        )
        assert staged.status_code == 204, staged.text
        started = client.post(f"/v2/images/{image_id}/import", json={"method": {"name": "glance-direct"}})
        assert started.status_code == 202, started.text

        def active() -> bool:
            image = client.get(f"/v2/images/{image_id}").json()
            assert image["status"] in ("uploading", "importing", "active"), image
            return image["status"] == "active"

        until(active, QUICK, f"image {image_id} active")
        assert client.get(f"/v2/images/{image_id}/file").content == DATA
    return image_id


def test_the_worker_is_a_child_woken_by_each_task(node: GlimpseServer) -> None:
    worker = worker_of(node)
    assert node.process is not None
    assert worker.pid != node.process.pid
    image_id = imported(node)
    claims = [line for line in node.log_tail(400).splitlines() if "claimed by" in line and image_id in line]
    assert claims, node.log_tail()
    assert all(f":{worker.pid}:" in line for line in claims), claims  # the child ran it, not the server
    # forked, not a second start-up: the recovery's threads had ended before (they did not always: 22 of the
    # CI's servers started their child as a new interpreter until the server waited for them to end)
    assert "threads at start-up" not in node.log_tail(400)


def test_a_worker_that_dies_is_replaced(node: GlimpseServer) -> None:
    assert node.process is not None
    parent = psutil.Process(node.process.pid)
    first = worker_of(node)
    first.kill()  # kill -9, as the kernel's OOM killer would
    first.wait(10)
    until(lambda: len(parent.children()) == 1, 10, "a new worker")
    second = worker_of(node)
    assert second.pid != first.pid
    assert f"task worker process {first.pid} exited (signal SIGKILL)" in node.log_tail(200)
    imported(node)  # the replacement is woken through the same pipe
    second.kill()  # a replacement (a new interpreter, not a fork) is replaced the same way
    second.wait(10)
    until(lambda: len(parent.children()) == 1 and parent.children()[0].pid != second.pid, 10, "a third worker")
    assert f"task worker process {second.pid} exited (signal SIGKILL)" in node.log_tail(200)
    imported(node)


def test_the_worker_stops_with_the_server(node: GlimpseServer) -> None:
    worker = worker_of(node)
    assert node.process is not None
    stop(node.process)  # SIGTERM
    assert node.process.returncode == -signal.SIGTERM
    assert not worker.is_running()
    assert any(line.endswith("stopped") and f":{worker.pid}:" in line for line in node.log_tail(50).splitlines())


def test_sigterm_to_the_process_group_stops_both_without_a_restart(node: GlimpseServer) -> None:
    """As `systemctl stop` (KillMode=control-group) and `timeout` do: the child gets the signal too."""
    worker = worker_of(node)
    assert node.process is not None
    os.killpg(node.process.pid, signal.SIGTERM)  # the test started the server in a session of its own
    node.process.wait(30)
    worker.wait(10)
    log = node.log_tail(80)
    assert "starting another" not in log, log  # whichever of the two noticed first, the child is not replaced
    assert any(line.endswith("stopped") and f":{worker.pid}:" in line for line in log.splitlines()), log


def test_kill_9_of_the_server_takes_its_worker_along(node: GlimpseServer) -> None:
    worker = worker_of(node)
    assert node.process is not None
    kill(node.process)
    worker.wait(10)  # psutil.TimeoutExpired when it outlives its server
    assert not worker.is_running()
