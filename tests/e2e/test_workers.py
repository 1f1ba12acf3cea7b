"""`glimpse serve` with several worker processes ([DEFAULT] workers, as in glance-api.conf) serves one API."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import httpx
import pytest

from tests import serverproc

pytestmark = pytest.mark.e2e


def test_two_worker_processes_share_one_service(tmp_path: Path) -> None:
    with serverproc.new_database(tmp_path, "glimpse_workers") as database_url:
        env = serverproc.server_env(tmp_path / "data", database_url, tmp_path)
        env.update(GLIMPSE_AUTH="noauth", GLIMPSE_WORKERS="2")
        port = serverproc.free_port()
        process = serverproc.spawn(port, env, tmp_path / "server.log")
        try:
            status = serverproc.wait_for_root(process, port)
            assert status == 300, (tmp_path / "server.log").read_text()
            data = os.urandom(2 * 1024 * 1024)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
                created = client.post("/v2/images", json={"name": "w", "disk_format": "raw",
                                                          "container_format": "bare"}).json()
                upload = client.put(f"/v2/images/{created['id']}/file", content=data,
                                    headers={"content-type": "application/octet-stream"})
                assert upload.status_code == 204
                # many requests spread over both processes all see the same image and data
                for _ in range(20):
                    shown = client.get(f"/v2/images/{created['id']}").json()
                    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
                assert client.get(f"/v2/images/{created['id']}/file").content == data
            # both processes come up (the second may still be starting when the first answers)
            deadline = time.monotonic() + 20
            while (log := (tmp_path / "server.log").read_text()).count("Application startup complete") < 2:
                assert time.monotonic() < deadline, log
                time.sleep(0.1)
            # each API process runs its own task worker on its loop, as before: no worker child (cli/workerchild.py)
            while len(re.findall(r"task worker \S+ started", log := (tmp_path / "server.log").read_text())) < 2:
                assert time.monotonic() < deadline, log
                time.sleep(0.1)
            assert "task worker process" not in log, log
        finally:
            serverproc.stop(process)
