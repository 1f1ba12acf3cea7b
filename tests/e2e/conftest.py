"""End-to-end fixtures: one real `glimpse serve` process per session, driven by the real clients.

The server gets its own data directory and its own database (a new SQLite file, or a new PostgreSQL
database when GLIMPSE_TEST_DB=postgresql), runs the default `tokens` auth mode, and answers on a free
port of 127.0.0.1. Three tokens are created before it starts: an admin (project `admin`), a member of
project `alpha` and a member of project `beta`. Tests share the server, so every test names its images
uniquely and never assumes an empty image list.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests import clis
from tests.serverproc import GLIMPSE, STARTUP_TIMEOUT, VENV_BIN, new_database
from tests.serverproc import free_port as _free_port
from tests.serverproc import server_env as _server_env
from tests.serverproc import spawn as _spawn
from tests.serverproc import stop as _stop
from tests.serverproc import wait_for_root as _wait_for_root

GLANCE = str(VENV_BIN / "glance")
PAYLOAD_SIZE = 64 * 1024 * 1024
USERS = {
    "admin": ("admin", "admin", ("admin", "member", "reader")),
    "alpha": ("alice", "alpha", ("member", "reader")),
    "beta": ("bob", "beta", ("member", "reader")),
}
SERVER_KEY = pytest.StashKey["GlimpseServer"]()
IMPORT_SERVER_KEY = pytest.StashKey["GlimpseServer"]()  # tests/e2e/test_import.py
KEYSTONE_SERVER_KEY = pytest.StashKey["GlimpseServer"]()  # tests/e2e/test_keystone.py


@dataclass
class GlimpseServer:
    url: str
    tokens: dict[str, str]
    log_file: Path
    home: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class Payload:
    path: Path
    size: int
    md5: str
    sha512: str


def file_digests(path: Path) -> tuple[str, str]:
    """(md5, sha512) of a file, read in 4 MiB blocks."""
    md5, sha512 = hashlib.md5(usedforsecurity=False), hashlib.sha512()
    with path.open("rb") as handle:
        while block := handle.read(4 * 1024 * 1024):
            md5.update(block)
            sha512.update(block)
    return md5.hexdigest(), sha512.hexdigest()


@pytest.fixture(scope="session")
def e2e_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A new, empty database for the server process; the server migrates it itself."""
    with new_database(tmp_path_factory.mktemp("e2e-db"), prefix="glimpse_e2e") as url:
        yield url


def create_tokens(env: dict[str, str], users: tuple[str, ...] = tuple(USERS)) -> dict[str, str]:
    """`glimpse token create` for each of ``users`` (keys of USERS), before the server starts."""
    tokens: dict[str, str] = {}
    for key in users:
        user, project, roles = USERS[key]
        args = [GLIMPSE, "token", "create", "--user", user, "--project", project]
        for role in roles:
            args += ["--role", role]
        created = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert created.returncode == 0, f"glimpse token create failed:\n{created.stderr}"
        tokens[key] = created.stdout.strip().splitlines()[-1]
    return tokens


def launch(state: GlimpseServer, env: dict[str, str], config: Path | None = None) -> None:
    """Start `glimpse serve` for ``state`` on a free port and wait until GET / answers 300."""
    status: int | None = None
    for attempt in range(3):  # something else may take the free port before the server binds it
        port = _free_port()
        state.url = f"http://127.0.0.1:{port}"
        process = state.process = _spawn(port, env, state.log_file, config=config)
        status = _wait_for_root(process, port)
        if status is not None or "address already in use" not in state.log_tail().lower() or attempt == 2:
            break
        _stop(process)
    if status is None:
        assert state.process is not None
        pytest.fail(
            f"glimpse serve did not answer GET / within {STARTUP_TIMEOUT}s (exit code {state.process.poll()}):\n"
            f"{state.log_tail()}",
            pytrace=False,
        )
    assert status == 300, f"GET / answered {status}, expected 300:\n{state.log_tail()}"


@pytest.fixture(scope="session")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, e2e_database_url: str
) -> Iterator[GlimpseServer]:
    """A running `glimpse serve` with tokens for admin, alpha and beta."""
    root = tmp_path_factory.mktemp("e2e-server")
    data_dir, home = root / "data", root / "home"
    home.mkdir()
    env = _server_env(data_dir, e2e_database_url, home)
    state = GlimpseServer(url="", tokens=create_tokens(env), log_file=root / "server.log", home=home)
    try:
        launch(state, env)
        request.config.stash[SERVER_KEY] = state
        yield state
    finally:
        if SERVER_KEY in request.config.stash:
            del request.config.stash[SERVER_KEY]
        if state.process is not None:
            _stop(state.process)


