"""kill -9 of a node mid-upload and of a worker mid-import, with the rest of the cluster serving on.

A killed node's upload leaves its image in ``saving`` and an unfinished write in the shared store; `glimpse
fsck --repair` on the other node, or the killed node's own start-up recovery, puts the image back to
``queued`` and removes the write, while an upload the other node is running at that moment goes on untouched
(the writer locks, db/writers.py, tell a dead upload from a live one across nodes). A killed worker's import is
taken over by the other worker and finishes; the dead attempt's unfinished write goes at the next recovery. The
same kill mid-upload into the shared Swift leaves segments no manifest names; the other node's repair removes
them all. A
stopped (SIGSTOP) worker holds neither the retry nor the other node back, and keeps its write until it runs again.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.cluster.cluster import API_PORT, Cluster, Process
from tests.fault.test_worker_crash import Source
from tests.serverproc import backend

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        backend() != "postgresql",
        reason="several nodes share a PostgreSQL server: GLIMPSE_TEST_DB=postgresql runs this",
    ),
]

MiB = 1 << 20
STALL_AT = 6 * MiB  # one whole 4 MiB block is in the store by then


class StalledUpload:
    """PUT /v2/images/{id}/file to one node (into ``store``, else the default one), chunked: STALL_AT bytes, then
    nothing until ``release`` is set."""

    def __init__(self, node: Process, token: str, image_id: str, data: bytes, store: str | None = None) -> None:
        self.node, self.token, self.image_id, self.data, self.store = node, token, image_id, data, store
        self.release = threading.Event()
        self.status: int | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _body(self) -> Iterator[bytes]:
        for start in range(0, STALL_AT, MiB):
            yield self.data[start : start + MiB]
        if self.release.wait(60):
            for start in range(STALL_AT, len(self.data), MiB):
                yield self.data[start : start + MiB]

    def _run(self) -> None:
        conn = http.client.HTTPConnection(self.node.address, API_PORT, timeout=60)
        headers = {"content-type": "application/octet-stream", "x-auth-token": self.token}
        if self.store is not None:
            headers["x-image-meta-store"] = self.store
        try:
            conn.request("PUT", f"/v2/images/{self.image_id}/file", body=self._body(), headers=headers)
            self.status = conn.getresponse().status
        except OSError as exc:  # the node was killed under it
            self.error = exc
        finally:
            conn.close()

    def finish(self) -> int | None:
        self.release.set()
        self.thread.join(60)
        return self.status


def request(node_or_url: Process | str, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    url = node_or_url.url if isinstance(node_or_url, Process) else node_or_url
    host, port = url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"x-auth-token": token}
    if body is not None:
        headers["content-type"] = "application/json"
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw.startswith(b"{") else raw
    finally:
        conn.close()


def create(cluster: Cluster, name: str) -> str:
    status, image = request(cluster.url, cluster.tokens["admin"], "POST", "/v2/images",
                            {"name": name, "disk_format": "raw", "container_format": "bare"})  # fmt: skip
    assert status == 201, image
    return str(image["id"])


def image(node: Process | str, cluster: Cluster, image_id: str) -> dict[str, Any]:
    status, shown = request(node, cluster.tokens["admin"], "GET", f"/v2/images/{image_id}")
    assert status == 200, shown
    return dict(shown)


def store_files(cluster: Cluster, image_id: str) -> list[str]:
    return sorted(path.name for path in cluster.store.iterdir() if path.name.startswith(image_id))


def finished_copy(cluster: Cluster, image_id: str) -> str:
    """The image's one finished copy in the shared store: an import attempt writes ``<image id>.attempt-<token>``."""
    [done] = [name for name in store_files(cluster, image_id) if not name.endswith(".partial")]
    assert done.startswith(f"{image_id}.attempt-"), done
    return done


