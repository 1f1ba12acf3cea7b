"""Events benchmark: creates/s with notifications and webhooks off and on, in the same run.

    .venv/bin/python bench/events_bench.py                 # 3 rounds of 1,000 creates each way
    .venv/bin/python bench/events_bench.py --creates 300 --rounds 2   # quicker
    .venv/bin/python bench/events_bench.py --no-webhooks   # notifications only
    .venv/bin/python bench/events_bench.py --latencies     # p50/p90/p99 of the creates each way, the share over 4 ms
    .venv/bin/python bench/events_bench.py --profile /tmp/prof --py-spy /tmp/pyspy/bin/py-spy  # where the CPU goes

Starts two `glimpse serve` processes (SQLite, noauth, fresh data dirs): one with neither notifications nor
webhooks, one sending every event with ``messagingv2`` to two topics on the RabbitMQ at 127.0.0.1:5672
(guest/guest), through the outbox and the server's task worker (in a child process of the server, as
`glimpse serve` runs it by default; ``--worker-on-loop``: on the server's own event loop; ``--separate-worker``:
a `glimpse worker` beside it), with webhooks on and one webhook for
``image.create`` pointing at a receiver of this benchmark (a real HTTP server on 127.0.0.1 that checks every
signature). Rounds alternate off/on; each round is N sequential ``POST /v2/images`` on one keep-alive
connection. A kombu consumer reads every notification of the run (it and the receiver run in a child process,
so that their work does not slow this process's client; ``--consumers-here``: in threads of this one), and
each "on" round also waits until all of its ``image.create`` notifications and webhook deliveries arrived
before the next round starts (so no round pays for another's deliveries); that wait after the last response is
reported as the delivery lag. The server's CPU per create (its process tree, and the worker processes with
--separate-worker) is measured too: it is the steadier figure on a shared machine. The topics' queues are
deleted at the end. Prints the median creates/s each way and the ratio (target: on >= 0.9 x off).
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import httptools

from benchlib import httpc, server
from benchlib.database import PG_ADMIN, Database
from benchlib.profiling import PhaseProfiler, summarize
from glimpse.domain.webhooks import verify

ROOT = Path(__file__).resolve().parents[1]
GLIMPSE = ROOT / ".venv" / "bin" / "glimpse"
KOMBU_URL = "amqp://guest:guest@127.0.0.1:5672//"
BODY = {"disk_format": "raw", "container_format": "bare"}


def counted(count: Synchronized[int], total: int, what: str, timeout: float) -> float:
    """Seconds until ``count`` reaches ``total`` (RuntimeError after ``timeout``)."""
    start = time.perf_counter()
    while count.value < total:
        if time.perf_counter() - start > timeout:
            raise RuntimeError(f"only {count.value} of {total} {what} arrived within {timeout:.0f}s")
        time.sleep(0.01)
    return time.perf_counter() - start


def bump(count: Synchronized[int]) -> None:
    with count.get_lock():
        count.value += 1


class Counter:
    """Counts the notifications arriving on ``<topic>.info`` (Glance's exchange) into ``count``, in a thread."""

    def __init__(self, topic: str, count: Synchronized[int]) -> None:
        import kombu

        self.topic = topic
        self.count = count
        self.stop = threading.Event()
        self.connection = kombu.Connection(KOMBU_URL)
        exchange = kombu.Exchange("glance", type="topic", durable=False)
        self.queue = kombu.Queue(f"{topic}.info", exchange, routing_key=f"{topic}.info", durable=False)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.ready = threading.Event()
        self.thread.start()
        self.ready.wait(30)

    def _on_message(self, body: Any, message: Any) -> None:
        envelope = json.loads(body) if isinstance(body, str | bytes) else body
        if json.loads(envelope["oslo.message"])["event_type"] == "image.create":
            bump(self.count)
        message.ack()

    def _run(self) -> None:
        with self.connection.Consumer([self.queue], callbacks=[self._on_message], accept=["json"]):
            self.ready.set()
            while not self.stop.is_set():
                try:
                    self.connection.drain_events(timeout=0.5)
                except TimeoutError:
                    continue

    def close(self, *others: str) -> None:
        """Stop, and delete this topic's queue and the queues of ``others`` (topics)."""
        self.stop.set()
        self.thread.join(10)
        with self.connection.channel() as channel:
            channel.queue_delete(self.queue.name)
            for topic in others:
                channel.queue_delete(f"{topic}.info")
        self.connection.release()


class Receiver:
    """A webhook receiver on 127.0.0.1 (threads of ``http.server``): counts into ``count`` the deliveries whose
    signature verifies (``bad`` the others). HTTP/1.1 with keep-alive (``--receiver-closes``: HTTP/1.0, a new
    connection for every delivery)."""

    def __init__(self, count: Synchronized[int], bad: Synchronized[int], keep_alive: bool = True) -> None:
        self.secret = ""
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                bump(count if verify(receiver.secret, headers, body) else bad)
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class LeanReceiver:
    """The same receiver on an asyncio event loop with httptools' parser (the default): a receiver in
    production is a service of its own elsewhere, and ``http.server`` spent about as much CPU per delivery
    as the Glimpse server spends sending it, on the benchmark's two cores."""

    def __init__(self, count: Synchronized[int], bad: Synchronized[int], keep_alive: bool = True) -> None:
        self.secret = ""
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        receiver = self

        class Delivery(asyncio.Protocol):
            def connection_made(self, transport: Any) -> None:
                self.transport = transport
                self.parser = httptools.HttpRequestParser(self)
                self.headers: dict[str, str] = {}
                self.body: list[bytes] = []

            def data_received(self, data: bytes) -> None:
                self.parser.feed_data(data)

            def on_header(self, name: bytes, value: bytes) -> None:
                self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

            def on_body(self, body: bytes) -> None:
                self.body.append(body)

            def on_message_complete(self) -> None:
                bump(count if verify(receiver.secret, self.headers, b"".join(self.body)) else bad)
                self.headers, self.body = {}, []
                if keep_alive:
                    self.transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                else:
                    self.transport.write(b"HTTP/1.0 204 No Content\r\nConnection: close\r\n\r\n")
                    self.transport.close()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(self.loop.create_server(Delivery, "127.0.0.1", 0))
            self.port = self.server.sockets[0].getsockname()[1]
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        started.wait(30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def consume(
    topics: list[str], keep_alive: bool, lean: bool, commands: Connection, counts: list[Synchronized[int]]
) -> None:
    """The notification counter and the webhook receiver, until told to close: sends the receiver's port,
    then takes ``("secret", value)`` and ``("close",)`` (answered once both are closed)."""
    notifications, deliveries, bad = counts
    counter = Counter(topics[0], notifications)
    receiver = (LeanReceiver if lean else Receiver)(deliveries, bad, keep_alive)
    commands.send(receiver.port)
    while True:
        command = commands.recv()
        if command[0] == "secret":
            receiver.secret = command[1]
        else:
            counter.close(*topics[1:])
            receiver.close()
            commands.send("closed")
            return


class Consumers:
    """What consumes the "on" server's events: a kombu consumer counting the notifications of the first topic
    and a webhook receiver checking every signature, in a child process (their CPU and GIL are not the
    client's, as in production, where consumers run elsewhere), or with ``here`` in a thread of this one."""

    def __init__(self, topics: list[str], keep_alive: bool, here: bool = False, lean: bool = True) -> None:
        context = multiprocessing.get_context("fork")  # before this process starts any thread
        self.notifications, self.deliveries, self.bad = (context.Value("q", 0) for _ in range(3))
        self.commands, theirs = context.Pipe()
        counts = [self.notifications, self.deliveries, self.bad]
        args = (topics, keep_alive, lean, theirs, counts)
        self.runner = (threading.Thread(target=consume, args=args, daemon=True) if here
                       else context.Process(target=consume, args=args, daemon=True))  # fmt: skip
        self.runner.start()
        if not self.commands.poll(60):
            raise RuntimeError("the event consumers did not start")
        self.port: int = self.commands.recv()

    def cpu_seconds(self) -> float:
        """CPU seconds of the consumers' process so far (0 with ``here``: they are this process's)."""
        pid = getattr(self.runner, "pid", None)
        return (server.cpu_seconds(pid) or 0.0) if pid is not None else 0.0

    def sign_with(self, secret: str) -> None:
        self.commands.send(("secret", secret))

    def wait_for_notifications(self, total: int, timeout: float = 300.0) -> float:
        return counted(self.notifications, total, "notifications", timeout)

    def wait_for_deliveries(self, total: int, timeout: float = 300.0) -> float:
        return counted(self.deliveries, total, "webhook deliveries", timeout)

    def close(self) -> None:
        self.commands.send(("close",))
        if self.commands.poll(60):
            self.commands.recv()
        self.runner.join(10)


def creates(
    endpoint: httpc.Endpoint, count: int, label: str, warm: Callable[[], object], latencies: list[float] | None = None
) -> float:
    """``count`` sequential creates on one keep-alive connection (after one warm-up create and ``warm()``);
    creates per second. Each one's seconds go to ``latencies`` if given."""
    with httpc.Conn(endpoint) as conn:
        host = conn.host_header
        bodies = [
            httpc.json_request("POST", "/v2/images", host, {"name": f"{label}-{i}", **BODY}) for i in range(count)
        ]
        conn.send_raw(httpc.json_request("POST", "/v2/images", host, {"name": "warmup", **BODY}))
        warm()
        start = time.perf_counter()
        for body in bodies:
            sent = time.perf_counter()
            response = conn.send_raw(body)
            if latencies is not None:
                latencies.append(time.perf_counter() - sent)
            if response.status != 201:
                raise RuntimeError(f"create answered {response.status}: {response.body[:300]!r}")
        return count / (time.perf_counter() - start)


ON_CONFIG = """\
[oslo_messaging_notifications]
driver = messagingv2
topics = {topics}
transport_url = rabbit://guest:guest@127.0.0.1:5672/

[webhooks]
enabled = {webhooks}

[import_filtering_opts]
allowed_hosts = 127.0.0.1
allowed_ports = {port}
"""


def add_webhook(endpoint: httpc.Endpoint, port: int) -> str:
    """Register the receiver for image.create (as the noauth admin, whose project owns the bench's images)."""
    with httpc.Conn(endpoint) as conn:
        body = {"url": f"http://127.0.0.1:{port}/hook", "events": ["image.create"]}
        response = conn.send_raw(httpc.json_request("POST", "/v2/webhooks", conn.host_header, body))
        if response.status != 201:
            raise RuntimeError(f"POST /v2/webhooks answered {response.status}: {response.body[:300]!r}")
        secret: str = response.json()["secret"]
        return secret


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=1000, help="creates per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds each way (default 3)")
    parser.add_argument("--no-webhooks", dest="webhooks", action="store_false", help="notifications only")
    parser.add_argument(
        "--receiver-closes", dest="keep_alive", action="store_false",
        help="the webhook receiver answers HTTP/1.0 and closes the connection after every delivery",
    )  # fmt: skip
    parser.add_argument(
        "--consumers-here", action="store_true",
        help="the notification counter and the webhook receiver in this process (threads), not in a child: "
             "their CPU and GIL then slow the client's creates",
    )  # fmt: skip
    parser.add_argument(
        "--separate-worker",
        action="store_true",
        help="each server's task worker (and so the notification sends) in its own `glimpse worker` process",
    )
    parser.add_argument(
        "--postgresql", action="store_true", help="each server on a new PostgreSQL database (default: SQLite)"
    )
    parser.add_argument("--pg-admin-url", default=PG_ADMIN, help=f"where to create them (default {PG_ADMIN})")
    parser.add_argument(
        "--receiver-threads",
        action="store_true",
        help="the webhook receiver on http.server's threads (as before 2026-12-07), not an asyncio loop",
    )
    parser.add_argument(
        "--worker-on-loop",
        action="store_true",
        help="each server's task worker on the server's own event loop ([glimpse] worker_process = false)",
    )
    parser.add_argument(
        "--request-path-only",
        action="store_true",
        help="the \"on\" server records every event in its outbox but runs no task worker (nothing is sent; the "
             "rounds do not wait for deliveries): what the events cost the request path alone",
    )  # fmt: skip
    parser.add_argument(
        "--latencies", action="store_true",
        help="print each way's create latencies: p50, p90, p99, and the share of the time in creates over 4 ms",
    )  # fmt: skip
    parser.add_argument(
        "--pin", action="store_true",
        help="this client and both servers on CPU 0; the servers' task workers and the consumers on CPU 1 "
             "(RabbitMQ where the scheduler puts it): see bench/README.md, \"Where the background's cost is\"",
    )  # fmt: skip
    parser.add_argument("--profile", type=Path, help="record every server and worker process with py-spy into this dir")
    parser.add_argument("--py-spy", default="py-spy", help="py-spy executable for --profile (default: on PATH)")
    args = parser.parse_args(argv)
    if args.request_path_only and (args.separate_worker or args.worker_on_loop):
        parser.error("--request-path-only runs no worker for the \"on\" server")
    run = uuid.uuid4().hex[:8]
    topics = [f"bench_{run}", f"bench_{run}_admin"]
    if args.pin:
        if args.consumers_here or args.worker_on_loop:
            parser.error("--pin puts the consumers and the workers in processes of their own on CPU 1")
        os.sched_setaffinity(0, {0})  # this client, and the servers started below (they inherit it)
    consumers = Consumers(topics, args.keep_alive, here=args.consumers_here, lean=not args.receiver_threads)
    if args.pin:
        server.pin(consumers.runner.pid, {1})  # type: ignore[union-attr]  # a process with --pin
    rabbit = server.pids_of("beam.smp")  # the broker's CPU per create too, when it runs here

    def broker_cpu() -> float:
        return sum(server.cpu_seconds(pid) or 0.0 for pid in rabbit)
    with tempfile.TemporaryDirectory(prefix="glimpse-events-bench-") as tmp:
        base = Path(tmp)
        config = base / "on.conf"
        config.write_text(ON_CONFIG.format(topics=", ".join(topics), webhooks=str(args.webhooks).lower(),
                                           port=consumers.port))  # fmt: skip
        on_env = {"GLIMPSE_CONFIG": str(config)}
        if args.request_path_only:
            on_env["GLIMPSE_WORKER_IN_PROCESS"] = "false"
        common = (
            {"GLIMPSE_WORKER_IN_PROCESS": "false"}
            if args.separate_worker
            else {"GLIMPSE_WORKER_PROCESS": "false"}
            if args.worker_on_loop
            else {}
        )
        databases = {name: Database(args.pg_admin_url, "glimpse_events") for name in ("off", "on") if args.postgresql}
        urls = {name: {"GLIMPSE_DATABASE_URL": database.url} for name, database in databases.items()}
        servers = {
            "off": server.ServerProcess(GLIMPSE, base / "off", base / "off.log", {**common, **urls.get("off", {})}),
            "on": server.ServerProcess(
                GLIMPSE, base / "on", base / "on.log", {**common, **on_env, **urls.get("on", {})}
            ),
        }
        workers: dict[str, subprocess.Popen[bytes]] = {}
        if args.separate_worker:
            for name, env in (("off", common), ("on", {**common, **on_env})):
                log = (base / f"{name}-worker.log").open("wb")
                full = {**os.environ, "GLIMPSE_DATA_DIR": str(base / name), "GLIMPSE_AUTH": "noauth"}
                full.pop("GLIMPSE_CONFIG", None)
                full.pop("GLIMPSE_DATABASE_URL", None)
                full.update(env)
                full.update(urls.get(name, {}))
                command = [str(GLIMPSE), "worker"]
                workers[name] = subprocess.Popen(command, env=full, stdout=log, stderr=subprocess.STDOUT)
        figures: dict[str, list[float]] = {"off": [], "on": []}
        cpu: dict[str, list[float]] = {"off": [], "on": []}
        worker_cpu: dict[str, list[float]] = {"off": [], "on": []}  # of cpu, the worker process's part
        lags: list[float] = []
        consumer_cpu: list[float] = []  # CPU ms per create of the notification consumer and webhook receiver
        rabbit_cpu: dict[str, list[float]] = {"off": [], "on": []}  # the broker's, per create
        latencies: dict[str, list[float]] = {"off": [], "on": []}

        def cpu_seconds(name: str) -> tuple[float, float]:
            """CPU seconds of the server's process tree (and of a separate worker) and, of those, the worker's
            (the separate one, else the server's child processes; 0 with --worker-on-loop)."""
            if name in workers:
                worker = server.CpuSnapshot.take(workers[name].pid).total
                return server.CpuSnapshot.take(servers[name].pid).total + worker, worker
            pid = servers[name].pid
            tree = server.CpuSnapshot.take(pid).total
            return tree, tree - (server.cpu_seconds(pid) or 0.0)

        profilers: dict[str, PhaseProfiler] = {}
        try:
            for process in servers.values():
                server.wait_ready(process.endpoint, 60, process.process)
            if args.pin:  # each server's worker child, or the separate workers
                for pid in [*(p for s in servers.values() for p in server.process_tree(s.pid)[1:]),
                            *(w.pid for w in workers.values())]:  # fmt: skip
                    server.pin(pid, {1})
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                for name in ("off", "on"):
                    pids = {"server": servers[name].pid, **({"worker": workers[name].pid} if name in workers else {})}
                    for kind, pid in pids.items():
                        profilers[f"{name}-{kind}"] = PhaseProfiler(args.py_spy, pid, args.profile, f"{name}-{kind}",
                                                                    gil=False)  # fmt: skip
            if args.webhooks:
                consumers.sign_with(add_webhook(servers["on"].endpoint, consumers.port))
            expected = 0
            waits = not args.request_path_only  # with no worker nothing arrives
            for round_no in range(args.rounds):
                for name in ("off", "on"):
                    if name == "on" and waits:  # the warm-up create's events are through before the clock starts
                        expected += 1

                        def warm(n: int = expected) -> None:
                            consumers.wait_for_notifications(n)
                            if args.webhooks:
                                consumers.wait_for_deliveries(n)
                    else:

                        def warm() -> None:
                            pass

                    before, consumed = cpu_seconds(name), consumers.cpu_seconds()
                    broker = broker_cpu()
                    rate = creates(servers[name].endpoint, args.creates, f"bench-{name}-{round_no}", warm,
                                   latencies[name] if args.latencies else None)  # fmt: skip
                    figures[name].append(rate)
                    line = f"round {round_no + 1} {name:>3}: {rate:8.1f} creates/s"
                    if name == "on" and waits:
                        expected += args.creates
                        lag = consumers.wait_for_notifications(expected)
                        if args.webhooks:
                            lag = max(lag, consumers.wait_for_deliveries(expected))
                        lags.append(lag)
                        line += f"  (all {expected} image.create events received {lag:.2f}s after the last response)"
                    after = cpu_seconds(name)
                    cpu[name].append((after[0] - before[0]) * 1000 / args.creates)
                    worker_cpu[name].append((after[1] - before[1]) * 1000 / args.creates)
                    line += f"  {cpu[name][-1]:.2f} CPU ms/create"
                    if not args.worker_on_loop:
                        line += f" (worker {worker_cpu[name][-1]:.2f})"
                    if name == "on" and not args.consumers_here:
                        consumer_cpu.append((consumers.cpu_seconds() - consumed) * 1000 / args.creates)
                        line += f"; consumers {consumer_cpu[-1]:.2f}"
                    if rabbit:
                        rabbit_cpu[name].append((broker_cpu() - broker) * 1000 / args.creates)
                        line += f"; RabbitMQ {rabbit_cpu[name][-1]:.2f}"
                    print(line, flush=True)
        finally:
            for label, profiler in profilers.items():
                output = profiler.stop()
                if output is not None:
                    print(f"py-spy ({label}), {output}:\n{summarize(output, gil=False, top=25)}", flush=True)
            for process in servers.values():
                process.stop()
            for worker in workers.values():
                worker.terminate()
                worker.wait(30)
            consumers.close()
            for database in databases.values():
                database.drop()
        if consumers.bad.value:
            raise RuntimeError(f"{consumers.bad.value} webhook deliveries had a bad signature")
        off, on = statistics.median(figures["off"]), statistics.median(figures["on"])
        mode = (
            "request path only: no worker"
            if args.request_path_only
            else "separate worker process"
            if args.separate_worker
            else "worker on the server's event loop"
            if args.worker_on_loop
            else "worker in a child process of the server"
        )
        what = "notifications + webhooks" if args.webhooks else "notifications"
        print(f"\n[{what}, {mode}] creates/s median of {args.rounds} rounds x {args.creates}: off {off:.1f}, "
              f"on {on:.1f}, ratio on/off {on / off:.3f} (target >= 0.9); CPU ms per create: off "
              f"{statistics.median(cpu['off']):.2f}, on {statistics.median(cpu['on']):.2f}"
              + (f" (of which the worker off {statistics.median(worker_cpu['off']):.2f}, on "
                 f"{statistics.median(worker_cpu['on']):.2f})" if not args.worker_on_loop else "")
              + (f"; consumers ({'threads' if args.receiver_threads else 'asyncio'} receiver) "
                 f"{statistics.median(consumer_cpu):.2f} per create on" if consumer_cpu else "")
              + (f"; RabbitMQ {statistics.median(rabbit_cpu['on']):.2f} per create on"
                 if rabbit_cpu["on"] else "")
              + (f"; delivery lag max {max(lags):.2f}s" if lags else "")
              + ("; pinned: client, servers on CPU 0; workers, consumers on CPU 1" if args.pin else ""))  # fmt: skip
    if args.latencies:
        for name, seconds in latencies.items():
            print(f"{name:>3} latencies: {describe(seconds)}")
    return 0


def describe(seconds: list[float], slow: float = 0.004) -> str:
    """p50, p90, p99 and max of ``seconds`` in ms, and how much of their sum the ones over ``slow`` take."""
    ordered = sorted(seconds)
    n = len(ordered)
    tail = [s for s in ordered if s > slow]
    return (f"p50 {ordered[n // 2] * 1000:.2f} p90 {ordered[int(n * 0.9)] * 1000:.2f} p99 "
            f"{ordered[int(n * 0.99)] * 1000:.2f} max {ordered[-1] * 1000:.1f} ms; {len(tail)} of {n} over "
            f"{slow * 1000:.0f} ms, {sum(tail):.2f} s of {sum(ordered):.2f} s")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
