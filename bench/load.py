"""Glimpse load test: many concurrent clients mixing the everyday operations against a real server.

    .venv/bin/python bench/load.py                          # 60 s, 64 clients
    .venv/bin/python bench/load.py --duration 10 --clients 16

Starts `glimpse serve` (noauth, filesystem store) on a free port of 127.0.0.1 with a fresh PostgreSQL
database on 127.0.0.1:5432 (user postgres, trust auth), seeds images with data, then runs ``--clients``
keep-alive connections for ``--duration`` seconds, each picking operations at random: list, show, create,
upload (create + PUT of a small image) and download. Prints requests/s, p50/p99 latency per operation and
overall, the error count and the server's RSS before and after; writes bench/results/load-latest.json.
Exits non-zero when any request failed. The database, the data directory and the server are removed at the
end, also on Ctrl-C or SIGTERM. Only loopback is used; every loop is bounded by the deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from benchlib import httpc, machine, server
from benchlib.database import PG_ADMIN, Database

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results" / "load-latest.json"
IMAGE_BODY = {"disk_format": "raw", "container_format": "bare"}
# relative weights of the operations each client picks from ("upload" also creates the image it fills)
MIX = {"list": 2, "show": 4, "create": 1, "upload": 1, "download": 2}
OPERATIONS = ("list", "show", "create", "upload", "download")
REQUEST_TIMEOUT = 30.0
SEED_IMAGES = 200


def log(message: str = "") -> None:
    print(message, flush=True)


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


@dataclass(slots=True)
class Tally:
    """Latencies (seconds) per operation and the failures, shared by every client."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPERATIONS})
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 10:
            self.error_samples.append(message)