IMPORT_STORES = ("fast", "cheap")


@dataclass
class ImportServer(GlimpseServer):
    """A server with two filesystem stores (`fast`, the default, and `cheap`) and web-download allowed to
    127.0.0.1 on any port, configured by the INI file ``config``."""

    config: Path = Path()
    stores: dict[str, Path] = field(default_factory=dict)
    staging: Path = Path()


IMPORT_CONFIG = """\
[DEFAULT]
enabled_backends = fast:file, cheap:file

[glance_store]
default_backend = fast

[fast]
filesystem_store_datadir = {fast}

[cheap]
filesystem_store_datadir = {cheap}

[os_glance_staging_store]
filesystem_store_datadir = {staging}

[import_filtering_opts]
allowed_hosts = 127.0.0.1
# empty: no allow list, so the (empty) deny list applies: any port
allowed_ports =
"""


@pytest.fixture(scope="session")
def import_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImportServer]:
    """A running `glimpse serve --config FILE` for the import tests, with its own database and tokens for
    admin and alpha."""
    root = tmp_path_factory.mktemp("e2e-import-server")
    data_dir, home = root / "data", root / "home"
    home.mkdir()
    stores = {name: root / "stores" / name for name in IMPORT_STORES}
    for directory in stores.values():
        directory.mkdir(parents=True)
    staging = root / "staging"
    config = root / "glimpse.conf"
    config.write_text(IMPORT_CONFIG.format(staging=staging, **{name: str(path) for name, path in stores.items()}))
    with new_database(root, prefix="glimpse_e2e_import") as database_url:
        env = _server_env(data_dir, database_url, home)
        state = ImportServer(
            url="",
            tokens=create_tokens(env, ("admin", "alpha")),
            log_file=root / "server.log",
            home=home,
            config=config,
            stores=stores,
            staging=staging,
        )
        try:
            launch(state, env, config)
            request.config.stash[IMPORT_SERVER_KEY] = state
            yield state
        finally:
            if IMPORT_SERVER_KEY in request.config.stash:
                del request.config.stash[IMPORT_SERVER_KEY]
            if state.process is not None:
                _stop(state.process)


@contextmanager
def stays_healthy(server: GlimpseServer) -> Iterator[None]:
    """The server logs no traceback and no ERROR (no 500s) inside the block, and still runs after it."""
    start = server.log_file.stat().st_size
    yield
    with server.log_file.open("rb") as handle:
        handle.seek(start)
        logged = handle.read().decode("utf-8", errors="replace")
    problems = [
        line
        for line in logged.splitlines()
        if "Traceback" in line or " ERROR " in line or line.startswith(("ERROR:", "CRITICAL:"))
    ]
    assert not problems, "the server logged errors during this test:\n" + "\n".join(problems[:20])
    assert server.process is not None
    assert server.process.poll() is None, f"glimpse serve exited:\n{server.log_tail()}"


@pytest.fixture(autouse=True)
def _server_stays_healthy(server: GlimpseServer) -> Iterator[None]:
    """After each test the server still runs and has logged no traceback and no ERROR (no 500s)."""
    with stays_healthy(server):
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the server log's tail to the report of a failing e2e test."""
    report: Any = yield
    if report.failed:
        for key, title in (
            (SERVER_KEY, "glimpse serve"),
            (IMPORT_SERVER_KEY, "glimpse serve (import)"),
            (KEYSTONE_SERVER_KEY, "glimpse serve (keystone)"),
        ):
            state = item.config.stash.get(key, None)
            if state is not None:
                report.sections.append((f"{title} log (tail)", state.log_tail()))
    return report  # type: ignore[no-any-return]


# -- data ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def payload(tmp_path_factory: pytest.TempPathFactory) -> Payload:
    """64 MiB of random bytes in a file, with their md5 and sha512."""
    path = tmp_path_factory.mktemp("payload") / "random.img"
    md5, sha512 = hashlib.md5(usedforsecurity=False), hashlib.sha512()
    with path.open("wb") as handle:
        remaining = PAYLOAD_SIZE
        while remaining:
            block = os.urandom(min(remaining, 4 * 1024 * 1024))
            md5.update(block)
            sha512.update(block)
            handle.write(block)
            remaining -= len(block)
    return Payload(path=path, size=PAYLOAD_SIZE, md5=md5.hexdigest(), sha512=sha512.hexdigest())


