"""The server under test: start `glimpse serve` on a free port, wait for it, stop it; sample its RSS."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchlib.httpc import Conn, Endpoint, HTTPError


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it if the benchmark dies (even by SIGKILL). Linux only."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def wait_ready(endpoint: Endpoint, timeout: float, process: subprocess.Popen[bytes] | None = None) -> float:
    """Poll GET / until it answers 200/300; returns the seconds waited."""
    started = time.monotonic()
    last_error = "no answer"
    while time.monotonic() - started < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode} before answering")
        try:
            with Conn(endpoint, timeout=2) as conn:
                status = conn.request("GET", "/").status
            if status in (200, 300):
                return time.monotonic() - started
            last_error = f"GET / answered {status}"
        except (OSError, HTTPError) as exc:
            last_error = str(exc)
        time.sleep(0.1)
    raise RuntimeError(f"server did not answer GET / within {timeout:.0f}s ({last_error})")


class ServerProcess:
    """`glimpse serve --port P` with a fresh data dir, its output in a log file (``wrapper``: a command that
    runs the executable, such as ``calls.py``'s call counter)."""

    def __init__(
        self,
        executable: Path,
        data_dir: Path,
        log_path: Path,
        extra_env: dict[str, str],
        wrapper: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.endpoint = Endpoint("127.0.0.1", self.port)
        self.log_path = log_path
        env = {**os.environ, "GLIMPSE_DATA_DIR": str(data_dir), "GLIMPSE_AUTH": "noauth"}
        env.pop("GLIMPSE_CONFIG", None)  # unless extra_env names one
        env.pop("GLIMPSE_DATABASE_URL", None)  # the embedded defaults: SQLite + filesystem store
        env.update(extra_env)
        self.command = [*wrapper, str(executable), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self._log = log_path.open("wb")
        self.process: subprocess.Popen[bytes] = subprocess.Popen(
            self.command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal Ctrl-C reaches us; we stop the server ourselves
            preexec_fn=_die_with_parent,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                self.process.wait(5)
        self._log.close()


def listener_pid(port: int) -> int | None:
    """The pid of the process listening on 127.0.0.1:port (for --url runs), found through /proc."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as handle:
            next(handle, None)
            for line in handle:
                fields = line.split()
                if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in os.scandir(f"/proc/{entry.name}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(fd.path) in targets:
                        return int(entry.name)
    return None


def _status_kib(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def rss_mib(pid: int) -> float | None:
    kib = _status_kib(pid, "VmRSS:")
    return None if kib is None else kib / 1024


def hwm_mib(pid: int) -> float | None:
    kib = _status_kib(pid, "VmHWM:")
    return None if kib is None else kib / 1024


def process_tree(pid: int) -> list[int]:
    """pid and its descendants (uvicorn with several workers forks them)."""
    found = [pid]
    index = 0
    while index < len(found):
        current = found[index]
        index += 1
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with contextlib.suppress(OSError), open(f"/proc/{current}/task/{task}/children") as handle:
                    found.extend(int(child) for child in handle.read().split())
    return found


def pin(pid: int, cpus: set[int]) -> None:
    """Every thread of ``pid`` (and so the threads they start) onto ``cpus`` (Linux: affinity is per thread)."""
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):  # a thread that just ended
            os.sched_setaffinity(int(task), cpus)


def pids_of(name: str) -> list[int]:
    """The processes whose command name (``/proc/<pid>/comm``) is ``name``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/comm") as handle:
                if handle.read().strip() == name:
                    found.append(int(entry))
    return found


def _stat_cpu(path: str) -> float | None:
    """utime + stime, in seconds, from a /proc stat file (process or thread)."""
    try:
        with open(path) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """CPU seconds used by a process (all its threads, live and finished)."""
    return _stat_cpu(f"/proc/{pid}/stat")


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    """CPU seconds of a process tree: everything, and the main threads (where the event loops run)."""

    total: float
    main_threads: float

    @classmethod
    def take(cls, pid: int) -> CpuSnapshot:
        total = main = 0.0
        for member in process_tree(pid):
            total += cpu_seconds(member) or 0.0
            main += _stat_cpu(f"/proc/{member}/task/{member}/stat") or 0.0
        return cls(total, main)


@dataclass(slots=True)
class RssSampler:
    """Samples VmRSS of the server (and its children) every ``interval`` seconds in a thread: ``peak_mib`` is
    the largest of one process, ``tree_peak_mib`` the largest sum over the tree, ``series`` holds (seconds since
    start, tree sum) per sample."""

    pid: int
    interval: float = 0.01
    peak_mib: float = 0.0
    tree_peak_mib: float = 0.0
    first_mib: float | None = None
    samples: int = 0
    series: list[tuple[float, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            tree = 0.0
            for pid in process_tree(self.pid):
                value = rss_mib(pid)
                if value is not None:
                    if self.first_mib is None:
                        self.first_mib = value
                    self.peak_mib = max(self.peak_mib, value)
                    tree += value
            self.tree_peak_mib = max(self.tree_peak_mib, tree)
            self.series.append((time.monotonic() - started, tree))
            self.samples += 1
            self._stop.wait(self.interval)

    def stop(self) -> float:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.peak_mib


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C, so the finally blocks clean up."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
