"""A pytest plugin for Glare's own functional tests (glare 5.0.1, run from the Python 3.8 venv of
scripts/glare-tests-up): their server fixture starts `glimpse artifacts serve` instead of a Glare server.

Each test configures its server (enabled types, quotas, policy file, noauth) on a GlareServer object and calls
start_servers(); here that configuration is written as a Glimpse INI file (Glare's option names) with a
SQLite database and a filesystem store in the test's own directory, and `glimpse artifacts serve` is
started on the port the test chose. The tests then speak plain HTTP to it with identity headers.

Glare's scrubber is Glimpse's too: its daemon is `glimpse worker` (which runs the ``artifact_scrub`` task a
delayed delete enqueues), and the scrubber command the scrubber tests run (``python -m glare.cmd.scrubber``)
is `glimpse artifacts scrub` with the same configuration.
Python 3.8 syntax: this file runs in Glare's venv, not the project's.
"""

import os
import signal
import socket
import subprocess
import time

from glare.tests import functional
from glare.tests.functional import test_scrubber

GLIMPSE = os.environ.get("GLIMPSE_BIN", "glimpse")
START_TIMEOUT = float(os.environ.get("GLIMPSE_START_TIMEOUT", "60"))


def _ini(server, test_dir):
    types = [name.strip() for name in str(server.enabled_artifact_types).split(",") if name.strip()]
    if "sample_artifact" in str(server.custom_artifact_types_modules) and "sample_artifact" not in types:
        types.append("sample_artifact")
    auth = "noauth" if server.deployment_flavor in ("", "noauth") else "keystone"
    lines = [
        "[DEFAULT]",
        "enabled_artifact_types = {}".format(", ".join(types)),
        f"max_uploaded_data = {server.max_uploaded_data}",
        f"max_artifact_number = {server.max_artifact_number}",
        f"delayed_delete = {server.delayed_delete}",
        "[glimpse]",
        f"auth = {auth}",
        "data_dir = {}".format(os.path.join(test_dir, "glimpse")),
        "worker_in_process = false",
        "recover_on_start = false",
        "[artifacts]",
        "bind_host = 127.0.0.1",
        f"bind_port = {server.bind_port}",
        "[import_filtering_opts]",  # their external blob locations point at this very server
        f"allowed_ports = 80, 443, {server.bind_port}",
        "[oslo_policy]",
        f"policy_file = {server.policy_file}",
        "[database]",
        "connection = sqlite:///{}".format(os.path.join(test_dir, "glimpse.db")),
        str(server.artifact_type_section or ""),
    ]
    path = os.path.join(test_dir, "glimpse.conf")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def _wait(port, process, log_path):
    deadline = time.time() + START_TIMEOUT
    while time.time() < deadline:
        if process.poll() is not None:
            with open(log_path) as handle:
                raise RuntimeError("glimpse artifacts serve exited:\n" + handle.read()[-4000:])
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"glimpse artifacts serve did not listen on {port} within {START_TIMEOUT}s")


def _start(args, log_path):
    log = open(log_path, "w")  # noqa: SIM115 -- the process writes to it for as long as it runs; closed at stop
    process = subprocess.Popen([GLIMPSE, *args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return process, log


def start_servers(self, **kwargs):
    server = self.glare_server
    if server.sock is not None:  # the test held its port open for Glare's forking server
        server.sock.close()
        server.sock = None
    for name, value in kwargs.items():
        if hasattr(server, name) and name not in ("sock", "test_dir"):
            setattr(server, name, value)
    server.bind_port = self.glare_port
    conf = _ini(server, self.test_dir)
    log_path = os.path.join(self.test_dir, "glimpse.log")
    self._glimpse = [_start(["artifacts", "serve", "--config", conf], log_path)]
    _wait(self.glare_port, self._glimpse[0][0], log_path)
    if self.include_scrubber:
        self.scrubber_daemon.conf_file_name = conf  # what the scrubber command is run with
        if kwargs.get("daemon"):
            self._glimpse.append(_start(["worker", "--config", conf], os.path.join(self.test_dir, "worker.log")))


def stop_servers(self):
    for process, log in getattr(self, "_glimpse", []):
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
    self._glimpse = []


def execute(cmd, raise_error=True, **kwargs):
    """The scrubber tests' command runner: Glare's scrubber command is `glimpse artifacts scrub`."""
    args = cmd.split()
    if "glare.cmd.scrubber" in args:
        args = [GLIMPSE, "artifacts", "scrub", "--config", args[args.index("--config-file") + 1]]
    done = subprocess.run(args, capture_output=True, text=True)
    if raise_error and done.returncode != 0:
        raise RuntimeError(f"{cmd} exited {done.returncode}: {done.stderr}")
    return done.returncode, done.stdout, done.stderr


def cleanup(self):
    stop_servers(self)


test_scrubber.execute = execute
functional.FunctionalTest.start_servers = start_servers
functional.FunctionalTest.stop_servers = stop_servers
functional.FunctionalTest.cleanup = cleanup