@pytest.fixture
def unique() -> str:
    """A short string that makes this test's names, tags and property values its own."""
    return uuid.uuid4().hex[:10]


# -- python-glanceclient: the command line --------------------------------------------------------------
@dataclass
class GlanceCLI:
    server: GlimpseServer
    env: dict[str, str]

    def run(self, user: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `glance ARGS` as USER. Its stdin is closed, so image-create uploads only what --file names."""
        # `--opt=value`: a token may begin with "-", which argparse would take for an option
        command = [GLANCE, f"--os-image-url={self.server.url}", f"--os-auth-token={self.server.tokens[user]}", *args]
        result = clis.run(command, env=self.env, timeout=120, stdin_closed=True)
        if check and result.returncode != 0:
            pytest.fail(
                f"glance {' '.join(args)} exited with {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}",
                pytrace=False,
            )
        return result


def parse_table(output: str) -> list[list[str]]:
    """The rows of a prettytable printed by the glance CLI, cells stripped; header row first."""
    rows = []
    for line in output.splitlines():
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def parse_show(output: str) -> dict[str, str]:
    """A `Property | Value` table as a dict; wrapped values (rows with an empty key) are rejoined."""
    result: dict[str, str] = {}
    last = None
    for key, value in parse_table(output)[1:]:
        if key:
            result[key] = value
            last = key
        elif last is not None:
            result[last] += value
    return result


@pytest.fixture(scope="session")
def glance_cli(server: GlimpseServer) -> GlanceCLI:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(HOME=str(server.home), XDG_CACHE_HOME=str(server.home / ".cache"), COLUMNS="200")
    return GlanceCLI(server=server, env=env)


# -- python-glanceclient: the library -------------------------------------------------------------------
@pytest.fixture(scope="session")
def glance_lib(server: GlimpseServer) -> Callable[[str], Any]:
    """``glance_lib(user)`` -> a glanceclient v2 Client acting as that user."""
    import glanceclient  # type: ignore[import-untyped]

    def make(user: str) -> Any:
        return glanceclient.Client("2", endpoint=server.url, token=server.tokens[user])

    return make


# -- openstacksdk -----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def sdk(server: GlimpseServer) -> Iterator[Callable[[str], Any]]:
    """``sdk(user)`` -> an openstack Connection for that user: a fixed token, no Keystone, no catalog."""
    import openstack.connection

    connections: dict[str, Any] = {}

    def get(user: str) -> Any:
        if user not in connections:
            connections[user] = openstack.connection.Connection(
                auth_type="admin_token",
                auth={"endpoint": server.url, "token": server.tokens[user]},
                image_endpoint_override=server.url,
            )
        return connections[user]

    yield get
    for conn in connections.values():
        conn.close()


# -- a large listing shared by the paging tests ------------------------------------------------------------
@dataclass(frozen=True)
class PagingSet:
    """250 images of project alpha, all tagged ``tag``; names repeat (10 distinct) to stress sort ties."""

    tag: str
    batch: str
    ids: frozenset[str]
    names: dict[str, str]  # id -> name
    parity: dict[str, str]  # id -> "even" / "odd" (an extra property)
    min_ram: dict[str, int]  # id -> min_ram


PAGING_COUNT = 250


@pytest.fixture(scope="session")
def paging_set(glance_lib: Callable[[str], Any]) -> PagingSet:
    """Create 250 images quickly with the glanceclient library (several clients in parallel)."""
    batch = uuid.uuid4().hex[:8]
    tag = f"paging-{batch}"
    workers = 6

    def create_some(worker: int) -> list[tuple[str, str, str, int]]:
        client = glance_lib("alpha")
        made = []
        for index in range(worker, PAGING_COUNT, workers):
            name = f"pg-{batch}-{index % 10}"
            parity = "even" if index % 2 == 0 else "odd"
            min_ram = (index % 5) * 128
            image = client.images.create(
                name=name,
                disk_format="raw",
                container_format="bare",
                tags=[tag],
                min_ram=min_ram,
                e2e_batch=batch,
                e2e_parity=parity,
            )
            made.append((image["id"], name, parity, min_ram))
        return made

    with ThreadPoolExecutor(workers) as pool:
        results = [row for rows in pool.map(create_some, range(workers)) for row in rows]
    assert len(results) == PAGING_COUNT
    return PagingSet(
        tag=tag,
        batch=batch,
        ids=frozenset(row[0] for row in results),
        names={row[0]: row[1] for row in results},
        parity={row[0]: row[2] for row in results},
        min_ram={row[0]: row[3] for row in results},
    )
