"""kill -9 in the middle of an upload and of deletes: after a restart nothing is stuck, nothing is lost,
nothing is left behind, and `glimpse fsck` agrees."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager

import sqlalchemy as sa

from tests.fault.conftest import FaultServer, MakeServer, Response, SlowUpload
from tests.serverproc import backend


def kinds(report: dict[str, object]) -> list[str]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return sorted(finding["kind"] for finding in findings)


def test_kill_during_an_upload(make_server: MakeServer) -> None:
    server = make_server()
    keep = server.active_image(os.urandom(3 << 20))
    image_id = server.create_image("interrupted")
    upload = SlowUpload(server, image_id, chunks=4000, chunk=256 << 10, pause=0.005)
    upload.start()
    deadline = time.monotonic() + 15
    while not any(
        name.endswith(".partial") and (server.store_dir() / name).stat().st_size for name in server.store_files()
    ):
        assert time.monotonic() < deadline, "the upload never reached the store"
        time.sleep(0.02)
    assert server.status(image_id) == "saving"

    server.kill()
    upload.join(timeout=15)
    assert upload.response is None
    assert upload.error is not None

    # what the crash left, as `glimpse fsck` sees it with no server running
    code, report = server.fsck()
    assert code == 1
    assert kinds(report) == ["orphan", "stuck"]
    assert len(server.store_files()) == 2

    server.start()  # the start-up recovery runs before the server answers
    assert server.status(image_id) == "queued"
    assert server.store_files() == [keep]
    assert f"start-up recovery: image {image_id} was left in 'saving' by an interrupted upload" in server.log_text()
    code, report = server.fsck()
    assert (code, report["clean"], report["findings"]) == (0, True, [])

    data = os.urandom(2 << 20)
    assert server.upload(image_id, data).status == 204
    assert server.request("GET", f"/v2/images/{image_id}/file").body == data
    assert server.assert_active_images_intact() == 2
    server.assert_no_traceback()


@contextmanager
def holding_the_image(server: FaultServer, image_id: str) -> Iterator[None]:
    """Hold a lock that makes the server's DELETE of the image wait (its row on PostgreSQL, SQLite's write lock)."""
    if backend() == "sqlite":
        holder = sqlite3.connect(server.database_url.removeprefix("sqlite:///"), isolation_level=None, timeout=10)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            yield
            holder.execute("ROLLBACK")
        finally:
            holder.close()
        return
    engine = sa.create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT id FROM images WHERE id = :id FOR UPDATE"), {"id": image_id})
            yield
            conn.rollback()
    finally:
        engine.dispose()


def wait_until_blocked(server: FaultServer) -> None:
    """Until the server's DELETE waits for the lock (observable on PostgreSQL; a moment on SQLite)."""
    if backend() == "sqlite":
        time.sleep(0.4)  # well inside the server's 1 s busy timeout
        return
    engine = sa.create_engine(server.database_url)
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    try:
        deadline = time.monotonic() + 10
        with engine.connect() as conn:
            while not conn.execute(query).scalar_one():
                assert time.monotonic() < deadline, "the DELETE never waited for the lock"
                time.sleep(0.02)
                conn.rollback()
    finally:
        engine.dispose()


def test_kill_during_a_delete_before_it_commits(make_server: MakeServer) -> None:
    server = make_server()
    data = os.urandom(1 << 20)
    image_id = server.active_image(data)
    answers: list[Response | BaseException] = []

    def delete() -> None:
        try:
            answers.append(server.request("DELETE", f"/v2/images/{image_id}"))
        except BaseException as exc:
            answers.append(exc)

    with holding_the_image(server, image_id):
        deleter = threading.Thread(target=delete, daemon=True)
        deleter.start()
        wait_until_blocked(server)
        server.kill()
        deleter.join(timeout=10)
    assert len(answers) == 1
    assert not isinstance(answers[0], Response)  # the client never got an answer

    server.start()
    assert server.status(image_id) == "active"  # the delete never committed: nothing happened
    assert server.request("GET", f"/v2/images/{image_id}/file").body == data
    code, report = server.fsck()
    assert (code, report["findings"]) == (0, [])
    server.assert_no_traceback()


def test_kill_during_many_deletes(make_server: MakeServer) -> None:
    """Whatever moment the kill hits, an image is either still whole or deleted, and the restart removes the
    data of the deleted ones by itself: the store holds exactly the images still alive."""
    server = make_server()
    images = [server.active_image(os.urandom(256 << 10)) for _ in range(24)]
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(server.request, "DELETE", f"/v2/images/{image_id}") for image_id in images]
        wait(futures, timeout=10, return_when="FIRST_COMPLETED")
        server.kill()
    server.start()  # the start-up recovery finishes the deletes that committed: no fsck --repair needed

    alive = []
    for image_id in images:
        answer = server.request("GET", f"/v2/images/{image_id}")
        assert answer.status in (200, 404)
        if answer.status == 200:
            assert answer.json()["status"] == "active"
            alive.append(image_id)
    assert server.store_files() == sorted(alive)
    assert server.assert_active_images_intact() == len(alive)
    code, report = server.fsck()
    assert (code, report["findings"]) == (0, [])
    server.assert_no_traceback()


def test_uploads_in_progress_are_never_touched(make_server: MakeServer) -> None:
    """Neither `glimpse fsck --repair` nor a second server starting on the same data directory (whose
    start-up recovery must not run) disturbs an upload that a live server is receiving."""
    first = make_server()
    image_id = first.create_image("in progress")
    # 5 MiB, then the client waits (still connected) until fsck and the second server have looked
    upload = SlowUpload(first, image_id, chunks=60, chunk=256 << 10, pause=0.0, hold_after=20)
    upload.start()
    deadline = time.monotonic() + 10
    while not any(name.endswith(".partial") for name in first.store_files()):
        assert time.monotonic() < deadline, "the upload never reached the store"
        time.sleep(0.02)

    code, report = first.fsck("--repair")
    assert code == 0, report
    assert report["uploads_may_run"] is True
    assert set(kinds(report)) == {"in_progress"}
    assert not any(finding["repaired"] for finding in report["findings"])

    second = dataclasses.replace(first, log_file=first.root / "second.log", process=None)
    try:
        second.start()
        assert "start-up recovery skipped" in second.log_text()
        assert upload.is_alive(), "the upload ended before it was released"
        assert upload.response is None
        upload.release()
        upload.join(timeout=30)
        assert isinstance(upload.response, Response), upload.error
        assert upload.response.status == 204, upload.response.text
        assert second.status(image_id) == "active"
        assert second.assert_active_images_intact() == 1
    finally:
        second.stop()
    code, report = first.fsck()
    assert (code, report["findings"]) == (0, [])
    first.assert_no_traceback()
    second.assert_no_traceback()
