"""Python calls per request of two `glimpse` executables, counted (yappi, every thread): noise-free attribution.

    .venv/bin/python bench/calls.py --a ../old/.venv/bin/glimpse --b .venv/bin/glimpse
    .venv/bin/python bench/calls.py --a OLD --b NEW --images 2000 --output results/calls-latest.json

Each server runs under ``benchlib/counted_serve.py`` (the executable's own interpreter, so each commit runs in
its own venv; noauth, SQLite, a fresh data dir) and gets the same images. Then, per phase, the counts are
cleared, the requests sent one after another on one keep-alive connection, and every function's call count
dumped: creates, list pages (limit=100, following ``next``), shows. An idle phase counts what the
background loops (worker poll, audit flush, outbox kick) call per second with no request at all, so it can be
told apart from the requests' own work. Printed: calls per request of A and B, and the functions whose calls
per request differ most. Unlike CPU time on a shared machine, the counts repeat from run to run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ab import BODY, populate
from benchlib import httpc, server

HERE = Path(__file__).resolve().parent
Stats = dict[str, list[float]]  # function -> [calls, CPU seconds in its own code]


class Counted:
    def __init__(self, label: str, executable: Path, tmp: Path) -> None:
        self.label = label
        self.control = tmp / f"{label}.sock"
        wrapper = (str(executable.parent / "python"), str(HERE / "benchlib" / "counted_serve.py"), str(self.control))
        self.process = server.ServerProcess(executable, tmp / label / "data", tmp / f"{label}.log", {}, wrapper)
        server.wait_ready(self.process.endpoint, 120, self.process.process)
        self.conn = httpc.Conn(self.process.endpoint)
        self.ids: list[str] = []
        self.tmp = tmp
        self.serial = 0

    def command(self, line: str) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(self.control))
            sock.sendall(line.encode() + b"\n")
            answer = sock.makefile().readline().strip()
        if answer != "ok":
            raise RuntimeError(f"counted_serve answered {answer!r} to {line!r}")

    def count(self, phase: str, work: Callable[[], int]) -> tuple[int, Stats]:
        self.command("clear")
        done = work()
        path = self.tmp / f"{self.label}-{phase}.json"
        self.command(f"dump {path}")
        stats: Stats = json.loads(path.read_text())
        return done, stats

    def stop(self) -> None:
        self.conn.close()
        self.process.stop()


def phases(target: Counted, args: argparse.Namespace) -> dict[str, tuple[int, Stats]]:
    conn = target.conn
    out: dict[str, tuple[int, Stats]] = {}

    def creates() -> int:
        for i in range(args.creates):
            body = {"name": f"calls-{i}", **BODY}
            response = conn.send_raw(httpc.json_request("POST", "/v2/images", conn.host_header, body))
            if response.status != 201:
                raise RuntimeError(f"create answered {response.status}")
        return args.creates

    def pages() -> int:
        url: str | None = "/v2/images?limit=100"
        done = 0
        while url is not None and done < args.pages:
            url = conn.get_json(url).get("next")
            done += 1
        return done

    def shows() -> int:
        for i in range(args.shows):
            response = conn.send_raw(
                httpc.build_request("GET", f"/v2/images/{target.ids[i * 7 % len(target.ids)]}", conn.host_header)
            )
            if response.status != 200:
                raise RuntimeError(f"show answered {response.status}")
        return args.shows

    def idle() -> int:
        time.sleep(args.idle)
        return 1

    for _ in range(2):  # warm-up: first-use imports and caches are not what a request costs
        creates()
        pages()
        shows()
    out["creates"] = target.count("creates", creates)
    out["list"] = target.count("list", pages)
    out["shows"] = target.count("shows", shows)
    out["idle"] = target.count("idle", idle)
    return out


def report(a: dict[str, tuple[int, Stats]], b: dict[str, tuple[int, Stats]], top: int) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    print(f"\n{'phase':<8} {'A calls':>9} {'B calls':>9} {'B/A':>6}   {'A ms':>7} {'B ms':>7} {'B/A':>6}   per")
    for phase in a:
        unit = IDLE_SECONDS[0] if phase == "idle" else 1.0  # idle: per second, else per request
        (na, sa), (nb, sb) = a[phase], b[phase]
        per_a, per_b = na * unit, nb * unit
        calls_a, calls_b = sum(v[0] for v in sa.values()) / per_a, sum(v[0] for v in sb.values()) / per_b
        ms_a, ms_b = sum(v[1] for v in sa.values()) * 1000 / per_a, sum(v[1] for v in sb.values()) * 1000 / per_b
        per = "second" if phase == "idle" else "request"
        print(f"{phase:<8} {calls_a:>9,.1f} {calls_b:>9,.1f} {calls_b / calls_a:>6.3f}   "
              f"{ms_a:>7.3f} {ms_b:>7.3f} {ms_b / ms_a:>6.2f}   {per}")  # fmt: skip
        keys = set(sa) | set(sb)

        def delta(key: str, i: int) -> float:
            return sb.get(key, [0, 0.0])[i] / per_b - sa.get(key, [0, 0.0])[i] / per_a  # noqa: B023

        by_calls = sorted(keys, key=lambda k: -abs(delta(k, 0)))[:top]
        by_cpu = sorted(keys, key=lambda k: -abs(delta(k, 1)))[:top]
        summary[phase] = {
            "a": {"calls": calls_a, "cpu_ms": ms_a},
            "b": {"calls": calls_b, "cpu_ms": ms_b},
            "calls_differences": {k: round(delta(k, 0), 2) for k in by_calls if abs(delta(k, 0)) >= 0.01},
            "cpu_ms_differences": {k: round(delta(k, 1) * 1000, 4) for k in by_cpu},
        }
    print("\n(ms: CPU time of the counted threads under the profiler, which slows them; compare, do not quote)")
    for phase, found in summary.items():
        per = "second" if phase == "idle" else "request"
        print(f"\n{phase}: functions whose calls per {per} differ (B - A)")
        for key, diff in found["calls_differences"].items():
            print(f"  {diff:>+9.2f}  {key}")
        print(f"{phase}: functions whose own CPU ms per {per} differ most (B - A; noisy)")
        for key, diff in list(found["cpu_ms_differences"].items())[: max(5, top // 2)]:
            print(f"  {diff:>+9.4f}  {key}")
    return summary


IDLE_SECONDS = [5.0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", type=Path, required=True, help="the glimpse executable A (e.g. the old commit's)")
    parser.add_argument("--b", type=Path, required=True, help="the glimpse executable B (e.g. this checkout's)")
    parser.add_argument("--images", type=int, default=2000, help="images each server holds before counting")
    parser.add_argument("--creates", type=int, default=100)
    parser.add_argument("--pages", type=int, default=10, help="list pages (limit=100)")
    parser.add_argument("--shows", type=int, default=300)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds counted with no request")
    parser.add_argument("--top", type=int, default=15, help="how many differing functions to print per phase")
    parser.add_argument("--output", type=Path, help="write the totals and the differing functions here (JSON)")
    args = parser.parse_args(argv)
    IDLE_SECONDS[0] = args.idle
    tmp = Path(tempfile.mkdtemp(prefix="glimpse-calls-"))
    targets: list[Counted] = []
    try:
        results = {}
        for label, executable in (("a", args.a), ("b", args.b)):
            target = Counted(label, executable, tmp)
            targets.append(target)
            populate(target, args.images)  # type: ignore[arg-type]
            results[label] = phases(target, args)
            target.stop()
        summary = report(results["a"], results["b"], args.top)
        if args.output:
            args.output.write_text(json.dumps({"a": str(args.a), "b": str(args.b), "phases": summary}, indent=1))
    finally:
        for target in targets:
            target.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
