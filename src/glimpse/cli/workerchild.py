"""The task worker of `glimpse serve`, in a child process of its own (``[glimpse] worker_process``, the default).

Background work (imports, the outbox's drains, webhook deliveries, the sweeps) then runs beside the API
rather than inside it, on its own interpreter lock: with notifications and webhooks on, creates/s on the 2
vCPUs of the benchmark machine went from about 0.82x to about 0.87x of the same server with events off in
steady state (``bench/events_bench.py --creates 3000 --rounds 3``), as with a separate `glimpse worker`.

- The child is forked once the server has started up (settings, logging, imports, migrations and the
  start-up recovery done, no thread running yet), so it costs no second start-up; were a thread running,
  it is started as a new interpreter instead.
- It dies with the server (``PR_SET_PDEATHSIG``): a kill -9 of the server is the whole node's crash, and the
  tasks it held are retried as those of any dead worker are. A clean shutdown stops it after the API, as the
  in-process worker was stopped, and waits for the task it runs.
- When it dies (a crash, the kernel's OOM killer) the server starts another, as a new interpreter. When it
  stops cleanly on its own, it was sent SIGTERM (with the server's whole process group, as systemd and
  ``timeout`` do, or alone by an operator): it is not started again.
- The server writes a byte to a pipe whenever it commits a task, and the child wakes at once rather than at
  its next poll (``task_heartbeat_interval``).
- With ``[DEFAULT] workers > 1`` there is no child: each API process runs its worker on its own loop, as
  before (one child would run one task at a time for all of them, and they could not wake it).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from glimpse.settings import Settings

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
RESTART_DELAY = 1.0  # seconds between a child's unexpected exit and its replacement (no busy crash loop)
# seconds the threads of start-up (AnyIO's workers of the recovery's finished event loop exit on their own) may
# take to end before the child is started as a new interpreter instead of forked
THREADS_GONE_WITHIN = 2.0


def run_worker(
    settings: Settings,
    *,
    wake_fd: int | None = None,
    stop_on: Iterable[signal.Signals] = (signal.SIGINT, signal.SIGTERM),
) -> None:
    """Run a task worker until one of ``stop_on`` arrives (or, with ``wake_fd``, until the pipe's writer is
    gone); each byte on ``wake_fd`` wakes it to look for tasks at once."""
    from glimpse.container import build_services
    from glimpse.jobs.worker import Worker

    async def run() -> None:
        services = build_services(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in stop_on:
            loop.add_signal_handler(signum, stop.set)
        if wake_fd is not None:
            loop.add_reader(wake_fd, _woken, loop, wake_fd, services.queue.wakeup, stop)
        kicking = asyncio.create_task(services.outbox.kicking(stop))  # the events its tasks record
        try:
            await Worker.from_services(services).run_forever(stop)
        finally:
            stop.set()
            await kicking
            services.close()

    asyncio.run(run())


def _woken(loop: asyncio.AbstractEventLoop, fd: int, wakeup: asyncio.Event, stop: asyncio.Event) -> None:
    while True:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            break
        if not data:  # every writer is gone: the server is
            loop.remove_reader(fd)
            stop.set()
            return
        if len(data) < 4096:
            break
    wakeup.set()


def die_with(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when ``parent`` (the thread that started it) ends."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the pipe's end still stops it
        pass
    if os.getppid() != parent:  # it ended before the request was made
        os._exit(1)


class WorkerChild:
    """Starts, wakes, restarts and stops the server's worker process."""

    def __init__(self, settings: Settings, config_file: Path | None) -> None:
        self.settings = settings
        self.config_file = config_file
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None  # a replacement: reaped through its Popen
        self.restarts = 0

    def start(self) -> None:
        running = _other_threads()
        deadline = time.monotonic() + THREADS_GONE_WITHIN
        while running and time.monotonic() < deadline:  # the start-up recovery's thread pool, winding down
            time.sleep(0.01)
            running = _other_threads()
        if running:  # a fork would copy their locks mid-use: start a new interpreter instead
            log.info("threads at start-up (%s): the task worker starts as a new interpreter", ", ".join(running))
        with self._lock:
            self.pid = self._spawn() if running else self._fork()
        self._watcher = threading.Thread(target=self._watch, name="worker-child", daemon=True)
        self._watcher.start()

    def wake(self) -> None:
        """Tell the child a task was committed (from the server's event loop; never blocks)."""
        if self._stopping.is_set():
            return
        with contextlib.suppress(BlockingIOError):  # the pipe is full: the child has wake-ups waiting already
            os.write(self._write, b"\0")

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM, then wait for the task it runs (SIGKILL after ``timeout``); once."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        with self._lock:
            pid = self.pid
        if pid is not None:
            _signal(pid, signal.SIGTERM)
        if self._watcher is not None:
            self._watcher.join(timeout)
            if self._watcher.is_alive() and pid is not None:
                log.warning("task worker process %d did not stop within %.0f s: killed", pid, timeout)
                _signal(pid, signal.SIGKILL)
                self._watcher.join(10)
        os.close(self._write)
        os.close(self._read)

    def _fork(self) -> int:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 1
            try:
                die_with(parent)
                os.close(self._write)
                _stop_quietly_until_running()
                run_worker(self.settings, wake_fd=self._read, stop_on=(signal.SIGTERM,))
                code = 0
            except BaseException:
                log.exception("task worker process failed")
            finally:
                logging.shutdown()
                os._exit(code)
        log.info("task worker process %d started", pid)
        return pid

    def _spawn(self) -> int:
        parent = os.getpid()
        command = [sys.executable, "-c", "import sys; from glimpse.cli.workerchild import main; main(sys.argv[1:])",
                   str(self._read), *([str(self.config_file)] if self.config_file is not None else [])]  # fmt: skip
        self._process = subprocess.Popen(
            command, pass_fds=(self._read,), stdin=subprocess.DEVNULL, preexec_fn=lambda: die_with(parent)
        )
        log.info("task worker process %d started", self._process.pid)
        return self._process.pid

    def _watch(self) -> None:
        while True:
            with self._lock:
                pid, process = self.pid, self._process
            if pid is None:
                return
            # a replacement's Popen reaps it (a waitpid here could race Popen's own bookkeeping)
            code = process.wait() if process is not None else os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            if self._stopping.is_set():
                return
            if code in (0, -signal.SIGTERM):  # it was told to stop: a SIGTERM to the server's process group
                # (systemd, timeout) is on its way to the server too, and one to it alone is an operator's choice
                log.info("task worker process %d stopped; not started again until the server restarts", pid)
                return
            how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
            log.error("task worker process %d exited (%s); starting another in %.0f s", pid, how, RESTART_DELAY)
            if self._stopping.wait(RESTART_DELAY):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self.pid = self._spawn()
                self.restarts += 1


def _other_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread is not threading.current_thread()]


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _stop_quietly_until_running() -> None:
    """A terminal's ^C reaches the server, which stops the child; a SIGTERM before the worker's loop takes it
    over (one to the whole process group right after start-up) ends the child at once: nothing runs yet."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))


def main(argv: list[str]) -> None:
    """A replacement child, started by :meth:`WorkerChild._spawn`: ``<wake fd> [<config file>]``."""
    from glimpse.cli.options import _settings
    from glimpse.logs import configure_logging

    _stop_quietly_until_running()
    settings = _settings(Path(argv[1]) if len(argv) > 1 else None)
    configure_logging(settings.log_format, settings.log_level, settings.secrets())
    run_worker(settings, wake_fd=int(argv[0]), stop_on=(signal.SIGTERM,))
