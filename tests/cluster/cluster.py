"""Several stateless Glimpse nodes behind HAProxy, each in its own network namespace (tests/cluster, bench).

The layout a production install has, on one machine: N `glimpse serve` nodes and M `glimpse worker`
processes, each alone in a network namespace (`network.py`) and reaching the rest only over the network;
one PostgreSQL database (the machine's, on 127.0.0.1:5432, reached from the namespaces through a `socat`
forwarder on the bridge's host address: the machine's PostgreSQL listens on loopback only and is left as it
is); one shared image store and one shared staging area (filesystem directories every node mounts, as an
NFS share would be); with ``swift=True`` a second store, ``swift``, on the machine's Swift (scripts/swift-up,
tempauth on 127.0.0.1:8080, reached through a forwarder the same way; tempauth names the storage URL after
the address it was asked at, so the nodes' locations carry the bridge's address), in a container of the
cluster's own, removed with its segments at the end; one token file; HAProxy on the host's loopback,
balancing round-robin over the nodes' addresses with `GET /healthcheck` checks. Each node has a data
directory of its own, as a separate machine would. Nothing here needs pytest.
"""

from __future__ import annotations

import csv
import ctypes
import http.client
import io
import json
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from tests.cluster.network import Network
from tests.contract.backends import swift as swift_backend
from tests.serverproc import GLIMPSE, ManagedProcess, free_port, new_pg_database, server_env, stop

API_PORT = 9292
STARTUP_TIMEOUT = 60.0  # two or three nodes start side by side on 2 shared cores
USERS = {
    "admin": ("admin", "admin", ("admin", "member", "reader")),
    "alpha": ("alice", "alpha", ("member", "reader")),
}

NODE_CONFIG = """\
[DEFAULT]
enabled_backends = shared:file{swift_backend}

[glance_store]
default_backend = shared

[shared]
filesystem_store_datadir = {store}

[os_glance_staging_store]
filesystem_store_datadir = {staging}

[glimpse]
# imports run in the separate `glimpse worker` processes only
worker_in_process = false
task_heartbeat_interval = 0.2
task_stale_after = 2

[import_filtering_opts]
# web-download from the host's address on the bridge (tests/cluster/test_recovery.py), on any port
allowed_hosts = {host}
allowed_ports =
"""
SWIFT_CONFIG = """
[swift]
swift_store_auth_address = {auth}
swift_store_auth_version = 1
swift_store_user = {user}
swift_store_key = {key}
swift_store_container = {container}
swift_store_create_container_on_put = true
# 2 MiB and more: a static large object of 1 MiB segments (the cluster tests write 3 and 10 MiB images)
swift_store_large_object_size = 2
swift_store_large_object_chunk_size = 1
"""

HAPROXY_CONFIG = """\
global
    maxconn 512
    stats socket {socket} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    # a node that refuses the connection (killed) has the request sent to another one
    retries 2
    option redispatch

frontend api
    bind 127.0.0.1:{port}
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /healthcheck
    http-check expect status 200
{servers}
"""


