"""Every command line the README shows, run as a reader would run it, against a live server.

Extraction (``readme_commands``): the README's code blocks are its command lines: indented blocks (lines of
four or more spaces after a blank line, or after another such line) and fenced blocks, except fenced blocks
tagged ``ini``, ``yaml``, ``json`` or ``text`` (file contents, not commands). Each non-blank line of a block is
one command; bash runs it as written, so a trailing ``  # comment`` is just a comment.

How each line runs, in README order, from a scratch directory that links every top-level entry of the
repository (so relative paths such as ``.venv/bin/glimpse`` work and files the commands write stay out of the
checkout), with ``.venv/bin`` first on ``PATH`` (as after ``. .venv/bin/activate``), a fresh data directory
(``GLIMPSE_DATA_DIR``), a fresh database (SQLite, or PostgreSQL with GLIMPSE_TEST_DB=postgresql), a fresh
``HOME``, no inherited ``OS_*``/``GLIMPSE_*`` variables, and the port ``9292`` replaced by a free one in the
line and in ``GLIMPSE_PORT``:

- server lines (``make run`` and ``glimpse serve ...``, with or without leading ``NAME=value``
  assignments): the server starts in the background, must answer ``GET /`` and keeps running until the next
  server line or the end; the ``export OS_AUTH_TOKEN=...`` it prints on a first start is remembered.
- ``export NAME=...`` (a literal ``...``): NAME takes the value the last server printed for it; any other
  ``export NAME=value`` sets NAME for the following lines.
- ``make test``: not run here: it is the whole suite, this test included; CI runs it (``.ci/run``).
- lines starting with ``glance``, ``openstack``, ``glimpse`` or ``.venv/bin/<program>``: run with bash and
  must exit 0 within two minutes, with a server up.
- anything else fails this test: a new kind of README line needs a rule here.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.serverproc import VENV_BIN, answers_root, free_port, new_database

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
NOT_COMMANDS = frozenset({"ini", "yaml", "json", "text"})
CLIENTS = ("glance", "openstack", "glimpse")
COMMAND_TIMEOUT = 120.0
_ASSIGNMENTS = re.compile(r"^(?:[A-Z_][A-Z0-9_]*=\S*\s+)*")
_EXPORT_PRINTED = re.compile(r"^export ([A-Z_][A-Z0-9_]*)=\.\.\.(\s|$)")
_EXPORT = re.compile(r"^export ([A-Z_][A-Z0-9_]*)=(\S*)")
_PRINTED = re.compile(r"^\s*export ([A-Z_][A-Z0-9_]*)=(\S+)\s*$", re.MULTILINE)


def readme_commands(text: str) -> list[str]:
    """The command lines of the README's code blocks (see the module docstring)."""
    commands: list[str] = []
    in_fence: str | None = None
    previous_blank_or_code = True
    for line in text.splitlines():
        stripped = line.strip()
        if in_fence is not None:
            if stripped.startswith("```"):
                in_fence = None
            elif stripped and in_fence not in NOT_COMMANDS:
                commands.append(stripped)
            continue
        if stripped.startswith("```"):
            in_fence = stripped[3:].strip().lower()
            continue
        if line.startswith("    ") and stripped and previous_blank_or_code:
            commands.append(stripped)
            previous_blank_or_code = True
            continue
        previous_blank_or_code = not stripped
    return commands


def test_extraction_rules() -> None:
    sample = (
        "text\n\n    make run   # x\n    glance image-list\n\n- item\n    not code\n```ini\n[a]\n```\n```\nls\n```\n"
    )
    assert readme_commands(sample) == ["make run   # x", "glance image-list", "ls"]


@dataclass
class Session:
    workdir: Path
    env: dict[str, str]
    port: int
    server: subprocess.Popen[bytes] | None = None
    printed: dict[str, str] = field(default_factory=dict)
    logs: list[Path] = field(default_factory=list)

    def stop_server(self) -> None:
        if self.server is None:
            return
        if self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            try:
                self.server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)
                self.server.wait(timeout=10)
        self.server = None

    def start_server(self, line: str) -> None:
        self.stop_server()
        log = self.workdir / f"server-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.server = subprocess.Popen(
                ["bash", "-c", line], cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 120  # `make run` may first bring .venv up to date (the Makefile installs
        # its real checkout, never this scratch directory of symlinks)
        while answers_root(self.port) is None:
            assert self.server.poll() is None, f"{line!r} exited:\n{log.read_text(errors='replace')[-3000:]}"
            assert time.monotonic() < deadline, f"{line!r} did not answer GET /:\n{log.read_text(errors='replace')}"
            time.sleep(0.1)
        assert answers_root(self.port) == 300
        self.printed.update(_PRINTED.findall(log.read_text(errors="replace")))

    def run(self, line: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", line], cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=COMMAND_TIMEOUT,
        )  # fmt: skip


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    workdir = tmp_path / "work"
    workdir.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in (".git",):
            (workdir / entry.name).symlink_to(entry)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLIMPSE_", "OS_"))}
    with new_database(tmp_path, prefix="glimpse_readme") as database_url:
        env.update(
            PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            VIRTUAL_ENV=str(VENV_BIN.parent),
            HOME=str(tmp_path / "home"),
            XDG_CACHE_HOME=str(tmp_path / "home" / ".cache"),
            GLIMPSE_DATA_DIR=str(tmp_path / "data"),
            GLIMPSE_DATABASE_URL=database_url,
            GLIMPSE_PORT=str(port),
            PYTHONUNBUFFERED="1",
        )
        state = Session(workdir=workdir, env=env, port=port)
        try:
            yield state
        finally:
            state.stop_server()


def _command_word(line: str) -> str:
    return _ASSIGNMENTS.sub("", line).split()[0] if _ASSIGNMENTS.sub("", line).split() else ""


def test_every_readme_command_runs(session: Session) -> None:
    commands = readme_commands(README.read_text(encoding="utf-8"))
    assert commands, "the README shows no command lines"
    ran: list[str] = []
    for raw in commands:
        line = raw.replace("9292", str(session.port))
        body = _ASSIGNMENTS.sub("", line)
        word = _command_word(line)
        if body.startswith("make run") or re.match(r"^(\.venv/bin/)?glimpse serve(\s|$)", body):
            session.start_server(line)
        elif body.startswith("make test"):
            continue  # the whole suite, this test included: CI runs it
        elif match := _EXPORT_PRINTED.match(body):
            name = match.group(1)
            assert name in session.printed, f"{raw!r}: no server printed {name} ({session.printed})"
            session.env[name] = session.printed[name]
        elif match := _EXPORT.match(body):
            session.env[match.group(1)] = match.group(2)
        elif word in CLIENTS or word.startswith(".venv/bin/"):
            assert session.server is not None, f"{raw!r}: no server is up"
            assert session.server.poll() is None, f"{raw!r}: the server has stopped"
            result = session.run(line)
            assert result.returncode == 0, f"{raw!r} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        else:
            pytest.fail(f"README line not recognised by tests/e2e/test_readme.py (add a rule): {raw!r}")
        ran.append(raw)
    assert any("openstack" in line for line in ran)
    assert any(line.startswith("glance ") for line in ran)
