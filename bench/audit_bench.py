"""Audit log benchmark: creates/s with the audit log off and on, in the same run.

    .venv/bin/python bench/audit_bench.py                          # 3 rounds of 1,000 creates each way
    .venv/bin/python bench/audit_bench.py --creates 300 --rounds 2  # quicker

Starts two `glimpse serve` processes (SQLite, noauth, fresh data dirs), one with `GLIMPSE_AUDIT_ENABLED=false`,
one with the audit log on (and, with --file, its JSON-lines file too). Rounds alternate off/on; each round is
N sequential ``POST /v2/images`` on one keep-alive connection (bench/events_bench.py's loop). At the end the
"on" server's audit log must hold one entry per create (read back through GET /v2/audit). Prints the median
creates/s each way and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchlib import httpc, server
from events_bench import GLIMPSE, creates

FLUSH_INTERVAL = 0.2  # glimpse.services.audit's


def audited_creates(endpoint: httpc.Endpoint) -> int:
    """How many successful creates the audit log holds (following its pages)."""
    total, path = 0, "/v2/audit?action=POST%20/v2/images&outcome=success&limit=1000"
    with httpc.Conn(endpoint) as conn:
        while path:
            body = conn.send_raw(httpc.build_request("GET", path, conn.host_header)).json()
            total += len(body["audit"])
            path = body.get("next", "")
    return total


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=1000, help="creates per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds each way (default 3)")
    parser.add_argument("--file", action="store_true", help="the 'on' server also writes the JSON-lines file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="glimpse-audit-bench-") as tmp:
        base = Path(tmp)
        on_env = {"GLIMPSE_AUDIT_ENABLED": "true"}
        if args.file:
            on_env["GLIMPSE_AUDIT_FILE"] = str(base / "audit.jsonl")
        servers = {
            "off": server.ServerProcess(GLIMPSE, base / "off", base / "off.log", {"GLIMPSE_AUDIT_ENABLED": "false"}),
            "on": server.ServerProcess(GLIMPSE, base / "on", base / "on.log", on_env),
        }
        figures: dict[str, list[float]] = {"off": [], "on": []}
        cpu: dict[str, list[float]] = {"off": [], "on": []}  # server CPU ms per create: robust to a busy box
        try:
            for process in servers.values():
                server.wait_ready(process.endpoint, 60, process.process)
            for round_no in range(args.rounds):
                for name in ("off", "on"):
                    before = server.CpuSnapshot.take(servers[name].pid)
                    rate = creates(servers[name].endpoint, args.creates, f"bench-{name}-{round_no}", lambda: None)
                    time.sleep(2 * FLUSH_INTERVAL)  # the round's last batch is written (and counted) too
                    spent = server.CpuSnapshot.take(servers[name].pid).total - before.total
                    figures[name].append(rate)
                    cpu[name].append(spent * 1000 / args.creates)
                    line = f"round {round_no + 1} {name:>3}: {rate:8.1f} creates/s, {cpu[name][-1]:.2f} CPU ms/create"
                    print(line, flush=True)
            recorded = audited_creates(servers["on"].endpoint)
        finally:
            for process in servers.values():
                process.stop()
        expected = args.rounds * (args.creates + 1)  # each round's warm-up create too
        off, on = statistics.median(figures["off"]), statistics.median(figures["on"])
        mode = "audit + file" if args.file else "audit"
        print(f"\n[{mode}] creates/s median of {args.rounds} rounds x {args.creates}: off {off:.1f}, on {on:.1f}, "
              f"ratio on/off {on / off:.3f}; server CPU ms per create: off {statistics.median(cpu['off']):.2f}, "
              f"on {statistics.median(cpu['on']):.2f}; {recorded} of {expected} creates audited")  # fmt: skip
        if recorded != expected:
            print("MISSING AUDIT ENTRIES", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