def wait_for_partial(cluster: Cluster, image_id: str, size: int = 4 * MiB) -> str:
    deadline = time.monotonic() + 30
    while True:
        for path in cluster.store.iterdir():
            if path.name.startswith(image_id) and path.name.endswith(".partial") and path.stat().st_size >= size:
                return path.name
        assert time.monotonic() < deadline, f"no unfinished write of {image_id}: {store_files(cluster, image_id)}"
        time.sleep(0.02)


def findings(report: dict[str, Any], *image_ids: str) -> list[tuple[str, str, bool]]:
    """(kind, image id, repaired) of the report's findings about ``image_ids``."""
    return sorted(
        (finding["kind"], next(i for i in image_ids if i in (finding["image_id"] or finding["url"] or "")),
         finding["repaired"])
        for finding in report["findings"]
        if any(i in (finding["image_id"] or finding["url"] or "") for i in image_ids)
    )  # fmt: skip


def kill_and_repair(cluster: Cluster, dead: StalledUpload, live: StalledUpload) -> None:
    """kill -9 the node running ``dead`` (mid-write), then `fsck --repair` on the node running ``live``: the dead
    upload is repaired (its image back to queued, its unfinished write removed), the live one is in progress
    and left alone."""
    dead.node.kill()
    dead.release.set()  # its client finds the connection gone as it sends the rest
    dead.thread.join(10)
    assert dead.status is None
    code, report = live.node.fsck("--repair")
    assert code == 0, report
    assert findings(report, dead.image_id, live.image_id) == [
        ("in_progress", live.image_id, False),
        ("in_progress", live.image_id, False),
        ("orphan", dead.image_id, True),
        ("stuck", dead.image_id, True),
    ]
    assert image(live.node, cluster, dead.image_id)["status"] == "queued"


def finish(dead: StalledUpload, live: StalledUpload) -> int | None:
    """Let ``live`` send the rest and answer; start the killed node again (the next tests get the whole cluster)."""
    live_status = live.finish()
    if not dead.node.running():
        dead.node.start()
        dead.node.wait_ready()
    return live_status


def assert_uploaded(cluster: Cluster, live: StalledUpload, status: int | None, store: str) -> None:
    """``live`` completed: its image is active in ``store`` with its data, which every node serves."""
    assert status == 204, live.error
    shown = image(live.node, cluster, live.image_id)
    assert (shown["status"], shown["size"], shown["stores"]) == ("active", len(live.data), store)
    assert shown["os_hash_value"] == hashlib.sha512(live.data).hexdigest()
    for node in cluster.servers():  # read raw: `request` would take data that starts with "{" for JSON
        conn = http.client.HTTPConnection(node.address, API_PORT, timeout=30)
        try:
            conn.request("GET", f"/v2/images/{live.image_id}/file", headers={"x-auth-token": cluster.tokens["admin"]})
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, live.data), node.name
        finally:
            conn.close()


def test_a_node_killed_mid_upload_is_recovered_by_the_other_while_its_upload_goes_on(cluster: Cluster) -> None:
    node1, node2 = cluster.servers()
    token = cluster.tokens["admin"]
    dead_id, live_id = create(cluster, "killed-mid-upload"), create(cluster, "live-upload")
    live_data = os.urandom(10 * MiB)
    dead = StalledUpload(node1, token, dead_id, os.urandom(10 * MiB))
    live = StalledUpload(node2, token, live_id, live_data)
    try:
        dead_partial, live_partial = wait_for_partial(cluster, dead_id), wait_for_partial(cluster, live_id)
        kill_and_repair(cluster, dead, live)
        assert store_files(cluster, dead_id) == []
        assert dead_partial not in store_files(cluster, dead_id)

        # the killed node comes back: its start-up recovery runs (its data directory is its own) and must
        # not take the other node's upload for one of its own dead ones
        node1.start()
        node1.wait_ready()
        assert "start-up recovery" in node1.log_text()
        assert image(node1, cluster, live_id)["status"] == "saving"
        assert live_partial in store_files(cluster, live_id)
    finally:
        live_status = finish(dead, live)
    assert_uploaded(cluster, live, live_status, "shared")
    assert store_files(cluster, live_id) == [live_id]

    # the recovered image takes a new upload through HAProxy
    conn = http.client.HTTPConnection("127.0.0.1", cluster.port, timeout=30)
    conn.request("PUT", f"/v2/images/{dead_id}/file", body=b"again",
                 headers={"content-type": "application/octet-stream", "x-auth-token": token})  # fmt: skip
    assert conn.getresponse().status == 204
    conn.close()
    assert image(cluster.url, cluster, dead_id)["status"] == "active"