class Load:
    def __init__(self, endpoint: httpc.Endpoint, payload: bytes, tally: Tally, rng: random.Random) -> None:
        self.endpoint = endpoint
        self.host = f"{endpoint.host}:{endpoint.port}"
        self.payload = payload
        self.tally = tally
        self.rng = rng
        self.with_data: list[str] = []  # active images: show and download targets
        self.create_request = httpc.json_request("POST", "/v2/images", self.host, IMAGE_BODY)

    async def call(
        self, conn: httpc.AsyncConn, op: str | None, request: bytes, expect: int, what: str
    ) -> httpc.Response | None:
        """Send one request; record its latency under ``op`` (None: not timed) or count it as an error."""
        started = time.perf_counter()
        try:
            response = await asyncio.wait_for(conn.send_raw(request), REQUEST_TIMEOUT)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, httpc.HTTPError) as exc:
            self.tally.fail(f"{what}: {type(exc).__name__}: {exc}")
            raise
        elapsed = time.perf_counter() - started
        if response.status != expect:
            self.tally.fail(f"{what}: {response.status} (expected {expect}): {response.body[:200]!r}")
            return None
        if op is not None:
            self.tally.latencies[op].append(elapsed)
        return response

    async def create(self, conn: httpc.AsyncConn, op: str | None = "create") -> str | None:
        response = await self.call(conn, op, self.create_request, 201, "POST /v2/images")
        if response is None:
            return None
        image_id: str = response.json()["id"]
        return image_id

    async def upload(self, conn: httpc.AsyncConn, op: str | None = "upload") -> None:
        image_id = await self.create(conn, "create" if op else None)
        if image_id is None:
            return
        request = httpc.build_request(
            "PUT",
            f"/v2/images/{image_id}/file",
            self.host,
            self.payload,
            {"Content-Type": "application/octet-stream", "x-openstack-image-size": str(len(self.payload))},
        )
        if await self.call(conn, op, request, 204, "PUT /v2/images/{id}/file") is not None:
            self.with_data.append(image_id)

    async def show(self, conn: httpc.AsyncConn) -> None:
        image_id = self.rng.choice(self.with_data)
        request = httpc.build_request("GET", f"/v2/images/{image_id}", self.host)
        response = await self.call(conn, "show", request, 200, "GET /v2/images/{id}")
        if response is not None and response.json()["id"] != image_id:
            self.tally.fail(f"GET /v2/images/{image_id}: another image came back")

    async def listing(self, conn: httpc.AsyncConn) -> None:
        request = httpc.build_request("GET", "/v2/images?limit=20", self.host)
        response = await self.call(conn, "list", request, 200, "GET /v2/images")
        if response is not None and len(response.json()["images"]) != 20:
            self.tally.fail("GET /v2/images?limit=20: fewer than 20 images")

    async def download(self, conn: httpc.AsyncConn) -> None:
        image_id = self.rng.choice(self.with_data)
        request = httpc.build_request("GET", f"/v2/images/{image_id}/file", self.host)
        response = await self.call(conn, "download", request, 200, "GET /v2/images/{id}/file")
        if response is not None and response.body != self.payload:
            self.tally.fail(f"GET /v2/images/{image_id}/file: {len(response.body)} bytes, not the uploaded data")

    async def client(self, deadline: float) -> None:
        ops = list(MIX)
        weights = list(MIX.values())
        conn = await httpc.AsyncConn.open(self.endpoint)
        try:
            while time.monotonic() < deadline:
                op = self.rng.choices(ops, weights)[0]
                try:
                    if op == "list":
                        await self.listing(conn)
                    elif op == "show":
                        await self.show(conn)
                    elif op == "create":
                        await self.create(conn)
                    elif op == "upload":
                        await self.upload(conn)
                    else:
                        await self.download(conn)
                except (OSError, TimeoutError, asyncio.IncompleteReadError, httpc.HTTPError):
                    # the connection is in an unknown state: counted as an error above, start a new one
                    await conn.close()
                    conn = await httpc.AsyncConn.open(self.endpoint)
        finally:
            await conn.close()

    async def seed(self, count: int, concurrency: int) -> None:
        async def worker(share: int) -> None:
            conn = await httpc.AsyncConn.open(self.endpoint)
            try:
                for _ in range(share):
                    await self.upload(conn, op=None)
            finally:
                await conn.close()

        shares = [count // concurrency + (1 if i < count % concurrency else 0) for i in range(concurrency)]
        await asyncio.gather(*(worker(share) for share in shares if share))


def scrape_requests(endpoint: httpc.Endpoint) -> float:
    """The server's own count of answered requests (glimpse_http_requests_total summed), from /metrics."""
    with httpc.Conn(endpoint, timeout=30) as conn:
        response = conn.request("GET", "/metrics")
    if response.status != 200:
        raise httpc.HTTPError(f"GET /metrics -> {response.status}")
    total = 0.0
    for line in response.body.decode().splitlines():
        if line.startswith("glimpse_http_requests_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def health(endpoint: httpc.Endpoint) -> tuple[int, Any]:
    with httpc.Conn(endpoint, timeout=30) as conn:
        response = conn.request("GET", "/healthcheck")
    return response.status, response.json()


def _die_with_parent() -> None:
    """In the server process before exec: SIGTERM it when this script dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


class Server:
    """`glimpse serve` with its own data dir and the given database; output in a log file."""

    def __init__(self, executable: Path, tmp: Path, database_url: str) -> None:
        self.port = server.free_port()
        self.endpoint = httpc.Endpoint("127.0.0.1", self.port)
        self.log_path = tmp / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
        env.update(GLIMPSE_DATA_DIR=str(tmp / "data"), GLIMPSE_DATABASE_URL=database_url, GLIMPSE_AUTH="noauth")
        self.command = [str(executable), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path.open("wb") as output:
            self.process = subprocess.Popen(
                self.command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def summarize(tally: Tally, seconds: float) -> dict[str, Any]:
    ops: dict[str, Any] = {}
    everything: list[float] = []
    for op in OPERATIONS:
        values = sorted(tally.latencies[op])
        everything.extend(values)
        ops[op] = {
            "count": len(values),
            "per_s": round(len(values) / seconds, 1),
            "p50_ms": round(percentile(values, 0.50) * 1000, 2),
            "p99_ms": round(percentile(values, 0.99) * 1000, 2),
        }
    everything.sort()
    overall = {
        "count": len(everything),
        "per_s": round(len(everything) / seconds, 1),
        "p50_ms": round(percentile(everything, 0.50) * 1000, 2),
        "p99_ms": round(percentile(everything, 0.99) * 1000, 2),
    }
    return {"operations": ops, "overall": overall}


def git_commit() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        return out.stdout.strip()
    return ""


def run(args: argparse.Namespace) -> int:
    executable = ROOT / ".venv" / "bin" / "glimpse"
    if not executable.exists():
        raise SystemExit("no .venv/bin/glimpse: run `make install` first")
    loop_kind = httpc.install_uvloop()
    payload = os.urandom(args.upload_kib * 1024)
    tmp = Path(tempfile.mkdtemp(prefix="glimpse-load-"))
    database: Database | None = None
    glimpse: Server | None = None
    try:
        database = Database(args.pg_admin_url)
        glimpse = Server(executable, tmp, database.url)
        try:
            waited = server.wait_ready(glimpse.endpoint, 60, glimpse.process)
        except RuntimeError:
            log(glimpse.log_tail())
            raise
        pid = glimpse.process.pid
        rss_start = server.rss_mib(pid)
        log(f"server: {' '.join(glimpse.command)} (pid {pid}); PostgreSQL database {database.name}")
        log(f"        answered GET / after {waited:.1f}s; RSS {rss_start:.1f} MiB")
        status, body = health(glimpse.endpoint)
        if status != 200:
            raise SystemExit(f"GET /healthcheck answered {status}: {body}")

        tally = Tally()
        load = Load(glimpse.endpoint, payload, tally, random.Random(args.seed))
        started = time.perf_counter()
        asyncio.run(load.seed(SEED_IMAGES, min(16, args.clients)))
        log(f"seeded {len(load.with_data)} images of {args.upload_kib} KiB in {time.perf_counter() - started:.1f}s")
        if tally.errors:
            log(f"seeding failed: {tally.error_samples}")
            return 1

        rss_before = server.rss_mib(pid)
        counted_before = scrape_requests(glimpse.endpoint)
        cpu_before = server.cpu_seconds(pid) or 0.0
        machine_before = machine.cpu_jiffies()
        client_before = resource.getrusage(resource.RUSAGE_SELF)
        log(f"load: {args.clients} clients for {args.duration:g}s, mix {MIX} ({loop_kind} client)")

        async def drive() -> float:
            begin = time.perf_counter()
            deadline = time.monotonic() + args.duration
            await asyncio.gather(*(load.client(deadline) for _ in range(args.clients)))
            return time.perf_counter() - begin

        seconds = asyncio.run(drive())
        client_after = resource.getrusage(resource.RUSAGE_SELF)
        machine_after = machine.cpu_jiffies()
        cpu_after = server.cpu_seconds(pid) or 0.0
        rss_after = server.rss_mib(pid)
        rss_peak = server.hwm_mib(pid)
        counted = scrape_requests(glimpse.endpoint) - counted_before - 1  # less the scrape itself
        status_after, body_after = health(glimpse.endpoint)

        summary = summarize(tally, seconds)
        client_cpu = (client_after.ru_utime + client_after.ru_stime) - (client_before.ru_utime + client_before.ru_stime)
        result: dict[str, Any] = {
            "run": time.strftime("%Y%m%d-%H%M%S"),
            "git": git_commit(),
            "backend": "postgresql",
            "duration_s": round(seconds, 2),
            "clients": args.clients,
            "mix": MIX,
            "upload_bytes": len(payload),
            "seeded_images": SEED_IMAGES,
            **summary,
            "errors": tally.errors,
            "error_samples": tally.error_samples,
            "server": {
                "rss_mib_start": rss_start,
                "rss_mib_before": rss_before,
                "rss_mib_after": rss_after,
                "rss_mib_peak": rss_peak,
                "cpu_cores": round((cpu_after - cpu_before) / seconds, 2),
                "requests_counted_by_metrics": counted,
                "healthcheck_after": status_after,
            },
            "client_cpu_cores": round(client_cpu / seconds, 2),
            "machine_busy_cores": machine.busy_cores(machine_before, machine_after, os.cpu_count() or 1),
        }
        report(result, body_after)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        output = Path(args.output) if args.output else RESULTS
        output.write_text(json.dumps(result, indent=2) + "\n")
        log(f"wrote {output}")
        # every request a client sent was answered and counted by the server (uploads count their create too)
        sent = summary["overall"]["count"] + tally.errors
        if counted < sent:
            log(f"NOTE: the server counted {counted:.0f} requests, the clients recorded {sent}")
        if status_after != 200:
            log(f"FAIL: /healthcheck answered {status_after} after the load")
            return 1
        if tally.errors:
            log(f"FAIL: {tally.errors} requests failed")
            return 1
        return 0
    finally:
        if glimpse is not None:
            glimpse.stop()
        if database is not None:
            try:
                database.drop()
            except psycopg.Error as exc:
                log(f"could not drop database {database.name}: {exc}")
        shutil.rmtree(tmp, ignore_errors=True)


def report(result: dict[str, Any], health_body: Any) -> None:
    log()
    log(f"{'operation':<10} {'count':>8} {'per s':>9} {'p50 ms':>9} {'p99 ms':>9}")
    log("-" * 49)
    rows = [*result["operations"].items(), ("overall", result["overall"])]
    for name, row in rows:
        log(f"{name:<10} {row['count']:>8,} {row['per_s']:>9,.1f} {row['p50_ms']:>9.2f} {row['p99_ms']:>9.2f}")
    srv = result["server"]
    log()
    log(f"requests/s {result['overall']['per_s']:,.1f} over {result['duration_s']}s with {result['clients']} clients")
    log(f"errors     {result['errors']}")
    for sample in result["error_samples"]:
        log(f"           {sample}")
    log(
        f"server RSS {srv['rss_mib_before']:.1f} MiB before, {srv['rss_mib_after']:.1f} MiB after "
        f"(at start {srv['rss_mib_start']:.1f}, peak {srv['rss_mib_peak']:.1f})"
    )
    log(
        f"CPU        server {srv['cpu_cores']} cores, load client {result['client_cpu_cores']} cores, "
        f"whole machine {result['machine_busy_cores']:.2f} of {os.cpu_count()}"
    )
    log(f"server     counted {srv['requests_counted_by_metrics']:.0f} requests in /metrics; /healthcheck {health_body}")


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mixed-operation load test of a Glimpse server on PostgreSQL.")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60, at most 3600)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent keep-alive clients (default 64)")
    parser.add_argument("--upload-kib", type=int, default=64, help="size of each uploaded image (default 64 KiB)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the operation mix")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN, help=f"where to create the database (default {PG_ADMIN})")
    parser.add_argument("--output", default=None, help=f"JSON results (default {RESULTS.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 3600:
        parser.error("--duration must be in (0, 3600]")
    if not 0 < args.clients <= 1024:
        parser.error("--clients must be in 1..1024")
    host = args.pg_admin_url.split("@", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "localhost", "[::1]"):
        parser.error("--pg-admin-url must name a loopback address")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return run(args)
    except KeyboardInterrupt:
        log("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
