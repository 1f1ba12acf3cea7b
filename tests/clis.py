"""The OpenStack command-line clients (``openstack``, ``glance``) as the tests run them: each command
is a process of its own, forked from one parent that imported the clients once.

A client started from nothing spends about a second of CPU importing openstackclient, glanceclient, their
plugins and keystoneauth before it sends its first request, and the e2e tests run over a hundred commands per
pass. Here one long-lived parent (started on first use, one per pytest process, single-threaded so that forking
it is safe) imports them; every command is ``fork()`` of that parent, which then runs exactly what the console
script runs (the ``console_scripts`` entry point, ``sys.exit(main())``) with the command's own argv, environment,
working directory, stdin (``/dev/null``, or closed as ``sh -c 'exec "$@" <&-'`` closes it) and stdout/stderr
captured to files. Nothing of the client is replaced: the same code runs in a separate process, from its
``main``, only without paying for the imports again. Any other program goes through ``subprocess.run``.

Protocol on the parent's Unix socket, one command per connection: the test sends one JSON line (argv, env,
cwd, stdin mode, the two output files); the parent answers with the child's pid on one line, then, when the
child has exited, its exit status as ``subprocess`` reports it (negative for a signal).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

# glare is not among them: its main() takes ``argv=sys.argv[1:]`` as a default, read when the module is imported
CLIENTS = ("openstack", "glance")
# the command plugins openstackclient loads at start (its own and other projects'): imported once in the parent
PLUGIN_GROUPS = ("openstack.cli.base", "openstack.cli.extension")
ROOT = Path(__file__).resolve().parents[1]


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    stdin_closed: bool = False,
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ARGV (a client by its path or name, then its arguments) and capture its output as text, like
    ``subprocess.run(argv, capture_output=True, text=True, timeout=..., stdin=DEVNULL)``."""
    name = Path(argv[0]).name
    environment = dict(os.environ if env is None else env)
    if name not in CLIENTS:
        if stdin_closed:
            argv = ["sh", "-c", 'exec "$@" <&-', name, *argv]
        return subprocess.run(
            list(argv), env=environment, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
            stdin=None if stdin_closed else subprocess.DEVNULL,
        )  # fmt: skip
    return _parent().run(name, list(argv), environment, str(cwd or os.getcwd()), stdin_closed, timeout)


class _Parent:
    """The pre-imported parent process and the client side of its socket."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="glimpse-clis-"))
        self.socket = self.dir / "parent.sock"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
        with (self.dir / "parent.log").open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.clis", str(self.socket)], env=env, cwd=ROOT,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        ready = self.dir / "parent.sock.ready"
        deadline = 120.0
        while not ready.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"the clients' parent exited: {(self.dir / 'parent.log').read_text()[-4000:]}")
            deadline -= 0.05
            if deadline <= 0:
                raise RuntimeError("the clients' parent did not get ready in 120 s")
            threading.Event().wait(0.05)
        atexit.register(self.close)

    def run(
        self, name: str, argv: list[str], env: dict[str, str], cwd: str, stdin_closed: bool, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        out_fd, out_name = tempfile.mkstemp(dir=self.dir)
        err_fd, err_name = tempfile.mkstemp(dir=self.dir)
        os.close(out_fd)
        os.close(err_fd)
        request = {"name": name, "argv": argv, "env": env, "cwd": cwd, "stdin_closed": stdin_closed,
                   "stdout": out_name, "stderr": err_name}  # fmt: skip
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.connect(str(self.socket))
                conn.sendall(json.dumps(request).encode() + b"\n")
                answers = _Lines(conn)
                pid = int(answers.next())
                conn.settimeout(timeout)
                try:
                    line = answers.next()
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGKILL)
                    conn.settimeout(None)
                    answers.next()  # the parent reaps it and answers
                    raise subprocess.TimeoutExpired(argv, timeout, _read(out_name), _read(err_name)) from None
                if not line:
                    raise RuntimeError(f"the clients' parent died running {argv}")
                returncode = int(line)
            return subprocess.CompletedProcess(argv, returncode, _read(out_name), _read(err_name))
        finally:
            for path in (out_name, err_name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for path in self.dir.iterdir():
            path.unlink()
        self.dir.rmdir()


class _Lines:
    """Lines read off a socket with plain recv (a socket file object cannot be read again after a timeout)."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.buffer = b""

    def next(self) -> bytes:
        while b"\n" not in self.buffer:
            chunk = self.conn.recv(4096)
            if not chunk:
                line, self.buffer = self.buffer, b""
                return line
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line


def _read(path: str) -> str:
    return Path(path).read_bytes().decode(errors="replace")


_lock = threading.Lock()
_instance: _Parent | None = None


def _parent() -> _Parent:
    global _instance
    with _lock:
        if _instance is None or _instance.process.poll() is not None:
            _instance = _Parent()
        return _instance


# -- the parent --------------------------------------------------------------------------------------------
def _console_scripts() -> dict[str, Any]:
    """Each client's console-script function, imported (what its installed script calls)."""
    scripts = {entry.name: entry for entry in entry_points(group="console_scripts") if entry.name in CLIENTS}
    return {name: scripts[name].load() for name in CLIENTS if name in scripts}


def _preload_plugins() -> None:
    for group in PLUGIN_GROUPS:
        for entry in entry_points(group=group):
            with contextlib.suppress(Exception):
                importlib.import_module(entry.module)


def _child(request: dict[str, Any], main: Any) -> None:
    """In the forked child: become the command, run its main, exit with its status. Never returns."""
    code = 1
    try:
        os.setsid()  # its own process group: a timeout kills the command and whatever it started
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        stdout = os.open(request["stdout"], os.O_WRONLY)
        stderr = os.open(request["stderr"], os.O_WRONLY)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        os.close(stdout)
        os.close(stderr)
        if request["stdin_closed"]:
            os.close(0)
            sys.stdin = None  # what Python gives a process started with fd 0 closed
        else:
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.close(devnull)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = list(request["argv"])
        cliff = sys.modules.get("cliff.app")
        if cliff is not None:  # cliff names the program from sys.argv[0] when it is imported, not when it runs
            cliff.App.NAME = os.path.splitext(os.path.basename(sys.argv[0]))[0]
            cliff.App.LOG = logging.getLogger(cliff.App.NAME)
        try:
            result = main()
            code = result if isinstance(result, int) else (0 if result is None else 1)
            if result is not None and not isinstance(result, int):
                print(result, file=sys.stderr)
        except SystemExit as done:
            if done.code is None:
                code = 0
            elif isinstance(done.code, int):
                code = done.code
            else:
                print(done.code, file=sys.stderr)
                code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code & 0xFF)


def _serve(path: str) -> None:
    mains = _console_scripts()
    _preload_plugins()
    parent = os.getppid()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(8)
        server.settimeout(1.0)
        Path(path + ".ready").touch()
        while True:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                if os.getppid() != parent:  # the test process is gone
                    return
                continue
            with conn:
                conn.settimeout(None)
                request = json.loads(conn.makefile("rb").readline())
                pid = os.fork()
                if pid == 0:
                    server.close()
                    conn.close()
                    _child(request, mains[request["name"]])
                conn.sendall(f"{pid}\n".encode())
                _, status = os.waitpid(pid, 0)
                with contextlib.suppress(OSError):
                    conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())


if __name__ == "__main__":
    _serve(sys.argv[1])
