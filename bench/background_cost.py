"""What background CPU costs a sequential client on this machine, with no events at all.

    .venv/bin/python bench/background_cost.py                    # 4 pairs of rounds, a process busy 25% of the time
    .venv/bin/python bench/background_cost.py --busy 0.25 --nice 19 --rounds 6
    .venv/bin/python bench/background_cost.py --pin   # server and client on CPU 0, the burner on CPU 1

Starts one `glimpse serve` (SQLite, noauth, events off) and alternates rounds of N sequential creates on one
keep-alive connection (as ``events_bench.py`` makes them) without and with a "burner": another process that is
busy ``--busy`` of the time in bursts of about a millisecond (at ``--nice``), the way an events worker, RabbitMQ
and consumers wake for short bursts. Prints the median creates/s and server CPU ms per create of each kind. On a
2-vCPU machine this tells how much of ``events_bench.py``'s on/off ratio is the background's share of the cores
rather than the events' own code on the request path (``events_bench.py --request-path-only`` measures that).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import server
from events_bench import GLIMPSE, creates

BURNER = """
import sys, time
busy = float(sys.argv[1])
pause = 0.003
spin = pause * busy / (1 - busy)
while True:
    start = time.perf_counter()
    while time.perf_counter() - start < spin:
        pass
    time.sleep(pause)
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=2000, help="creates per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds each way (default 4)")
    parser.add_argument("--busy", type=float, default=0.25, help="the burner's busy share, 0 < busy < 1 (0.25)")
    parser.add_argument("--nice", type=int, default=0, help="the burner's niceness (default 0)")
    parser.add_argument(
        "--pin", action="store_true",
        help="the server and this client on CPU 0, the burner on CPU 1: whether the cost is the scheduler's "
             "placement or the machine's shared cores",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.pin:
        os.sched_setaffinity(0, {0})  # the server started below inherits it
    if not 0 < args.busy < 1:
        parser.error("--busy must be between 0 and 1")
    rates: dict[str, list[float]] = {"alone": [], "burner": []}
    cpu: dict[str, list[float]] = {"alone": [], "burner": []}
    with tempfile.TemporaryDirectory(prefix="glimpse-background-") as tmp:
        process = server.ServerProcess(GLIMPSE, Path(tmp) / "data", Path(tmp) / "server.log", {})
        try:
            server.wait_ready(process.endpoint, 60, process.process)
            for round_no in range(args.rounds):
                for kind in ("alone", "burner"):
                    burner = None
                    if kind == "burner":
                        command = ["nice", "-n", str(args.nice), sys.executable, "-c", BURNER, str(args.busy)]
                        burner = subprocess.Popen(command)
                        if args.pin:
                            server.pin(burner.pid, {1})
                        time.sleep(0.2)
                    try:
                        before = server.CpuSnapshot.take(process.pid).total
                        rate = creates(process.endpoint, args.creates, f"{kind}-{round_no}", lambda: None)
                        used = server.CpuSnapshot.take(process.pid).total - before
                    finally:
                        if burner is not None:
                            burner.kill()
                            burner.wait()
                    rates[kind].append(rate)
                    cpu[kind].append(used * 1000 / (args.creates + 1))
                    print(f"round {round_no + 1} {kind:>6}: {rate:8.1f} creates/s  {cpu[kind][-1]:.2f} CPU ms/create",
                          flush=True)  # fmt: skip
        finally:
            process.stop()
    alone, burned = statistics.median(rates["alone"]), statistics.median(rates["burner"])
    print(f"\ncreates/s median of {args.rounds} rounds x {args.creates}: alone {alone:.1f}, with a process busy "
          f"{args.busy:.0%} of the time (nice {args.nice}) {burned:.1f}, ratio {burned / alone:.3f}; CPU ms per "
          f"create {statistics.median(cpu['alone']):.2f} -> {statistics.median(cpu['burner']):.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
