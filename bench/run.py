"""Glimpse benchmark: starts a real `glimpse serve`, measures the data path and the API, prints a table.

    .venv/bin/python bench/run.py                  # full run (1 GiB image, 1,000 creates, 5,000 listed images)
    .venv/bin/python bench/run.py --quick          # smoke run
    .venv/bin/python bench/run.py --url http://127.0.0.1:9292   # an already running server (noauth)
    .venv/bin/python bench/run.py --profile /tmp/prof --py-spy /tmp/pyspy/bin/py-spy   # py-spy per phase

See bench/README.md for what each figure means and how it is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlib import httpc, machine, report, server, tools
from benchlib.profiling import PhaseProfiler, summarize

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
LATEST = RESULTS_DIR / "latest.json"
BASELINE = RESULTS_DIR / "baseline.json"
PAGE_LIMIT = 100
CONCURRENCY = 16
IMAGE_BODY = {"disk_format": "raw", "container_format": "bare"}
TMP_PREFIX = "glimpse-bench-"
OWNER_FILE = "bench.pid"


@dataclass(frozen=True, slots=True)
class Plan:
    size_mib: int
    creates: int
    list_images: int
    shows: int
    concurrent_seconds: int
    downloads: int

    @classmethod
    def of(cls, args: argparse.Namespace) -> Plan:
        if args.quick:
            return cls(args.size_mib or 64, 100, 1_000, 200, 3, 2)
        return cls(args.size_mib or 1024, 1_000, 5_000, 2_000, 10, 3)


@dataclass(slots=True)
class Results:
    figures: dict[str, float | None] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    tools: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def log(message: str = "") -> None:
    print(message, flush=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def cpu_text(info: dict[str, Any]) -> str:
    return (
        f"CPU: server {info.get('server_cpu_cores', 'n/a')} cores "
        f"(event-loop thread {info.get('server_loop_thread_cores', 'n/a')}), "
        f"whole machine {info.get('machine_busy_cores', 'n/a')} of {os.cpu_count()}"
    )


def add_cpu_per_op(info: dict[str, Any], count: int) -> None:
    """Server CPU per request: steadier than a rate when other work shares the machine."""
    if count and "server_cpu_s" in info:
        info["server_cpu_ms_per_op"] = round(info["server_cpu_s"] * 1000 / count, 3)
        info["server_loop_cpu_ms_per_op"] = round(info["server_loop_thread_cpu_s"] * 1000 / count, 3)


def per_op_text(info: dict[str, Any]) -> str:
    return (
        f"server CPU per request {info.get('server_cpu_ms_per_op', 'n/a')} ms "
        f"(event-loop thread {info.get('server_loop_cpu_ms_per_op', 'n/a')} ms, the rest in worker threads)"
    )


def git_describe() -> dict[str, Any]:
    def git(*args: str) -> str:
        out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else ""

    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return {"commit": git("rev-parse", "--short", "HEAD"), "dirty": bool(git("status", "--porcelain", "src"))}
    return {}


def sweep_stale_tmp(parent: Path | None) -> None:
    """Remove temp dirs left by a run that was killed (SIGKILL leaves no chance to clean up)."""
    for owner in (parent or Path(tempfile.gettempdir())).glob(f"{TMP_PREFIX}*/{OWNER_FILE}"):
        try:
            os.kill(int(owner.read_text()), 0)
        except ProcessLookupError:
            shutil.rmtree(owner.parent, ignore_errors=True)
        except (OSError, ValueError):
            continue


def check_loopback(endpoint: httpc.Endpoint) -> httpc.Endpoint:
    """This benchmark talks to the loopback interface only: a literal loopback address or ``localhost``
    (no name lookups, which could leave the machine)."""
    if endpoint.host == "localhost":
        return httpc.Endpoint("127.0.0.1", endpoint.port)
    try:
        loopback = ipaddress.ip_address(endpoint.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(f"--url must name a loopback address (127.0.0.1, ::1 or localhost), not {endpoint.host}")
    return endpoint


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.plan = Plan.of(args)
        self.results = Results()
        sweep_stale_tmp(args.tmp_dir)
        self.tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=args.tmp_dir))
        (self.tmp / OWNER_FILE).write_text(str(os.getpid()))
        self.server: server.ServerProcess | None = None
        self.endpoint: httpc.Endpoint | None = None
        self.pid: int | None = None
        self.curl = tools.find("curl", args.no_curl)
        self.wrk = tools.find("wrk", args.no_wrk)
        self.curl_version = tools.version(self.curl) if self.curl else ""
        self.wrk_version = tools.version(self.wrk) if self.wrk else ""
        self.py_spy = args.py_spy or shutil.which("py-spy")
        self.uploaded_id: str | None = None
        self.extra_ids: list[str] = []  # further images uploaded (removed with --url)
        self.ids: list[str] = []
        self.run_id = time.strftime("%Y%m%d-%H%M%S")

    # -- lifecycle --------------------------------------------------------------------------------------
    def cleanup(self) -> None:
        if self.args.url and self.uploaded_id and self.endpoint is not None:
            with contextlib.suppress(OSError, httpc.HTTPError), httpc.Conn(self.endpoint, timeout=30) as conn:
                for image_id in [self.uploaded_id, *self.extra_ids]:
                    conn.request("DELETE", f"/v2/images/{image_id}")
        if self.server is not None:
            self.server.stop()
            self.server = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self) -> None:
        if self.args.url:
            self.endpoint = check_loopback(httpc.Endpoint.parse(self.args.url))
            server.wait_ready(self.endpoint, 10)
            self.pid = self.args.server_pid or server.listener_pid(self.endpoint.port)
            log(f"target: {self.endpoint.base} (already running; server pid {self.pid or 'unknown: no RSS/CPU'})")
            return
        executable = self.args.server_bin or ROOT / ".venv" / "bin" / "glimpse"
        if not executable.exists():
            found = shutil.which("glimpse")
            if not found:
                raise SystemExit("no .venv/bin/glimpse: run `make install` first")
            executable = Path(found)
        data_dir = self.tmp / "data"
        self.server = server.ServerProcess(executable, data_dir, self.tmp / "server.log", {})
        self.endpoint = self.server.endpoint
        self.pid = self.server.pid
        try:
            waited = server.wait_ready(self.endpoint, 60, self.server.process)
        except RuntimeError:
            log(self.server.log_tail())
            raise
        idle = server.rss_mib(self.pid)
        self.results.details["server"] = {"startup_s": round(waited, 2), "idle_rss_mib": idle}
        log(f"server: {' '.join(self.server.command)}  (pid {self.pid}, data dir {data_dir})")
        log(f"        answered GET / after {waited:.1f}s; idle RSS {report.fmt(idle)} MiB")

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[dict[str, Any]]:
        """Wall time, server CPU and (with --profile) a py-spy recording of one phase."""
        info: dict[str, Any] = {}
        profiler = None
        if self.args.profile and self.pid and self.py_spy:
            # the data path runs in several threads at once; the API is bound by whoever holds the GIL
            profiler = PhaseProfiler(
                self.py_spy, self.pid, self.args.profile, name, gil=not name.startswith(("upload", "download"))
            )
        cpu_before = server.CpuSnapshot.take(self.pid) if self.pid else None
        sampler = server.RssSampler(self.pid).start() if self.pid else None
        machine_before = machine.cpu_jiffies()
        started = time.perf_counter()
        try:
            yield info
        finally:
            wall = time.perf_counter() - started
            busy = machine.busy_cores(machine_before, machine.cpu_jiffies(), os.cpu_count() or 1)
            info["machine_busy_cores"] = None if busy is None else round(busy, 2)
            if sampler is not None:
                info["server_rss_peak_mib"] = round(sampler.stop(), 1)
            if cpu_before is not None and self.pid and wall > 0:
                cpu_after = server.CpuSnapshot.take(self.pid)
                info["server_cpu_s"] = round(cpu_after.total - cpu_before.total, 3)
                info["server_loop_thread_cpu_s"] = round(cpu_after.main_threads - cpu_before.main_threads, 3)
                info["server_cpu_cores"] = round((cpu_after.total - cpu_before.total) / wall, 2)
                info["server_loop_thread_cores"] = round((cpu_after.main_threads - cpu_before.main_threads) / wall, 2)
            if profiler is not None:
                output = profiler.stop()
                if output is not None:
                    text = summarize(output, gil=profiler.gil)
                    (self.args.profile / f"{name}.summary.txt").write_text(text + "\n")
                    info["profile"] = str(output)
                    log(f"  py-spy ({name}), {output}:\n{text}")

    def conn(self) -> httpc.Conn:
        assert self.endpoint is not None
        return httpc.Conn(self.endpoint)

    # -- machine limits ---------------------------------------------------------------------------------
    def machine_limits(self) -> machine.DataFile:
        log(f"\n== machine limits (one core each; MB = 10^6 bytes); cpus={os.cpu_count()}")
        data = machine.make_data_file(self.tmp / "image.raw", self.plan.size_mib)
        fs = machine.filesystem_of(self.tmp)
        self.results.machine["tmp_filesystem"] = f"{fs} at {self.tmp.parent}"
        log(f"  disk write + fsync of the {self.plan.size_mib} MiB test file ({fs}): {data.write_mbps:,.0f} MB/s")
        md5 = machine.hash_file(data.path, "md5")
        sha512 = machine.hash_file(data.path, "sha512")
        log(f"  hashlib md5    on 1 MiB chunks: {md5.mbps:,.0f} MB/s")
        log(f"  hashlib sha512 on 1 MiB chunks: {sha512.mbps:,.0f} MB/s")
        sock = machine.loopback_socket_mbps(min(data.size * 2, 2 << 30))
        log(f"  loopback TCP, socket pair (sendall -> recv_into, 1 MiB): {sock:,.0f} MB/s")
        m = self.results.machine
        m.update(md5_mbps=md5.mbps, sha512_mbps=sha512.mbps, loopback_socket_mbps=sock, disk_write_mbps=data.write_mbps)
        m["hashes"] = {"md5": md5.hexdigest, "sha512": sha512.hexdigest}
        if self.curl:
            ceiling = machine.SendfileServer(data.path)
            try:
                best = 0.0
                for _ in range(2):
                    got = tools.curl_download(self.curl, f"http://127.0.0.1:{ceiling.port}/x")
                    best = max(best, machine.mbps(got.nbytes, got.seconds))
            finally:
                ceiling.close()
            m["loopback_curl_mbps"] = best
            log(f"  loopback HTTP, curl -o /dev/null from a sendfile server: {best:,.0f} MB/s")
        return data

    # -- data path --------------------------------------------------------------------------------------
    def _create_for_upload(self, label: str) -> str:
        with self.conn() as conn:
            created = conn.request(
                "POST",
                "/v2/images",
                json.dumps({"name": f"bench-{self.run_id}-{label}", **IMAGE_BODY}).encode(),
                {"Content-Type": "application/json"},
            )
            if created.status != 201:
                raise RuntimeError(f"create failed: {created.status} {created.body[:300]!r}")
            image_id: str = created.json()["id"]
        return image_id

    def _verify_upload(self, image_id: str, size: int) -> str:
        with self.conn() as conn:
            image = conn.get_json(f"/v2/images/{image_id}")
        problems = []
        if image.get("status") != "active" or image.get("size") != size:
            problems.append(f"status={image.get('status')} size={image.get('size')}")
        if image.get("checksum") != self.results.machine["hashes"]["md5"]:
            problems.append("checksum (md5) differs from the file's")
        algo = str(image.get("os_hash_algo"))
        if algo == "sha512" and image.get("os_hash_value") != self.results.machine["hashes"]["sha512"]:
            problems.append("os_hash_value differs from the file's sha512")
        if problems:
            raise RuntimeError("uploaded image is wrong: " + "; ".join(problems))
        return algo

    def upload(self, data: machine.DataFile) -> None:
        """The same file uploaded twice: with curl (the figure everything is compared with), then with httpx
        (a Python client, as python-glanceclient and openstacksdk are); each reports MB/s and the CPU seconds
        per GiB of the server and of the client."""
        assert self.endpoint is not None
        log(f"\n== upload {self.plan.size_mib} MiB (PUT /v2/images/{{id}}/file, application/octet-stream)")
        gib = data.size / (1 << 30)
        headers = {"Content-Type": "application/octet-stream"}
        clients = ["curl", "httpx"] if self.curl else ["python", "httpx"]
        for client in clients:
            image_id = self._create_for_upload(f"upload-{client}")
            path = f"/v2/images/{image_id}/file"
            rss_before = server.rss_mib(self.pid) if self.pid else None
            with self.phase(f"upload-{client}") as info:
                client_cpu: float | None = None
                if client == "curl":
                    assert self.curl is not None
                    tool = f"curl -T (streams the file; {self.curl_version})"
                    done, client_cpu = tools.curl_upload(self.curl, self.endpoint.base + path, data.path, headers)
                elif client == "httpx":
                    tool = "httpx (own process, 1 MiB chunks, Content-Length)"
                    done, client_cpu = tools.httpx_upload(self.endpoint.base + path, data.path, headers)
                else:
                    tool = "python socket.sendfile (curl not found)"
                    done = httpc.upload_file(self.endpoint, path, data.path, headers)
            if done.status != 204:
                raise RuntimeError(f"upload ({client}) answered {done.status}: {done.body[:300]!r}")
            algo = self._verify_upload(image_id, data.size)
            speed = machine.mbps(data.size, done.seconds)
            server_cpu = info.get("server_cpu_s")
            server_per_gib = round(server_cpu / gib, 3) if server_cpu is not None else None
            client_per_gib = round(client_cpu / gib, 3) if client_cpu is not None else None
            peak = info.get("server_rss_peak_mib")
            key = "upload" if client != "httpx" else "upload_httpx"
            self.results.tools[key] = tool
            self.results.figures[f"{key}_mbps"] = speed
            self.results.figures[f"{key}_server_cpu_s_per_gib"] = server_per_gib
            self.results.figures[f"{key}_client_cpu_s_per_gib"] = client_per_gib
            if client != "httpx":
                self.uploaded_id = image_id
                self.results.figures["upload_peak_rss_mib"] = peak
            else:
                self.results.figures["upload_peak_rss_mib"] = max(
                    peak or 0.0, self.results.figures.get("upload_peak_rss_mib") or 0.0
                )
                self.extra_ids.append(image_id)
            self.results.details[key] = {
                "seconds": round(done.seconds, 3),
                "bytes": data.size,
                "rss_before_mib": rss_before,
                "verified": f"md5 + {algo}",
                "client_cpu_s": None if client_cpu is None else round(client_cpu, 3),
                **info,
            }
            log(
                f"  {client}: {speed:,.0f} MB/s ({done.seconds:.2f}s); server {report.fmt(server_per_gib)} CPU-s/GiB, "
                f"client {report.fmt(client_per_gib)} CPU-s/GiB; checksum and {algo} verified; tool: {tool}"
            )
            log(
                f"  server RSS: {report.fmt(rss_before)} MiB before, peak {report.fmt(peak)} MiB during "
                f"(sampled every 10 ms); {cpu_text(info)}"
            )

    def download(self, data: machine.DataFile) -> None:
        assert self.endpoint is not None
        assert self.uploaded_id is not None
        log(
            f"\n== download {self.plan.size_mib} MiB (GET /v2/images/{{id}}/file to /dev/null), "
            f"best of {self.plan.downloads}"
        )
        path = f"/v2/images/{self.uploaded_id}/file"
        runs: list[float] = []
        with self.phase("download") as info:
            for _ in range(self.plan.downloads):
                if self.curl:
                    self.results.tools["download"] = f"curl -o /dev/null ({self.curl_version})"
                    done = tools.curl_download(self.curl, self.endpoint.base + path)
                else:
                    self.results.tools["download"] = "python recv_into (curl not found)"
                    done = httpc.download(self.endpoint, path)
                if done.status != 200 or done.nbytes != data.size:
                    raise RuntimeError(f"download answered {done.status} with {done.nbytes} of {data.size} bytes")
                runs.append(machine.mbps(done.nbytes, done.seconds))
        self.results.figures["download_mbps"] = max(runs)
        self.results.details["download"] = {"runs_mbps": [round(r) for r in runs], **info}
        log(
            f"  {max(runs):,.0f} MB/s (runs: {', '.join(f'{r:,.0f}' for r in runs)}); "
            f"{cpu_text(info)}; tool: {self.results.tools['download']}"
        )

    # -- API --------------------------------------------------------------------------------------------
    def timed_requests(
        self, conn: httpc.Conn, requests: list[bytes], expect: int, on_body: Callable[[httpc.Response], None] | None
    ) -> tuple[float, list[float]]:
        latencies: list[float] = []
        started = time.perf_counter()
        for raw in requests:
            t0 = time.perf_counter()
            response = conn.send_raw(raw)
            latencies.append(time.perf_counter() - t0)
            if response.status != expect:
                raise RuntimeError(f"expected {expect}, got {response.status}: {response.body[:300]!r}")
            if on_body is not None:
                on_body(response)
        return time.perf_counter() - started, latencies

    def record(
        self, key: str, name: str, count: int, seconds: float, latencies: list[float], info: dict[str, Any]
    ) -> None:
        rate = count / seconds
        self.results.figures[key] = rate
        add_cpu_per_op(info, count)
        self.results.details[name] = {
            "count": count,
            "seconds": round(seconds, 3),
            "latency_ms": {
                "p50": round(percentile(latencies, 0.5) * 1000, 2),
                "p99": round(percentile(latencies, 0.99) * 1000, 2),
                "mean": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
            },
            **info,
        }
        lat = self.results.details[name]["latency_ms"]
        log(
            f"  {rate:,.1f}/s ({count} in {seconds:.2f}s); latency p50 {lat['p50']} ms, p99 {lat['p99']} ms; "
            f"{cpu_text(info)}"
        )
        log(f"  {per_op_text(info)}")

    def creates(self) -> None:
        count = self.plan.creates
        log(f"\n== {count:,} creates (POST /v2/images, small JSON), sequential on one keep-alive connection")
        with self.conn() as conn:
            host = conn.host_header
            bodies = [
                httpc.json_request("POST", "/v2/images", host, {"name": f"bench-{self.run_id}-{i:06d}", **IMAGE_BODY})
                for i in range(count)
            ]
            conn.send_raw(httpc.json_request("POST", "/v2/images", host, {"name": "warmup", **IMAGE_BODY}))
            with self.phase("creates") as info:
                seconds, latencies = self.timed_requests(conn, bodies, 201, lambda r: self.ids.append(r.json()["id"]))
        self.results.tools["creates"] = "python keep-alive socket client"
        self.record("creates_per_s", "creates", count, seconds, latencies, info)

    def populate(self) -> None:
        """Enough images for the list figure (not a measured figure: concurrent creates)."""
        missing = self.plan.list_images - len(self.ids)
        if missing <= 0:
            return
        assert self.endpoint is not None
        endpoint = self.endpoint
        log(f"\n-- adding {missing:,} more images for the list figure (8 concurrent connections, not a figure)")
        names = iter(range(missing))
        created: list[str] = []

        async def worker() -> None:
            conn = await httpc.AsyncConn.open(endpoint)
            try:
                for i in names:
                    body = {"name": f"bench-{self.run_id}-fill-{i:06d}", **IMAGE_BODY}
                    response = await conn.send_raw(httpc.json_request("POST", "/v2/images", conn.host_header, body))
                    if response.status != 201:
                        raise RuntimeError(f"create answered {response.status}: {response.body[:300]!r}")
                    created.append(response.json()["id"])
            finally:
                await conn.close()

        async def main() -> None:
            await asyncio.gather(*(worker() for _ in range(8)))

        started = time.perf_counter()
        asyncio.run(main())
        elapsed = time.perf_counter() - started
        self.ids.extend(created)
        log(f"   {missing:,} creates in {elapsed:.1f}s ({missing / elapsed:,.0f}/s with 8 connections)")

    def listing(self) -> None:
        pages_wanted = self.plan.list_images // PAGE_LIMIT
        log(
            f"\n== list: {pages_wanted} pages of limit={PAGE_LIMIT} following `next` ({self.plan.list_images:,} images)"
        )
        with self.conn() as conn:
            conn.get_json(f"/v2/images?limit={PAGE_LIMIT}")  # warm-up
            latencies: list[float] = []
            images = 0
            pages = 0
            url: str | None = f"/v2/images?limit={PAGE_LIMIT}"
            with self.phase("list") as info:
                started = time.perf_counter()
                while url is not None and pages < pages_wanted:
                    t0 = time.perf_counter()
                    body = conn.get_json(url)
                    latencies.append(time.perf_counter() - t0)
                    pages += 1
                    images += len(body["images"])
                    url = body.get("next")
                seconds = time.perf_counter() - started
        if pages < pages_wanted:
            self.results.notes.append(f"list: only {pages} pages were available")
        info["images_seen"] = images
        self.results.tools["list"] = "python keep-alive socket client"
        self.record("list_pages_per_s", "list", pages, seconds, latencies, info)

    def shows(self) -> None:
        count = self.plan.shows
        log(f"\n== {count:,} shows (GET /v2/images/{{id}}), sequential on one keep-alive connection")
        with self.conn() as conn:
            requests = [
                httpc.build_request("GET", f"/v2/images/{self.ids[i % len(self.ids)]}", conn.host_header)
                for i in range(count)
            ]
            self.timed_requests(conn, requests[:20], 200, None)  # warm-up
            with self.phase("shows") as info:
                seconds, latencies = self.timed_requests(conn, requests, 200, None)
        self.results.tools["shows"] = "python keep-alive socket client"
        self.record("shows_per_s", "shows", count, seconds, latencies, info)

    def concurrent(self) -> None:
        assert self.endpoint is not None
        seconds = self.plan.concurrent_seconds
        paths = [f"/v2/images/{image_id}" for image_id in self.ids[:200]]
        log(f"\n== {CONCURRENCY} concurrent clients, GET /v2/images/{{id}} over {len(paths)} ids, {seconds}s")
        if self.wrk:
            self.results.tools["concurrent"] = f"wrk -t2 -c{CONCURRENCY} -d{seconds}s ({self.wrk_version})"
            with self.phase("concurrent") as info:
                result = tools.wrk_get(
                    self.wrk, self.endpoint.base, paths, threads=2, connections=CONCURRENCY, seconds=seconds
                )
            if result.errors:
                raise RuntimeError(f"wrk saw {result.errors} errors:\n{result.output}")
            rps = result.rps
            add_cpu_per_op(info, result.requests)
            self.results.details["concurrent"] = {
                "requests": result.requests,
                "seconds": result.seconds,
                "errors": result.errors,
                "latency_ms": {"p50": result.latency_p50_ms, "p99": result.latency_p99_ms},
                **info,
            }
            lat = f"latency p50 {report.fmt(result.latency_p50_ms)} ms, p99 {report.fmt(result.latency_p99_ms)} ms"
        else:
            loop_kind = httpc.install_uvloop()
            self.results.tools["concurrent"] = f"python {loop_kind} client, {CONCURRENCY} connections (wrk not found)"
            cpu_before = time.process_time()
            with self.phase("concurrent") as info:
                count, elapsed, latencies = asyncio.run(self._async_load(paths, seconds))
            client_cores = (time.process_time() - cpu_before) / elapsed
            rps = count / elapsed
            add_cpu_per_op(info, count)
            info["client_cpu_cores"] = round(client_cores, 2)
            self.results.details["concurrent"] = {
                "requests": count,
                "seconds": round(elapsed, 3),
                "latency_ms": {
                    "p50": round(percentile(latencies, 0.5) * 1000, 2),
                    "p99": round(percentile(latencies, 0.99) * 1000, 2),
                },
                **info,
            }
            lat = f"latency p50 {self.results.details['concurrent']['latency_ms']['p50']} ms"
            verdict = "it is likely the bottleneck" if client_cores > 0.5 else "it is probably not the bottleneck"
            note = (
                f"concurrency measured with a Python client (wrk not found), which shares the {os.cpu_count()} "
                f"cores with the server and used {client_cores:.2f} cores: {verdict}; install wrk for a true figure"
            )
            self.results.notes.append(note)
            log(f"  NOTE: {note}")
        self.results.figures["concurrent_rps"] = rps
        log(f"  {rps:,.0f} req/s; {lat}; {cpu_text(info)}; tool: {self.results.tools['concurrent']}")
        log(f"  {per_op_text(info)}")

    async def _async_load(self, paths: list[str], seconds: float) -> tuple[int, float, list[float]]:
        assert self.endpoint is not None
        endpoint = self.endpoint
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds

        async def worker(offset: int) -> None:
            conn = await httpc.AsyncConn.open(endpoint)
            requests = [httpc.build_request("GET", p, conn.host_header) for p in paths]
            index = offset
            try:
                while time.perf_counter() < deadline:
                    t0 = time.perf_counter()
                    response = await conn.send_raw(requests[index % len(requests)])
                    latencies.append(time.perf_counter() - t0)
                    if response.status != 200:
                        raise RuntimeError(f"GET answered {response.status}")
                    index += 1
            finally:
                await conn.close()

        started = time.perf_counter()
        await asyncio.gather(*(worker(i * 7) for i in range(CONCURRENCY)))
        return len(latencies), time.perf_counter() - started, latencies

    # -- everything -------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        load_before = os.getloadavg()
        log(
            f"glimpse bench {self.run_id}: python {platform.python_version()}, {os.cpu_count()} cpus, "
            f"load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}"
        )
        busy = machine.idle_probe(1.0)
        waited = 0.0
        while busy is not None and waited < self.args.wait_idle:
            if busy <= 0.15:
                busy = max(busy, machine.idle_probe(3.0) or 0.0)  # idle for a while, not a lull between jobs
                if busy <= 0.15:
                    break
            log(f"  waiting for the machine to go idle: {busy:.2f} cores busy")
            time.sleep(4)
            waited += 5
            busy = machine.idle_probe(1.0)
        self.results.machine["busy_cores_before_start"] = busy
        if busy is not None and busy > 0.15:
            note = f"{busy:.2f} cores were busy with other work before the run started: figures may be low"
            self.results.notes.append(note)
            log(f"  WARNING: {note}")
        log(
            f"tools: curl={self.curl or 'missing -> python socket client'}, "
            f"wrk={self.wrk or 'missing -> python asyncio client'}"
        )
        if self.args.profile:
            self.args.profile.mkdir(parents=True, exist_ok=True)
            if not self.py_spy:
                raise SystemExit(
                    "--profile needs py-spy (pip install --target DIR py-spy; pass --py-spy DIR/bin/py-spy)"
                )
            log(f"PROFILING with {self.py_spy} into {self.args.profile}: figures are measured under the sampler")
        self.start()
        data = self.machine_limits()
        self.upload(data)
        self.download(data)
        data.path.unlink(missing_ok=True)
        self.creates()
        self.populate()
        self.listing()
        self.shows()
        self.concurrent()
        if self.pid:
            self.results.details["server_rss_end_mib"] = server.rss_mib(self.pid)
            self.results.details["server_rss_hwm_mib"] = server.hwm_mib(self.pid)
        load_after = os.getloadavg()
        return {
            "version": 1,
            "run_id": self.run_id,
            "git": git_describe(),
            "target": "--url " + self.args.url
            if self.args.url
            else f"{self.args.server_bin or 'glimpse'} serve (SQLite + filesystem, noauth)",
            "plan": {
                "size_mib": self.plan.size_mib,
                "creates": self.plan.creates,
                "list_images": self.plan.list_images,
                "shows": self.plan.shows,
                "concurrent_seconds": self.plan.concurrent_seconds,
                "quick": self.args.quick,
                "profiled": bool(self.args.profile),
            },
            "environment": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "loadavg_start": load_before,
                "loadavg_end": load_after,
            },
            "figures": self.results.figures,
            "machine": self.results.machine,
            "derived": self.derived(),
            "tools": self.results.tools,
            "details": self.results.details,
            "notes": self.results.notes,
        }

    def derived(self) -> dict[str, float | None]:
        f, m = self.results.figures, self.results.machine
        slower_hash = min(m.get("md5_mbps", 0.0), m.get("sha512_mbps", 0.0)) or None
        loop = m.get("loopback_curl_mbps") or m.get("loopback_socket_mbps")

        def div(a: float | None, b: float | None) -> float | None:
            return a / b if a is not None and b else None

        return {
            "upload_vs_slower_hash": div(f.get("upload_mbps"), slower_hash),
            "upload_vs_disk_write": div(f.get("upload_mbps"), m.get("disk_write_mbps")),
            "download_vs_loopback": div(f.get("download_mbps"), loop),
            "download_vs_socket_loopback": div(f.get("download_mbps"), m.get("loopback_socket_mbps")),
        }


def print_report(result: dict[str, Any], baseline: dict[str, Any] | None, baseline_path: Path) -> None:
    log("\n" + "=" * 100)
    log(
        f"RESULTS {result['run_id']}  git {result['git'].get('commit', '?')}"
        f"{' (src/ modified)' if result['git'].get('dirty') else ''}  target: {result['target']}"
    )
    if baseline is not None:
        log(
            f"baseline: {baseline_path} (run {baseline.get('run_id', '?')}, "
            f"git {baseline.get('git', {}).get('commit', '?')})"
        )
    log("")
    log(report.table(result["figures"], baseline))
    m, d = result["machine"], result["derived"]
    slower = "md5" if m["md5_mbps"] <= m["sha512_mbps"] else "sha512"
    log("")
    log(
        f"machine: md5 {m['md5_mbps']:,.0f} MB/s, sha512 {m['sha512_mbps']:,.0f} MB/s (one core each); "
        f"loopback socket {m['loopback_socket_mbps']:,.0f} MB/s"
        + (f", curl<-sendfile {m['loopback_curl_mbps']:,.0f} MB/s" if "loopback_curl_mbps" in m else "")
        + f"; disk write+fsync {m['disk_write_mbps']:,.0f} MB/s"
    )
    loop_name = "curl<-sendfile" if "loopback_curl_mbps" in m else "socket pair"
    derived = [
        (f"upload / slower hash ({slower})", d["upload_vs_slower_hash"]),
        ("upload / disk write+fsync", d["upload_vs_disk_write"]),
        (f"download / loopback ({loop_name})", d["download_vs_loopback"]),
    ]
    if "loopback_curl_mbps" in m:
        derived.append(("download / loopback (socket pair)", d["download_vs_socket_loopback"]))
    for label, value in derived:
        log(f"{label + ':':<40} {report.fmt(value)}x")
    log("tools: " + "; ".join(f"{k}: {v}" for k, v in result["tools"].items()))
    for note in result["notes"]:
        log(f"NOTE: {note}")


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark a Glimpse server on loopback.")
    parser.add_argument("--size-mib", type=int, default=None, help="image size for upload/download (default 1024)")
    parser.add_argument("--quick", action="store_true", help="smaller counts and a 64 MiB image: a smoke run")
    parser.add_argument("--url", help="benchmark an already running noauth server on loopback instead of starting one")
    parser.add_argument(
        "--server-pid", type=int, help="with --url: the server pid for RSS/CPU (default: found via /proc)"
    )
    parser.add_argument(
        "--server-bin",
        type=Path,
        help="the glimpse executable to serve (default .venv/bin/glimpse; e.g. another checkout's, for before/after)",
    )
    parser.add_argument(
        "--wait-idle", type=float, default=0, metavar="SECONDS", help="wait up to this long for an idle machine"
    )
    parser.add_argument(
        "--tmp-dir", type=Path, help="parent of the temp dir holding the test file and the server's data dir"
    )
    parser.add_argument("--save-baseline", action="store_true", help=f"also write the results to {BASELINE}")
    parser.add_argument("--baseline", type=Path, default=BASELINE, help="baseline file to compare with")
    parser.add_argument("--output", type=Path, default=LATEST, help="where to write the JSON results")
    parser.add_argument("--no-curl", action="store_true", help="use the Python clients even if curl is installed")
    parser.add_argument("--no-wrk", action="store_true", help="use the Python asyncio client even if wrk is installed")
    parser.add_argument("--profile", type=Path, help="record each phase of the server with py-spy into this dir")
    parser.add_argument("--py-spy", help="py-spy executable for --profile (default: py-spy on PATH)")
    args = parser.parse_args(argv)
    if args.size_mib is not None and args.size_mib <= 0:
        parser.error("--size-mib must be positive")
    return args


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    bench = Bench(args)
    try:
        result = bench.run()
    except KeyboardInterrupt:
        log("\ninterrupted: stopping the server and removing temporary files")
        return 130
    except (RuntimeError, OSError, httpc.HTTPError) as exc:
        log(f"\nFAILED: {exc}")
        if bench.server is not None:
            log("server log tail:\n" + bench.server.log_tail())
        return 1
    finally:
        bench.cleanup()
    baseline = report.load_baseline(args.baseline)
    print_report(result, baseline, args.baseline)
    write_json(args.output, result)
    log(f"\nwrote {args.output}")
    if args.save_baseline:
        write_json(args.baseline, result)
        log(f"wrote {args.baseline} (baseline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