def swift_names(cluster: Cluster, image_id: str) -> dict[str, list[str]]:
    """What the cluster's Swift holds of ``image_id``: its object (the manifest) and its segments."""
    objects = cluster.swift_objects()
    return {
        "objects": [name for name in objects[cluster.swift_container] if name == image_id],
        "segments": sorted(n for n in objects[f"{cluster.swift_container}_segments"] if n.startswith(f"{image_id}/")),
    }


def wait_for_segments(cluster: Cluster, image_id: str, count: int = 3) -> list[str]:
    deadline = time.monotonic() + 30
    while len(segments := swift_names(cluster, image_id)["segments"]) < count:
        assert time.monotonic() < deadline, f"no {count} segments of {image_id} in Swift: {segments}"
        time.sleep(0.05)
    return segments


def test_a_node_killed_mid_upload_to_swift_leaves_no_segment_once_the_other_node_recovers(cluster: Cluster) -> None:
    """The same on the shared Swift: the killed node's upload leaves segments no manifest names (a static large
    object's segments are written first); the other node's fsck --repair removes every one of them and puts the
    image back, and leaves alone the segments of the upload it is running itself, which then completes."""
    node1, node2 = cluster.servers()
    token = cluster.tokens["admin"]
    dead_id, live_id = create(cluster, "killed-mid-swift-upload"), create(cluster, "live-swift-upload")
    live_data = os.urandom(10 * MiB)
    dead = StalledUpload(node1, token, dead_id, os.urandom(10 * MiB), store="swift")
    live = StalledUpload(node2, token, live_id, live_data, store="swift")
    try:
        wait_for_segments(cluster, dead_id)
        live_segments = wait_for_segments(cluster, live_id)
        kill_and_repair(cluster, dead, live)
        assert swift_names(cluster, dead_id) == {"objects": [], "segments": []}
        assert set(live_segments) <= set(swift_names(cluster, live_id)["segments"])
    finally:
        live_status = finish(dead, live)
    assert_uploaded(cluster, live, live_status, "swift")
    held = swift_names(cluster, live_id)
    assert (held["objects"], len(held["segments"])) == ([live_id], 10)  # 1 MiB segments, none left over
    assert swift_names(cluster, dead_id) == {"objects": [], "segments": []}
    code, report = node1.fsck()
    assert (code, findings(report, dead_id, live_id)) == (0, [])


def claimed_by(cluster: Cluster, image_id: str) -> str:
    engine = sa.create_engine(cluster.database_url)
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT claimed_by FROM tasks WHERE image_id = :id AND status = 'processing'")
            return str(conn.execute(query, {"id": image_id}).scalar_one())
    finally:
        engine.dispose()


