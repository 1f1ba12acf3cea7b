"""Cost of `glimpse catalog add` in a catalog of N assets (default 10,000): is adding one asset O(N)?

    .venv/bin/python bench/catalog_add.py [--assets 10000] [--adds 20] [--cli 3]

Builds a catalog of N small assets (their targets written straight into the draft, then one `publish`), then
times `--adds` further adds of new small files, one by one (``CatalogRepository.add`` in this process, what the
command runs), and `--cli` runs of the `glimpse catalog add` command itself (a new process each: start-up
included). The first in-process add is reported apart (it may build an index once), then the median and p90 of
the others, and the `publish` that signs the added assets. The same for N/10 assets gives the growth: an O(1)
add costs the same at both sizes. Writes bench/results/catalog-add-latest.json (``--output``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import machine
from benchlib.catalog import build_catalog

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results" / "catalog-add-latest.json"


def measure(root: Path, count: int, adds: int, cli_runs: int) -> dict[str, Any]:
    started = time.perf_counter()
    repo = build_catalog(root / f"catalog-{count}", count)
    built = time.perf_counter() - started
    files = root / f"files-{count}"
    files.mkdir()
    seconds = []
    for i in range(adds):
        path = files / f"new-{i}.yaml"
        path.write_bytes(f"heat_template_version: 2021-04-16\ndescription: added {i}\n".encode())
        started = time.perf_counter()
        repo.add(path, kind="heat-template", name=f"new-{i}", version="1.0")
        seconds.append(time.perf_counter() - started)
    cli = []
    glimpse = Path(sys.executable).parent / "glimpse"
    for i in range(cli_runs):
        path = files / f"cli-{i}.yaml"
        path.write_bytes(f"heat_template_version: 2021-04-16\ndescription: cli {i}\n".encode())
        command = [str(glimpse), "catalog", "add", str(repo.dir), str(path), "--type", "heat-template",
                   "--name", f"cli-{i}", "--version", "1.0"]  # fmt: skip
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        cli.append(time.perf_counter() - started)
    started = time.perf_counter()
    published = repo.publish()
    publish_seconds = time.perf_counter() - started
    assert published.assets == count + adds + cli_runs, published
    rest = sorted(seconds[1:]) or seconds
    return {
        "assets": count,
        "build_seconds": round(built, 3),
        "first_add_ms": round(seconds[0] * 1000, 2),
        "add_median_ms": round(statistics.median(rest) * 1000, 2),
        "add_p90_ms": round(rest[int(0.9 * (len(rest) - 1))] * 1000, 2),
        "cli_add_median_ms": round(statistics.median(cli) * 1000, 1) if cli else None,
        "publish_seconds": round(publish_seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--adds", type=int, default=20)
    parser.add_argument("--cli", type=int, default=3, help="runs of the `glimpse catalog add` command")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="glimpse-catalog-add-") as tmp:
        for count in (max(1, args.assets // 10), args.assets):
            row = measure(Path(tmp), count, args.adds, args.cli)
            rows.append(row)
            print(f"{count:>7,} assets: first add {row['first_add_ms']:.1f} ms, then median "
                  f"{row['add_median_ms']:.1f} ms (p90 {row['add_p90_ms']:.1f}); `glimpse catalog add` "
                  f"{row['cli_add_median_ms']} ms; publish {row['publish_seconds']:.2f} s (built in "
                  f"{row['build_seconds']:.1f} s)", flush=True)  # fmt: skip
    growth = rows[1]["add_median_ms"] / rows[0]["add_median_ms"]
    print(f"one add at {rows[1]['assets']:,} assets costs {growth:.1f}x what it costs at {rows[0]['assets']:,}")
    result = {"version": 1, "run_id": time.strftime("%Y%m%d-%H%M%S"), "git": machine.git_commit(),
              "code": str(Path(sys.modules["glimpse"].__file__ or "").parent),
              "environment": {"python": platform.python_version(), "cpus": os.cpu_count(),
                              "loadavg_end": list(os.getloadavg())},
              "rows": rows, "growth_10x_assets": round(growth, 2)}  # fmt: skip
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
