"""Requests per server CPU-second with one, two and three `glimpse serve` nodes behind HAProxy (issue 19).

    .venv/bin/python bench/nodes.py [--nodes 1 2 3] [--seconds 15] [--connections 8] [--images 300]

Runs as root: each node is in its own network namespace (tests/cluster/cluster.py builds the same cluster as
tests/cluster: HAProxy round-robin on 127.0.0.1, one new PostgreSQL database, a shared filesystem store, token
auth). For each node count, a fresh cluster gets ``--images`` images, then ``--connections`` keep-alive
connections through HAProxy send a mix for ``--seconds``: 7 shows of a random image, 2 list pages
(limit=20) and 1 create in 10 requests. The machine has 2 cores shared with other work, so the figure is the
nodes' CPU per request (user + system of every node process, from /proc, over the measured window), not the
request rate; the rate and the p50/p99 latency are printed beside it. Writes bench/results/nodes-latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.cluster.cluster import Cluster

from benchlib import machine
from benchlib.httpc import AsyncConn, Endpoint, install_uvloop, json_request
from benchlib.machine import busy_cores, cpu_jiffies
from benchlib.server import cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "nodes-latest.json"


def nodes_cpu(cluster: Cluster) -> float:
    return sum(cpu_seconds(node.process.pid) or 0.0 for node in cluster.servers() if node.process is not None)


async def populate(endpoint: Endpoint, token: str, count: int) -> list[str]:
    headers = f"X-Auth-Token: {token}\r\n"
    conn = await AsyncConn.open(endpoint)
    ids = []
    try:
        for index in range(count):
            body = {"name": f"bench-{index}", "disk_format": "raw", "container_format": "bare"}
            raw = json_request("POST", "/v2/images", conn.host_header, body)
            response = await conn.send_raw(raw.replace(b"\r\n", b"\r\n" + headers.encode(), 1))
            assert response.status == 201, response.body[:200]
            ids.append(response.json()["id"])
    finally:
        await conn.close()
    return ids


async def load(endpoint: Endpoint, token: str, ids: list[str], seconds: float, connections: int) -> dict[str, Any]:
    auth = f"X-Auth-Token: {token}\r\n".encode()
    host = f"{endpoint.host}:{endpoint.port}"
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stop_at = time.monotonic() + seconds

    def request(index: int) -> bytes:
        kind = index % 10
        if kind == 0:
            body = {"name": f"load-{index}", "disk_format": "raw", "container_format": "bare"}
            raw = json_request("POST", "/v2/images", host, body)
        elif kind in (1, 2):
            raw = f"GET /v2/images?limit=20 HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        else:
            raw = f"GET /v2/images/{random.choice(ids)} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        return raw.replace(b"\r\n", b"\r\n" + auth, 1)

    async def one(offset: int) -> None:
        conn = await AsyncConn.open(endpoint)
        index = offset
        try:
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                response = await conn.send_raw(request(index))
                latencies.append(time.perf_counter() - started)
                statuses[response.status] = statuses.get(response.status, 0) + 1
                index += connections
        finally:
            await conn.close()

    await asyncio.gather(*(one(offset) for offset in range(connections)))
    latencies.sort()
    return {
        "requests": len(latencies),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }


def measure(count: int, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    with Cluster(root, nodes=count, workers=0) as cluster:
        endpoint = Endpoint.parse(cluster.url)
        token = cluster.tokens["admin"]
        ids = asyncio.run(populate(endpoint, token, args.images))
        asyncio.run(load(endpoint, token, ids, 2.0, args.connections))  # warm-up: every node's caches and pools
        before_requests = cluster.requests_per_node()
        cpu_before, machine_before = nodes_cpu(cluster), cpu_jiffies()
        started = time.perf_counter()
        figures = asyncio.run(load(endpoint, token, ids, args.seconds, args.connections))
        elapsed = time.perf_counter() - started
        cpu = nodes_cpu(cluster) - cpu_before
        busy = busy_cores(machine_before, cpu_jiffies(), os.cpu_count() or 1)
        served = {k: v - before_requests.get(k, 0) for k, v in cluster.requests_per_node().items()}
    return {
        "nodes": count,
        **figures,
        "seconds": round(elapsed, 2),
        "requests_per_second": round(figures["requests"] / elapsed, 1),
        "nodes_cpu_seconds": round(cpu, 2),
        "requests_per_cpu_second": round(figures["requests"] / cpu, 1),
        "cpu_ms_per_request": round(cpu * 1000 / figures["requests"], 3),
        "served_per_node": served,
        "machine_busy_cores": None if busy is None else round(busy, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/nodes.py makes network namespaces: run it as root")
    # SIGTERM unwinds like Ctrl-C: the clusters' teardown removes their namespaces, bridge and database
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    loop = install_uvloop()
    rows = []
    with tempfile.TemporaryDirectory(prefix="glimpse-bench-nodes-") as tmp:
        for run, count in enumerate(args.nodes):
            row = measure(count, args, Path(tmp) / f"run{run}-nodes{count}")
            rows.append(row)
            print(
                f"{count} node(s): {row['requests']} requests in {row['seconds']} s ({row['requests_per_second']}/s), "
                f"nodes' CPU {row['nodes_cpu_seconds']} s = {row['cpu_ms_per_request']} ms/request "
                f"({row['requests_per_cpu_second']} requests per CPU-second), p50 {row['p50_ms']} ms, "
                f"p99 {row['p99_ms']} ms, per node {row['served_per_node']}, statuses {row['statuses']}, "
                f"machine busy {row['machine_busy_cores']} cores",
                flush=True,
            )
    first = rows[0]["cpu_ms_per_request"]
    for row in rows:
        row["cpu_per_request_vs_first"] = round(row["cpu_ms_per_request"] / first, 3)
    result = {
        "benchmark": "nodes",
        "commit": machine.git_commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "client_loop": loop},
        "load": {
            "seconds": args.seconds,
            "connections": args.connections,
            "images": args.images,
            "mix": "7 shows, 2 list pages (limit=20), 1 create per 10 requests",
        },
        "runs": rows,
        "median_cpu_ms_per_request": statistics.median(row["cpu_ms_per_request"] for row in rows),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
