"""Notifications benchmark: creates/s with notifications off and on, in the same run.

    .venv/bin/python bench/events_bench.py                 # 3 rounds of 1,000 creates each way
    .venv/bin/python bench/events_bench.py --creates 300 --rounds 2   # quicker

Starts two `glimpse serve` processes (SQLite, noauth, fresh data dirs): one without a notification driver, one
sending every event with ``messagingv2`` to two topics on the RabbitMQ at 127.0.0.1:5672 (guest/guest), through
the outbox and the in-process worker. Rounds alternate off/on; each round is N sequential ``POST /v2/images`` on
one keep-alive connection. A kombu consumer reads every notification of the run, and each "on" round also
waits until all of its ``image.create`` notifications arrived before the next round starts (so no round pays
for another's deliveries); that wait after the last response is reported as the delivery lag. The topics'
queues are deleted at the end. Prints the median creates/s each way and the ratio (target: on >= 0.9 x off).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchlib import httpc, server

ROOT = Path(__file__).resolve().parents[1]
GLIMPSE = ROOT / ".venv" / "bin" / "glimpse"
KOMBU_URL = "amqp://guest:guest@127.0.0.1:5672//"
BODY = {"disk_format": "raw", "container_format": "bare"}


class Counter:
    """Counts the notifications arriving on ``<topic>.info`` (Glance's exchange), in a thread."""

    def __init__(self, topic: str) -> None:
        import kombu

        self.topic = topic
        self.count = 0
        self.lock = threading.Lock()
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
            with self.lock:
                self.count += 1
        message.ack()

    def _run(self) -> None:
        with self.connection.Consumer([self.queue], callbacks=[self._on_message], accept=["json"]):
            self.ready.set()
            while not self.stop.is_set():
                try:
                    self.connection.drain_events(timeout=0.5)
                except TimeoutError:
                    continue

    def wait_for(self, total: int, timeout: float = 300.0) -> float:
        start = time.perf_counter()
        while True:
            with self.lock:
                if self.count >= total:
                    return time.perf_counter() - start
            if time.perf_counter() - start > timeout:
                raise RuntimeError(f"only {self.count} of {total} notifications arrived within {timeout:.0f}s")
            time.sleep(0.01)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        with self.connection.channel() as channel:
            channel.queue_delete(self.queue.name)
        self.connection.release()


def creates(endpoint: httpc.Endpoint, count: int, label: str, warm: Callable[[], object]) -> float:
    """``count`` sequential creates on one keep-alive connection (after one warm-up create and ``warm()``);
    creates per second."""
    with httpc.Conn(endpoint) as conn:
        host = conn.host_header
        bodies = [
            httpc.json_request("POST", "/v2/images", host, {"name": f"{label}-{i}", **BODY}) for i in range(count)
        ]
        conn.send_raw(httpc.json_request("POST", "/v2/images", host, {"name": "warmup", **BODY}))
        warm()
        start = time.perf_counter()
        for body in bodies:
            response = conn.send_raw(body)
            if response.status != 201:
                raise RuntimeError(f"create answered {response.status}: {response.body[:300]!r}")
        return count / (time.perf_counter() - start)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=1000, help="creates per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds each way (default 3)")
    parser.add_argument(
        "--separate-worker",
        action="store_true",
        help="each server's task worker (and so the notification sends) in its own `glimpse worker` process",
    )
    args = parser.parse_args(argv)
    run = uuid.uuid4().hex[:8]
    topics = [f"bench_{run}", f"bench_{run}_admin"]
    with tempfile.TemporaryDirectory(prefix="glimpse-events-bench-") as tmp:
        base = Path(tmp)
        on_env = {
            "GLIMPSE_NOTIFICATION_DRIVER": "messagingv2",
            "GLIMPSE_NOTIFICATION_TOPICS": ",".join(topics),
            "GLIMPSE_NOTIFICATION_TRANSPORT_URL": "rabbit://guest:guest@127.0.0.1:5672/",
        }
        counter = Counter(topics[0])
        common = {"GLIMPSE_WORKER_IN_PROCESS": "false"} if args.separate_worker else {}
        servers = {
            "off": server.ServerProcess(GLIMPSE, base / "off", base / "off.log", common),
            "on": server.ServerProcess(GLIMPSE, base / "on", base / "on.log", {**common, **on_env}),
        }
        workers = []
        if args.separate_worker:
            for name, env in (("off", common), ("on", {**common, **on_env})):
                log = (base / f"{name}-worker.log").open("wb")
                full = {**os.environ, "GLIMPSE_DATA_DIR": str(base / name), "GLIMPSE_AUTH": "noauth", **env}
                full.pop("GLIMPSE_CONFIG", None)
                full.pop("GLIMPSE_DATABASE_URL", None)
                workers.append(
                    subprocess.Popen([str(GLIMPSE), "worker"], env=full, stdout=log, stderr=subprocess.STDOUT)
                )
        figures: dict[str, list[float]] = {"off": [], "on": []}
        lags: list[float] = []
        try:
            for process in servers.values():
                server.wait_ready(process.endpoint, 60, process.process)
            expected = 0
            for round_no in range(args.rounds):
                for name in ("off", "on"):
                    if name == "on":  # the warm-up create's notification is through before the clock starts
                        expected += 1
                        warm = lambda n=expected: counter.wait_for(n)  # noqa: E731
                    else:
                        warm = lambda: None  # noqa: E731
                    rate = creates(servers[name].endpoint, args.creates, f"bench-{name}-{round_no}", warm)
                    figures[name].append(rate)
                    line = f"round {round_no + 1} {name:>3}: {rate:8.1f} creates/s"
                    if name == "on":
                        expected += args.creates
                        lag = counter.wait_for(expected)
                        lags.append(lag)
                        line += (
                            f"  (all {expected} image.create notifications received {lag:.2f}s after the last response)"
                        )
                    print(line, flush=True)
        finally:
            for process in servers.values():
                process.stop()
            for worker in workers:
                worker.terminate()
                worker.wait(30)
            counter.close()
            with counter.connection.clone() as connection, connection.channel() as channel:
                channel.queue_delete(f"{topics[1]}.info")
        off, on = statistics.median(figures["off"]), statistics.median(figures["on"])
        mode = "separate worker process" if args.separate_worker else "in-process worker"
        print(f"\n[{mode}] creates/s median of {args.rounds} rounds x {args.creates}: off {off:.1f}, on {on:.1f}, "
              f"ratio on/off {on / off:.3f} (target >= 0.9); delivery lag max {max(lags):.2f}s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
