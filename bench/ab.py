"""Interleaved A/B of the API figures of two `glimpse` executables on one (possibly busy) machine.

    .venv/bin/python bench/ab.py --a ../old/.venv/bin/glimpse --b .venv/bin/glimpse
    .venv/bin/python bench/ab.py --a OLD --b NEW --rounds 12 --images 5000

Both servers run at once (noauth, SQLite, fresh data dirs) and get the same images. Each round runs every
phase against A and B in turn (AB, then BA the next round), so load from other work on the box falls on both
alike; the medians over the rounds of each server's rate and server CPU per request are compared (B / A).
The phases are bench/run.py's API phases, smaller: sequential creates, list pages of limit=100 following
`next`, sequential shows, and shows on 16 concurrent connections.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchlib import httpc, server

BODY = {"disk_format": "raw", "container_format": "bare"}
PHASES = ("creates", "list", "shows", "concurrent")


class Target:
    def __init__(self, label: str, executable: Path, tmp: Path) -> None:
        self.label = label
        self.process = server.ServerProcess(executable, tmp / label / "data", tmp / f"{label}.log", {})
        server.wait_ready(self.process.endpoint, 60, self.process.process)
        self.conn = httpc.Conn(self.process.endpoint)
        self.ids: list[str] = []
        self.samples: dict[str, list[tuple[float, float]]] = {phase: [] for phase in PHASES}  # (rate, cpu ms/op)
        self.serial = 0

    def create_requests(self, count: int) -> list[bytes]:
        self.serial += count
        host = self.conn.host_header
        return [
            httpc.json_request("POST", "/v2/images", host, {"name": f"ab-{self.serial - count + i}", **BODY})
            for i in range(count)
        ]

    def measure(self, phase: str, work: Callable[[], int], settle: float = 0.0) -> None:
        """Rate over the phase's own time; CPU over the phase and ``settle`` seconds after it, so work a phase
        leaves behind (the audit log's batch INSERT every 0.2 s) is billed to it, not to the next phase."""
        before = server.CpuSnapshot.take(self.process.pid)
        started = time.perf_counter()
        count = work()
        wall = time.perf_counter() - started
        time.sleep(settle)
        cpu = server.CpuSnapshot.take(self.process.pid).total - before.total
        self.samples[phase].append((count / wall, cpu * 1000 / count))

    def stop(self) -> None:
        self.conn.close()
        self.process.stop()


def send_all(conn: httpc.Conn, requests: list[bytes], expect: int, on: Callable[[httpc.Response], None]) -> int:
    for raw in requests:
        response = conn.send_raw(raw)
        if response.status != expect:
            raise RuntimeError(f"expected {expect}, got {response.status}: {response.body[:300]!r}")
        on(response)
    return len(requests)


def populate(target: Target, count: int) -> None:
    endpoint = target.process.endpoint
    names = iter(range(count))

    async def worker() -> None:
        conn = await httpc.AsyncConn.open(endpoint)
        try:
            for i in names:
                body = {"name": f"fill-{i}", **BODY}
                response = await conn.send_raw(httpc.json_request("POST", "/v2/images", conn.host_header, body))
                target.ids.append(response.json()["id"])
        finally:
            await conn.close()

    async def main() -> None:
        await asyncio.gather(*(worker() for _ in range(8)))

    asyncio.run(main())


def list_pages(conn: httpc.Conn, pages: int) -> int:
    url: str | None = "/v2/images?limit=100"
    done = 0
    while url is not None and done < pages:
        url = conn.get_json(url).get("next")
        done += 1
    return done


def concurrent(target: Target, seconds: float, connections: int = 16) -> int:
    endpoint = target.process.endpoint
    paths = [f"/v2/images/{image_id}" for image_id in target.ids[:200]]
    done = 0

    async def worker(offset: int, deadline: float) -> None:
        nonlocal done
        conn = await httpc.AsyncConn.open(endpoint)
        try:
            i = offset
            while time.perf_counter() < deadline:
                await conn.send_raw(httpc.build_request("GET", paths[i % len(paths)], conn.host_header))
                done += 1
                i += 1
        finally:
            await conn.close()

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(worker(i * 13, deadline) for i in range(connections)))

    asyncio.run(main())
    return done


def run_round(target: Target, args: argparse.Namespace) -> None:
    conn = target.conn
    creates = target.create_requests(args.creates)
    target.measure("creates", lambda: send_all(conn, creates, 201, lambda r: None), args.settle)
    target.measure("list", lambda: list_pages(conn, args.pages), args.settle)
    ids = target.ids
    shows = [
        httpc.build_request("GET", f"/v2/images/{ids[i * 7 % len(ids)]}", conn.host_header) for i in range(args.shows)
    ]
    target.measure("shows", lambda: send_all(conn, shows, 200, lambda r: None), args.settle)
    target.measure("concurrent", lambda: concurrent(target, args.seconds), args.settle)


def summary(a: Target, b: Target) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    print(f"\n{'phase':<11} {'A /s':>9} {'B /s':>9} {'B/A':>6}   {'A ms/op':>8} {'B ms/op':>8} {'B/A':>6}   (medians)")
    for phase in PHASES:
        ra = statistics.median(s[0] for s in a.samples[phase])
        rb = statistics.median(s[0] for s in b.samples[phase])
        ca = statistics.median(s[1] for s in a.samples[phase])
        cb = statistics.median(s[1] for s in b.samples[phase])
        out[phase] = {
            "a_rate": ra,
            "b_rate": rb,
            "rate_ratio": rb / ra,
            "a_cpu_ms": ca,
            "b_cpu_ms": cb,
            "cpu_ratio": cb / ca,
        }
        print(f"{phase:<11} {ra:>9,.1f} {rb:>9,.1f} {rb / ra:>6.2f}   {ca:>8.3f} {cb:>8.3f} {cb / ca:>6.2f}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", type=Path, required=True, help="the glimpse executable A (e.g. the old commit's)")
    parser.add_argument("--b", type=Path, required=True, help="the glimpse executable B (e.g. this checkout's)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--images", type=int, default=5000, help="images each server holds before the rounds")
    parser.add_argument("--creates", type=int, default=200, help="sequential creates per round")
    parser.add_argument("--pages", type=int, default=10, help="list pages (limit=100) per round")
    parser.add_argument("--shows", type=int, default=500, help="sequential shows per round")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds of 16 concurrent shows per round")
    parser.add_argument(
        "--settle",
        type=float,
        default=0.5,
        help="seconds after each phase whose server CPU is billed to it (0: the next phase pays for its leftovers)",
    )
    parser.add_argument("--output", type=Path, help="write the samples and medians here (JSON)")
    args = parser.parse_args(argv)
    httpc.install_uvloop()
    tmp = Path(tempfile.mkdtemp(prefix="glimpse-ab-"))
    targets: list[Target] = []
    try:
        targets = [Target("a", args.a, tmp), Target("b", args.b, tmp)]
        for target in targets:
            populate(target, args.images)
            send_all(target.conn, target.create_requests(50), 201, lambda r: None)  # warm-up
            list_pages(target.conn, 2)
        for round_no in range(args.rounds):
            for target in targets if round_no % 2 == 0 else reversed(targets):
                run_round(target, args)
            print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
        a, b = targets
        medians = summary(a, b)
        if args.output:
            args.output.write_text(
                json.dumps(
                    {
                        "a": str(args.a),
                        "b": str(args.b),
                        "medians": medians,
                        "samples": {"a": a.samples, "b": b.samples},
                    },
                    indent=1,
                )
            )
    finally:
        for target in targets:
            target.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
