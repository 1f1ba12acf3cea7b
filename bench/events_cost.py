"""Events cost: CPU and SQL statements per create spent on notifications and webhooks, in one process.

    .venv/bin/python bench/events_cost.py                     # 40 bursts of 25 creates, both ways
    .venv/bin/python bench/events_cost.py --bursts 20 --burst 50 --no-webhooks

Where ``events_bench.py`` measures two servers over HTTP on a shared machine, this measures the work itself,
with ``time.process_time`` (this process's CPU, every thread) and a count of the SQL statements each part
runs, which other programs on the machine do not change. It builds the services twice on SQLite in a
temporary directory: once with neither notifications nor webhooks, once sending every event with
``messagingv2`` to two topics on the RabbitMQ at 127.0.0.1:5672 and with one webhook for ``image.create``
pointing at a receiver in a child process (its CPU is not counted). Each burst is N ``ImageService.create``
calls (the request path), then the process's kick and the task worker until nothing is left to do (the
drain, the publishes, the fan-out, the webhook dispatch). Prints, per create: the request path's CPU and
statements both ways, and the background work's (worker and kick) CPU and statements with events on.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ADMIN_ROLES = frozenset({"admin", "member", "reader"})


def receive(port_file: str) -> None:
    """The webhook receiver (a child process): answers 204 to every POST."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


class Statements:
    """Counts the statements an engine runs."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.count = 0
        event.listen(engine, "before_cursor_execute", self._one)

    def _one(self, *_args: Any) -> None:
        self.count += 1


class Meter:
    def __init__(self, statements: Statements) -> None:
        self.statements = statements
        self.cpu = 0.0
        self.sql = 0

    @contextmanager
    def measure(self) -> Iterator[None]:
        cpu, sql = time.process_time(), self.statements.count
        try:
            yield
        finally:
            self.cpu += time.process_time() - cpu
            self.sql += self.statements.count - sql


async def run(args: argparse.Namespace, base: Path, on: bool, port: int) -> dict[str, float]:
    from glimpse.container import build_services
    from glimpse.context import RequestContext
    from glimpse.db.migrate import upgrade
    from glimpse.jobs.worker import Worker
    from glimpse.settings import load_settings

    topics = f"cost_{uuid.uuid4().hex[:8]}, cost_{uuid.uuid4().hex[:8]}_admin"
    env = {"GLIMPSE_DATA_DIR": str(base), "GLIMPSE_AUTH": "noauth"}
    config = base / "glimpse.conf"
    config.write_text(
        f"[oslo_messaging_notifications]\ndriver = messagingv2\ntopics = {topics}\n"
        "transport_url = rabbit://guest:guest@127.0.0.1:5672/\n\n"
        f"[webhooks]\nenabled = {str(args.webhooks).lower()}\n\n"
        f"[import_filtering_opts]\nallowed_hosts = 127.0.0.1\nallowed_ports = {port}\n"
        if on
        else ""
    )
    settings = load_settings(config, env)
    upgrade(settings.database_url.get_secret_value())
    services = build_services(settings)
    statements = Statements(services.db.engine)
    ctx = RequestContext(user_id="admin", project_id="admin", roles=ADMIN_ROLES)
    worker = Worker.from_services(services)
    try:
        if on and args.webhooks:
            await services.webhooks.create(ctx, {"url": f"http://127.0.0.1:{port}/hook", "events": ["image.create"]})
        await services.images.create(ctx, {"name": "warm-up", "disk_format": "raw", "container_format": "bare"})
        await services.outbox.kick()
        while await worker.run_one():
            pass
        request, background = Meter(statements), Meter(statements)
        profile = on and args.profile is not None
        if profile:  # yappi (pip install --target DIR yappi; PYTHONPATH): every thread's CPU, not wall time
            import yappi  # type: ignore[import-untyped]  # not a dependency

            yappi.set_clock_type("cpu")
            yappi.start(builtins=True)
        for burst in range(args.bursts):
            for n in range(args.burst):
                body = {"name": f"cost-{burst}-{n}", "disk_format": "raw", "container_format": "bare"}
                with request.measure():
                    await services.images.create(ctx, body)
            with background.measure():
                await services.outbox.kick()
                while await worker.run_one():
                    pass
        if profile:
            yappi.stop()
            yappi.get_func_stats().save(str(args.profile), type="pstat")
        creates = args.bursts * args.burst
        return {
            "request_ms": request.cpu * 1000 / creates,
            "request_sql": request.sql / creates,
            "background_ms": background.cpu * 1000 / creates,
            "background_sql": background.sql / creates,
        }
    finally:
        services.close()
        if on:
            delete_queues([topic.strip() for topic in topics.split(",")])


def delete_queues(topics: list[str]) -> None:
    """The topics' queues (``<topic>.info``), which the run filled and nothing consumed."""
    import amqp

    with amqp.Connection("127.0.0.1:5672", userid="guest", password="guest") as connection:
        channel = connection.channel()
        for topic in topics:
            channel.queue_delete(f"{topic}.info")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--receiver"]:
        receive(argv[1])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bursts", type=int, default=40, help="bursts of creates (default 40)")
    parser.add_argument("--burst", type=int, default=25, help="creates per burst (default 25)")
    parser.add_argument("--no-webhooks", dest="webhooks", action="store_false", help="notifications only")
    parser.add_argument(
        "--profile", type=Path, help="write a yappi CPU profile (pstat format) of the events-on bursts to this file"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="glimpse-events-cost-") as tmp:
        port_file = Path(tmp) / "port"
        receiver = subprocess.Popen([sys.executable, __file__, "--receiver", str(port_file)])
        try:
            while not port_file.exists() or not port_file.read_text():
                time.sleep(0.05)
            port = int(port_file.read_text())
            figures = {}
            for name in ("off", "on"):
                (Path(tmp) / name).mkdir()
                figures[name] = asyncio.run(run(args, Path(tmp) / name, name == "on", port))
        finally:
            receiver.terminate()
            receiver.wait(10)
    off, on = figures["off"], figures["on"]
    what = "notifications + webhooks" if args.webhooks else "notifications"
    print(f"[{what}] {args.bursts} bursts x {args.burst} creates; per create:")
    print(f"  request path: off {off['request_ms']:.3f} CPU ms, {off['request_sql']:.2f} statements; "
          f"on {on['request_ms']:.3f} CPU ms, {on['request_sql']:.2f} statements")  # fmt: skip
    print(f"  background (kick + worker): off {off['background_ms']:.3f} CPU ms, {off['background_sql']:.2f} "
          f"statements; on {on['background_ms']:.3f} CPU ms, {on['background_sql']:.2f} statements")  # fmt: skip
    extra = on["request_ms"] + on["background_ms"] - off["request_ms"] - off["background_ms"]
    print(f"  events cost {extra:.3f} CPU ms per create in all")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
