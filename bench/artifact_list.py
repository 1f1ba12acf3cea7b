"""Artifact list benchmark: requests/s of `GET /artifacts/sample_artifact` with Glare's filters over 10,000
artifacts of one project.

    .venv/bin/python bench/artifact_list.py                       # SQLite in a temp dir, 10,000 artifacts
    .venv/bin/python bench/artifact_list.py --database-url postgresql://127.0.0.1/glimpse_bench
    .venv/bin/python bench/artifact_list.py --count 2000 --seconds 2   # quicker

Seeds the artifacts through the artifact service in process (name ``art-<i % 100>``, version ``<i // 100>.0.0``,
``int1`` = i, ``str1`` one of four words, ``bool1`` every other, tags ``even``/``odd`` and ``t<i % 10>``,
``dict_of_str`` ``{"k": "v<i % 10>"}``), starts `glimpse artifacts serve` (noauth, one worker process) on a free
port of 127.0.0.1 and, for each query, checks its first page and total, then keeps CONCURRENCY keep-alive
connections busy for ``--seconds``: requests/s, p50 and p99 latency, the server's CPU-seconds per request.
Every list answers with its ``total_count`` (a count over the filter) and ``limit`` items (25 by default).
Writes bench/results/artifact-list-latest.json. The server and the temp dir are removed at exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from benchlib import httpc  # noqa: E402
from benchlib.server import _die_with_parent, cpu_seconds, free_port, wait_ready  # noqa: E402

RESULTS = BENCH_DIR / "results" / "artifact-list-latest.json"
GLIMPSE = BENCH_DIR.parent / ".venv" / "bin" / "glimpse"
CONCURRENCY = 8
PROJECT = "bench"
IDENTITY = {"X-Identity-Status": "Confirmed", "X-User-Id": "u", "X-Project-Id": PROJECT, "X-Roles": "member"}
WORDS = ("alpha", "beta", "gamma", "delta")
# (label, query, how many of N artifacts match it)
QUERIES: list[tuple[str, str, Any]] = [
    ("no filter", "", lambda n: n),
    ("name", "?name=art-42", lambda n: len(range(42, n, 100))),
    ("int1 gte, sorted", "?int1=gte:5000&sort=int1:asc", lambda n: max(n - 5000, 0)),
    ("tag", "?tags=t3", lambda n: len(range(3, n, 10))),
    ("two tags", "?tags=t4,even", lambda n: len(range(4, n, 10))),
    ("version gte, sorted", "?version=gte:50.0.0&sort=version:desc", lambda n: max(n - 5000, 0)),
    ("str1 in + bool1", "?str1=in:alpha,beta&bool1=true", lambda n: len(range(0, n, 4))),
    ("dict key", "?dict_of_str.k=eq:v7", lambda n: len(range(7, n, 10))),
    ("latest version", "?name=art-42&version=latest", lambda n: 1 if n > 42 else 0),
    ("limit 100", "?limit=100&sort=created_at:desc", lambda n: n),
]


def log(message: str) -> None:
    print(message, flush=True)


def seed(conf: Path, count: int) -> float:
    """Create ``count`` artifacts in process; the seconds it took."""
    from glimpse.container import build_services
    from glimpse.context import RequestContext
    from glimpse.db.migrate import upgrade
    from glimpse.settings import load_settings

    settings = load_settings(conf, env={})
    upgrade(settings.database_url.get_secret_value())
    services = build_services(settings)
    ctx = RequestContext(user_id="u", project_id=PROJECT, roles=frozenset({"member"}))

    def body(i: int) -> dict[str, Any]:
        return {
            "name": f"art-{i % 100}", "version": f"{i // 100}.0.0", "int1": i, "str1": WORDS[i % 4],
            "bool1": i % 2 == 0, "tags": ["even" if i % 2 == 0 else "odd", f"t{i % 10}"],
            "dict_of_str": {"k": f"v{i % 10}"},
        }  # fmt: skip

    async def run() -> None:
        for i in range(count):  # one after another: concurrent creates would only queue for the database
            await services.artifacts.create(ctx, "sample_artifact", body(i))

    started = time.perf_counter()
    try:
        asyncio.run(run())
    finally:
        services.close()
    return time.perf_counter() - started


async def load(endpoint: httpc.Endpoint, path: str, seconds: float) -> tuple[int, float, list[float]]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        conn = await httpc.AsyncConn.open(endpoint)
        request = httpc.build_request("GET", path, conn.host_header, headers=IDENTITY)
        try:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                response = await conn.send_raw(request)
                latencies.append(time.perf_counter() - t0)
                if response.status != 200:
                    raise RuntimeError(f"GET {path} answered {response.status}: {response.body[:200]!r}")
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return len(latencies), time.perf_counter() - started, latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="load time per query")
    parser.add_argument("--database-url", default="", help="default: SQLite in the temp dir")
    args = parser.parse_args()
    loop_name = httpc.install_uvloop()
    tmp = Path(tempfile.mkdtemp(prefix="glimpse-artifact-list-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        database = args.database_url or f"sqlite:///{tmp / 'glimpse.db'}"
        conf = tmp / "glimpse.conf"
        conf.write_text(
            f"[DEFAULT]\nenabled_artifact_types = sample_artifact\nmax_api_limit = 1000\n"
            f"[glimpse]\nauth = noauth\ndata_dir = {tmp / 'data'}\n[database]\nconnection = {database}\n"
        )
        seeded = seed(conf, args.count)
        log(f"seeded {args.count:,} artifacts in {seeded:.1f} s ({args.count / seeded:,.0f}/s, in process)")
        port = free_port()
        with (tmp / "server.log").open("wb") as out:
            process = subprocess.Popen(
                [str(GLIMPSE), "artifacts", "serve", "--config", str(conf), "--host", "127.0.0.1", "--port", str(port)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent,
            )  # fmt: skip
        endpoint = httpc.Endpoint("127.0.0.1", port)
        wait_ready(endpoint, 60, process)
        figures: dict[str, dict[str, float]] = {}
        log(f"{'query':<22} {'matches':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11}")
        for label, query, expected in QUERIES:
            path = f"/artifacts/sample_artifact{query}"
            with httpc.Conn(endpoint, timeout=30) as conn:
                first = conn.request("GET", path, headers=IDENTITY).json()
            total, want = first["total_count"], expected(args.count)
            if total != want:
                raise RuntimeError(f"{path}: total_count {total}, expected {want}")
            cpu_before = cpu_seconds(process.pid) or 0.0
            done, elapsed, latencies = asyncio.run(load(endpoint, path, args.seconds))
            cpu = (cpu_seconds(process.pid) or 0.0) - cpu_before
            latencies.sort()
            figures[label] = {
                "matches": total,
                "rps": done / elapsed,
                "p50_ms": statistics.median(latencies) * 1000,
                "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
                "cpu_ms_per_request": cpu / done * 1000,
            }
            f = figures[label]
            log(f"{label:<22} {total:>8,} {f['rps']:>8,.0f} {f['p50_ms']:>8.1f} {f['p99_ms']:>8.1f} "
                f"{f['cpu_ms_per_request']:>11.2f}")  # fmt: skip
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "count": args.count, "seconds": args.seconds, "concurrency": CONCURRENCY, "client": loop_name,
            "database": "postgresql" if database.startswith("postgresql") else "sqlite",
            "seeded_per_second": args.count / seeded, "queries": figures,
        }  # fmt: skip
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        return 0
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
