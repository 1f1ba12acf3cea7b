"""glimpse.services.fsck.lock: servers share the data directory lock, fsck and the start-up recovery need it
alone.
"""

from __future__ import annotations

from pathlib import Path

from glimpse.services.fsck import DataDirLock, claim_data_dir


def test_servers_share_the_lock_and_fsck_needs_it_alone(tmp_path: Path) -> None:
    server, other_server, fsck = DataDirLock(tmp_path), DataDirLock(tmp_path), DataDirLock(tmp_path)
    try:
        assert server.try_shared()
        assert other_server.try_shared()
        assert not fsck.try_exclusive()
        server.release()
        other_server.release()
        assert fsck.try_exclusive()
        assert not server.try_shared()
    finally:
        for lock in (server, other_server, fsck):
            lock.release()


def test_the_first_server_recovers_the_next_ones_do_not(tmp_path: Path) -> None:
    ran: list[str] = []
    first, second = DataDirLock(tmp_path), DataDirLock(tmp_path)
    try:
        assert claim_data_dir(first, lambda: ran.append("first"))
        assert not claim_data_dir(second, lambda: ran.append("second"))
        assert ran == ["first"]
        assert not DataDirLock(tmp_path).try_exclusive()  # both hold it shared
    finally:
        first.release()
        second.release()


def test_a_server_waits_for_fsck(tmp_path: Path) -> None:
    fsck, server = DataDirLock(tmp_path), DataDirLock(tmp_path)
    assert fsck.try_exclusive()
    ran: list[str] = []
    waits: list[float] = []

    def fsck_finishes(seconds: float) -> None:
        waits.append(seconds)
        fsck.release()

    try:
        assert claim_data_dir(server, lambda: ran.append("recovered"), sleep=fsck_finishes)
        assert waits == [0.5]
        assert ran == ["recovered"]
    finally:
        server.release()
        fsck.release()
