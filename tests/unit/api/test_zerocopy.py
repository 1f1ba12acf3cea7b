"""The zero-copy send: os.sendfile from a thread into a non-blocking socket, fully or until the peer is gone."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

from glimpse.api.zerocopy import sendfile_all


def test_sendfile_all_sends_the_range_through_a_full_socket_buffer(tmp_path: Path) -> None:
    data = os.urandom(8 * 1024 * 1024)  # far more than a socket buffer: sendfile meets EAGAIN and polls
    path = tmp_path / "f"
    path.write_bytes(data)
    server, client = socket.socketpair()
    server.setblocking(False)
    received = bytearray()

    def read() -> None:
        while chunk := client.recv(1 << 20):
            received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    fd = os.open(path, os.O_RDONLY)
    try:
        sent = sendfile_all(server.fileno(), fd, 1000, len(data) - 2000, lambda: False)
    finally:
        os.close(fd)
        server.close()
    reader.join(30)
    client.close()
    assert sent == len(data) - 2000
    assert bytes(received) == data[1000:-1000]


def test_sendfile_all_stops_when_the_peer_hangs_up(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(os.urandom(8 * 1024 * 1024))
    server, client = socket.socketpair()
    server.setblocking(False)
    client.close()
    fd = os.open(path, os.O_RDONLY)
    try:
        sent = sendfile_all(server.fileno(), fd, 0, 8 * 1024 * 1024, lambda: False)  # EPIPE: returns, no raise
    finally:
        os.close(fd)
        server.close()
    assert sent == 0


def test_sendfile_all_gives_up_on_a_stalled_client_once_the_connection_closes(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(os.urandom(8 * 1024 * 1024))
    server, client = socket.socketpair()  # the client never reads
    server.setblocking(False)
    fd = os.open(path, os.O_RDONLY)
    try:
        sent = sendfile_all(server.fileno(), fd, 0, 8 * 1024 * 1024, lambda: True)
    finally:
        os.close(fd)
        server.close()
        client.close()
    assert 0 < sent < 8 * 1024 * 1024