def test_an_import_whose_worker_dies_finishes_on_the_other_worker(cluster: Cluster) -> None:
    data = os.urandom(12 * MiB)
    source = Source(data, stalls=1, host=cluster.network.host_address)  # reachable from the namespaces
    try:
        image_id = create(cluster, "import-worker-killed")
        status, _ = request(cluster.url, cluster.tokens["admin"], "POST", f"/v2/images/{image_id}/import",
                            {"method": {"name": "web-download", "uri": source.url}})  # fmt: skip
        assert status == 202
        partial = wait_for_partial(cluster, image_id)
        owner = claimed_by(cluster, image_id)
        [first] = [w for w in cluster.task_workers() if w.process is not None and f":{w.process.pid}:" in owner]
        [other] = [w for w in cluster.task_workers() if w is not first]
        first.kill()

        deadline = time.monotonic() + 30  # the other worker reaps it once its heartbeat is 2 s old
        while (shown := image(cluster.url, cluster, image_id))["status"] != "active":
            assert shown["status"] == "importing", shown
            assert time.monotonic() < deadline, shown
            time.sleep(0.1)
        assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
        assert f"image {image_id}) claimed" in other.log_text()
        assert source.served == 2
        # the dead attempt's unfinished write outlives it until a recovery runs, on any node
        done = finished_copy(cluster, image_id)
        assert store_files(cluster, image_id) == sorted([done, partial])
        code, report = cluster.servers()[1].fsck("--repair")
        assert code == 0, report
        assert findings(report, image_id) == [("orphan", image_id, True)]
        assert store_files(cluster, image_id) == [done]
    finally:
        source.close()
        for worker in cluster.task_workers():
            if not worker.running():
                worker.start()
                worker.wait_ready()


def test_a_paused_worker_holds_nothing_back_and_keeps_its_write_until_it_gives_it_up(cluster: Cluster) -> None:
    """A worker stopped (SIGSTOP: a frozen VM) mid-import: the other worker retries the task and finishes it
    while the first is still stopped (even if it stopped inside a transaction: the server ends that one after
    task_stale_after). Meanwhile the other node's fsck --repair leaves the stopped worker's unfinished write
    alone, since it still holds the image's writer lock and may write again; once it runs, it finds the task
    taken over, removes its write and records nothing, and the image stays as the retry made it."""
    data = os.urandom(12 * MiB)
    source = Source(data, stalls=1, host=cluster.network.host_address)
    source.resume = True  # once running again, the paused worker's download completes: it must still give up
    paused: Process | None = None
    try:
        image_id = create(cluster, "import-worker-paused")
        status, _ = request(cluster.url, cluster.tokens["admin"], "POST", f"/v2/images/{image_id}/import",
                            {"method": {"name": "web-download", "uri": source.url}})  # fmt: skip
        assert status == 202
        partial = wait_for_partial(cluster, image_id)
        owner = claimed_by(cluster, image_id)
        [paused] = [w for w in cluster.task_workers() if w.process is not None and f":{w.process.pid}:" in owner]
        assert paused.process is not None
        paused.process.send_signal(signal.SIGSTOP)

        deadline = time.monotonic() + 60
        while (shown := image(cluster.url, cluster, image_id))["status"] != "active":
            assert shown["status"] == "importing", shown
            assert time.monotonic() < deadline, f"the retry never finished while the first worker was stopped: {shown}"
            time.sleep(0.1)
        assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
        code, report = cluster.servers()[1].fsck("--repair")
        assert code == 0, report
        assert findings(report, image_id) == [("in_progress", image_id, False)]
        done = finished_copy(cluster, image_id)
        assert store_files(cluster, image_id) == sorted([done, partial])
    finally:
        source.release.set()
        if paused is not None and paused.process is not None:
            paused.process.send_signal(signal.SIGCONT)
    try:
        deadline = time.monotonic() + 30
        # it notices at its next beat, or once its download ended, when it comes to record it
        while "another worker took it over" not in paused.log_text() and "lost ownership" not in paused.log_text():
            assert time.monotonic() < deadline, f"the resumed worker never gave the task up:\n{paused.log_tail()}"
            time.sleep(0.1)
        while store_files(cluster, image_id) != [done]:
            assert time.monotonic() < deadline, f"the resumed worker left {store_files(cluster, image_id)}"
            time.sleep(0.1)
        shown = image(cluster.url, cluster, image_id)
        assert (shown["status"], shown["os_hash_value"]) == ("active", hashlib.sha512(data).hexdigest())
        status, downloaded = request(cluster.url, cluster.tokens["admin"], "GET", f"/v2/images/{image_id}/file")
        assert (status, downloaded) == (200, data)
        code, report = cluster.servers()[0].fsck()
        assert (code, findings(report, image_id)) == (0, [])
    finally:
        source.close()