@dataclass
class Process(ManagedProcess):
    """A `glimpse serve` (``role == "serve"``) or `glimpse worker` in its own namespace."""

    name: str
    role: str
    namespace: str
    address: str
    env: dict[str, str]
    config: Path
    log_file: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log_start: int = 0  # where this run's output begins in the log

    @property
    def url(self) -> str:
        return f"http://{self.address}:{API_PORT}"

    @property
    def data_dir(self) -> Path:
        return Path(self.env["GLIMPSE_DATA_DIR"])

    def start(self) -> None:
        """Start it (without waiting: `wait_ready`), its output appended to its log."""
        self._log_start = len(self.log_text())
        command = [GLIMPSE, "serve", "--host", self.address, "--port", str(API_PORT)] if self.role == "serve" else [
            GLIMPSE, "worker"]  # fmt: skip
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                ["ip", "netns", "exec", self.namespace, *command, "--config", str(self.config)],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Until a node answers GET / with 300 (a worker: until it logs that it works)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start (exit code {self.process.poll()}):\n{self.log_tail()}")
            time.sleep(0.1)

    def _ready(self) -> bool:
        if self.role != "serve":
            return re.search(r"task worker \S+ started", self.log_text()[self._log_start :]) is not None
        conn = http.client.HTTPConnection(self.address, API_PORT, timeout=2)
        try:
            conn.request("GET", "/")
            return conn.getresponse().status == 300
        except OSError:
            return False
        finally:
            conn.close()

    def fsck(self, *args: str) -> tuple[int, dict[str, Any]]:
        """`glimpse fsck --json ARGS` run in this process's namespace with its settings: (exit code, report)."""
        done = subprocess.run(
            ["ip", "netns", "exec", self.namespace, GLIMPSE, "fsck", "--json", "--config", str(self.config), *args],
            env=self.env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if done.returncode not in (0, 1):
            raise RuntimeError(f"glimpse fsck failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        report: dict[str, Any] = json.loads(done.stdout)
        return done.returncode, report

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Cluster:
    """``nodes`` `glimpse serve` and ``workers`` `glimpse worker` behind HAProxy; a context manager that
    tears everything down (processes, HAProxy, the forwarder, namespaces, bridge, database) on exit."""

    root: Path
    nodes: int = 2
    workers: int = 1
    auth: str = "tokens"
    swift: bool = False  # a second store, `swift`, on the machine's Swift
    network: Network = field(default_factory=Network)
    members: list[Process] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    database_url: str = ""  # as the host reaches it
    port: int = 0  # HAProxy's, on 127.0.0.1
    swift_container: str = field(default_factory=lambda: f"glimpse-cluster-{secrets.token_hex(4)}")
    _stack: ExitStack = field(default_factory=ExitStack)
    _haproxy: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    @property
    def stats_socket(self) -> Path:
        return self.root / "haproxy.sock"

    def servers(self) -> list[Process]:
        return [member for member in self.members if member.role == "serve"]

    def task_workers(self) -> list[Process]:
        return [member for member in self.members if member.role == "worker"]

    # -- bringing it up ------------------------------------------------------------------------------------
    def __enter__(self) -> Cluster:
        try:
            self._up()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _up(self) -> None:
        for directory in (self.store, self.staging):
            directory.mkdir(parents=True, exist_ok=True)
        self.network.open()
        self._stack.callback(self.network.close)
        self.database_url = self._stack.enter_context(new_pg_database("glimpse_cluster"))
        url = make_url(self.database_url)
        self._forward(str(url.host), url.port or 5432)
        node_database = url.set(host=self.network.host_address)
        config = self.root / "glimpse.conf"
        host = self.network.host_address
        text = NODE_CONFIG.format(
            store=self.store, staging=self.staging, host=host, swift_backend=", swift:swift" if self.swift else ""
        )
        if self.swift:
            auth = urlsplit(swift_backend.AUTH_URL)
            assert auth.hostname is not None, swift_backend.AUTH_URL
            assert auth.port is not None, swift_backend.AUTH_URL
            self._stack.callback(self._remove_swift_container)
            self._forward(auth.hostname, auth.port)
            text += SWIFT_CONFIG.format(
                auth=auth._replace(netloc=f"{host}:{auth.port}").geturl(), user=swift_backend.USER,
                key=swift_backend.KEY, container=self.swift_container,
            )  # fmt: skip
        config.write_text(text)
        roles = [("node", "serve")] * self.nodes + [("worker", "worker")] * self.workers
        counts: dict[str, int] = {}
        for prefix, role in roles:
            counts[prefix] = counts.get(prefix, 0) + 1
            name = f"{prefix}{counts[prefix]}"
            namespace, address = self.network.add(name)
            home = self.root / name / "home"
            home.mkdir(parents=True)
            env = server_env(self.root / name / "data", node_database.render_as_string(hide_password=False), home)
            env.update(GLIMPSE_TOKEN_FILE=str(self.root / "tokens.json"), GLIMPSE_AUTH=self.auth)
            self.members.append(Process(name, role, namespace, address, env, config, self.root / f"{name}.log"))
        if self.auth == "tokens":
            self.tokens = create_tokens(self.members[0].env)
        for member in self.members:  # all at once, as an operator's orchestration starts them
            member.start()
        for member in self.members:
            member.wait_ready()
        self._start_haproxy()

    def _forward(self, host: str, port: int) -> None:
        """socat on the bridge's host address, same port, to a service of the machine that listens on loopback
        only (PostgreSQL, Swift), which is left as it is."""
        listen = f"TCP-LISTEN:{port},bind={self.network.host_address},reuseaddr,fork"
        log_file = self.root / f"socat-{port}.log"
        with log_file.open("wb") as log:
            forwarder = subprocess.Popen(
                ["socat", listen, f"TCP:{host}:{port}"], stdin=subprocess.DEVNULL, stderr=log,
                preexec_fn=die_with_parent,
            )  # fmt: skip
        self._stack.callback(stop, forwarder)
        _wait_port(self.network.host_address, port, forwarder, log_file)

    def swift_objects(self) -> dict[str, list[str]]:
        """The names in the cluster's Swift container and in its segments container (as the host sees them)."""
        conn = swift_backend.admin_connection()
        try:
            return {
                name: swift_backend.object_names(conn, name)
                for name in (self.swift_container, f"{self.swift_container}_segments")
            }
        finally:
            conn.close()

    def _remove_swift_container(self) -> None:
        conn = swift_backend.admin_connection()
        try:
            for name in (self.swift_container, f"{self.swift_container}_segments"):
                swift_backend.remove_container(conn, name)
        finally:
            conn.close()

    def _start_haproxy(self) -> None:
        servers = "\n".join(
            f"    server {node.name} {node.address}:{API_PORT} check inter 500ms fall 2 rise 1"
            for node in self.servers()
        )
        log = self.root / "haproxy.log"
        for _attempt in range(3):  # something else may take the free port before HAProxy binds it
            self.port = free_port()
            config = self.root / "haproxy.cfg"
            config.write_text(HAPROXY_CONFIG.format(socket=self.stats_socket, port=self.port, servers=servers))
            with log.open("ab") as output:
                self._haproxy = subprocess.Popen(
                    ["haproxy", "-db", "-f", str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=die_with_parent,
                )
            try:
                _wait_port("127.0.0.1", self.port, self._haproxy, log)
            except RuntimeError:
                stop(self._haproxy)
                if "cannot bind" not in log.read_text(errors="replace").lower():
                    raise
                continue
            break
        haproxy = self._haproxy
        assert haproxy is not None
        self._stack.callback(stop, haproxy)
        deadline = time.monotonic() + 10
        while not all(row["status"] == "UP" for row in self.stats().values()):  # its first checks passed
            if time.monotonic() > deadline:
                raise RuntimeError(f"HAProxy does not see every node up: {self.stats()}")
            time.sleep(0.1)

    def close(self) -> None:
        for member in self.members:
            member.stop()
        self._stack.close()  # HAProxy, socat, the database, then the namespaces and the bridge

    # -- looking at it -------------------------------------------------------------------------------------
    def stats(self) -> dict[str, dict[str, str]]:
        """HAProxy's `show stat` for each node of the backend (status, hrsp_2xx, stot, ...)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.stats_socket))
            sock.sendall(b"show stat\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        text = b"".join(chunks).decode().lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {row["svname"]: row for row in rows if row["pxname"] == "nodes" and row["svname"] != "BACKEND"}

    def requests_per_node(self) -> dict[str, int]:
        """Requests each node answered, as HAProxy counted them (every status class)."""
        counted = {}
        for name, row in self.stats().items():
            counted[name] = sum(int(row.get(f"hrsp_{kind}") or 0) for kind in ("1xx", "2xx", "3xx", "4xx", "5xx"))
        return counted

    def logs(self) -> str:
        return "\n".join(f"--- {m.name} ({m.role}, {m.address})\n{m.log_tail()}" for m in self.members)


def create_tokens(env: dict[str, str]) -> dict[str, str]:
    """`glimpse token create` for each of USERS into the shared token file."""
    tokens = {}
    for key, (user, project, roles) in USERS.items():
        args = [GLIMPSE, "token", "create", "--user", user, "--project", project]
        for role in roles:
            args += ["--role", role]
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"glimpse token create failed:\n{done.stderr}")
        tokens[key] = done.stdout.strip().splitlines()[-1]
    return tokens


def die_with_parent() -> None:
    """Runs in a child before exec: SIGKILL it when the process that started it ends, however it ends
    (``PR_SET_PDEATHSIG`` survives the exec of `ip netns exec` and of glimpse), so a killed test run leaves no
    node, HAProxy or forwarder running; its namespaces and bridge go at the next run's `sweep_stale`."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _wait_port(host: str, port: int, process: subprocess.Popen[Any], log: Path, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                text = log.read_text(errors="replace") if log.exists() else ""
                raise RuntimeError(
                    f"nothing listens on {host}:{port} ({process.args[0]} exit {process.poll()}):\n{text}"
                ) from exc
            time.sleep(0.05)


def tools_missing() -> list[str]:
    """The programs the cluster needs that this machine lacks (`make system-deps` installs them)."""
    return [tool for tool in ("ip", "haproxy", "socat") if shutil.which(tool) is None]
