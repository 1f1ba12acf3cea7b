"""Machine limits measured in the same run: hashing, loopback TCP, disk write; and the test data file."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

MIB = 1 << 20
MB = 1_000_000


def mbps(nbytes: int, seconds: float) -> float:
    return nbytes / MB / seconds if seconds > 0 else float("inf")


@dataclass(frozen=True, slots=True)
class DataFile:
    path: Path
    size: int
    write_mbps: float  # write + fsync of the whole file: a ceiling for an upload that fsyncs


def make_data_file(path: Path, size_mib: int) -> DataFile:
    """Write ``size_mib`` MiB of incompressible bytes (64 random MiB cycled with a counter) and fsync."""
    pool = [bytearray(os.urandom(MIB)) for _ in range(min(64, size_mib))]
    written = 0
    spent = 0.0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for index in range(size_mib):
            block = pool[index % len(pool)]
            block[:8] = index.to_bytes(8, "little")  # every MiB differs
            started = time.perf_counter()
            view = memoryview(block)
            while view:
                view = view[os.write(fd, view) :]
            spent += time.perf_counter() - started
            written += len(block)
        started = time.perf_counter()
        os.fsync(fd)
        spent += time.perf_counter() - started
    finally:
        os.close(fd)
    return DataFile(path=path, size=written, write_mbps=mbps(written, spent))


@dataclass(frozen=True, slots=True)
class FileHash:
    algorithm: str
    hexdigest: str
    mbps: float  # time inside update() only, one core, 1 MiB chunks


def hash_file(path: Path, algorithm: str) -> FileHash:
    """Hash a file in 1 MiB chunks, timing only the hash updates (one core)."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    buffer = bytearray(MIB)
    view = memoryview(buffer)
    spent = 0.0
    total = 0
    with path.open("rb", buffering=0) as handle:
        while got := handle.readinto(buffer):
            chunk = view[:got]
            started = time.perf_counter()
            digest.update(chunk)
            spent += time.perf_counter() - started
            total += got
    return FileHash(algorithm, digest.hexdigest(), mbps(total, spent))


def loopback_socket_mbps(total: int = 2 << 30) -> float:
    """TCP over 127.0.0.1 between two threads: sendall of 1 MiB buffers, recv_into a 1 MiB buffer."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        received = [0]

        def sink() -> None:
            conn, _ = listener.accept()
            with conn:
                buffer = bytearray(MIB)
                while got := conn.recv_into(buffer):
                    received[0] += got

        thread = threading.Thread(target=sink, daemon=True)
        thread.start()
        payload = memoryview(os.urandom(MIB))
        with socket.create_connection(listener.getsockname()) as sender:
            started = time.perf_counter()
            sent = 0
            while sent < total:
                sender.sendall(payload)
                sent += len(payload)
            sender.shutdown(socket.SHUT_WR)
            thread.join()
            elapsed = time.perf_counter() - started
    return mbps(received[0], elapsed)


class SendfileServer:
    """Serves one file over HTTP with ``sendfile`` (no Python in the data path): the loopback ceiling for a
    download, measured with the same client (curl) as the real download."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port: int = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    request += chunk
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                    f"Content-Length: {self.size}\r\nConnection: close\r\n\r\n"
                )
                try:
                    conn.sendall(head.encode())
                    with self.path.open("rb") as handle:
                        conn.sendfile(handle)
                except OSError:
                    pass

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.listener.close()


def cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(x) for x in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def busy_cores(before: tuple[int, int] | None, after: tuple[int, int] | None, cpus: int) -> float | None:
    """How many cores were busy (any process) between two cpu_jiffies() readings."""
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1]) * cpus


def idle_probe(seconds: float = 1.0) -> float | None:
    """Busy cores on the machine over ``seconds`` before we start (other sessions, builds...)."""
    before = cpu_jiffies()
    time.sleep(seconds)
    return busy_cores(before, cpu_jiffies(), os.cpu_count() or 1)


def filesystem_of(path: Path) -> str:
    """``type device`` of the mount holding ``path`` (from /proc/mounts), e.g. ``ext4 /dev/vda``."""
    best = ("", "unknown", "?")
    target = str(path.resolve())
    try:
        with open("/proc/mounts") as handle:
            for line in handle:
                device, mount, kind = line.split()[:3]
                inside = target == mount or target.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best[0]):
                    best = (mount, kind, device)
    except OSError:
        pass
    return f"{best[1]} {best[2]}"


def git_commit() -> str:
    """The short commit of the checkout these benchmarks are in (for a result's record)."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                          text=True, check=False)  # fmt: skip
    return done.stdout.strip()
