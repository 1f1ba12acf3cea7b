"""Image cache benchmark: 1 GiB downloads from Swift, RBD and the filesystem store, cold versus cached.

    .venv/bin/python bench/cache.py                       # 1 GiB, stores fs, swift, rbd (`make backends` first)
    .venv/bin/python bench/cache.py --size-mib 256 --only fs swift

A real `glimpse serve` (noauth, SQLite) runs with three stores and the image cache on. For each store one
image of ``--size-mib`` random bytes is uploaded to it, then, with ``curl -o /dev/null``:

- store: ``Range: bytes=0-`` of the whole image while it is not cached (a ranged read never fills the cache,
  so this is the store's own download figure, answered 206);
- cold: the whole image while it is not cached (the download fills the cache as it streams);
- cached: the whole image from the cache (after ``sync``: the fill's pages written back, as the store's are);
- store and cached again with httpx (``iter_raw``, 1 MiB reads) instead of curl;
- ranged cached: 32 reads of 32 MiB at random offsets (MB/s), and 200 reads of 4 KiB (median ms).

First, the ceiling: curl from a bare server that only ``sendfile()``s the same file (no HTTP app at all).

Each repeat takes store, cold and cached in turn (the entry is deleted first), so other work on the machine
slows every figure alike.

Each rate is the best of ``--repeat`` runs (default 3; the machine has 2 cores and other work only ever
slows a run), each ``*_cpu_s_per_GiB`` the least CPU (user + system) the server used per GiB sent. The whole
set runs twice, once per server mode (``--sendfile on off``): zero-copy sends (the default) and chunks read
in Python (``[glimpse] sendfile = false``). Results go to bench/results/cache-latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results" / "cache-latest.json"
GLIMPSE = ROOT / ".venv" / "bin" / "glimpse"
MB = 1_000_000
GIB = 1024**3

sys.path.insert(0, str(BENCH_DIR))
from benchlib.httpc import Endpoint  # noqa: E402
from benchlib.machine import SendfileServer  # noqa: E402
from benchlib.server import CpuSnapshot, free_port, wait_ready  # noqa: E402
from benchlib.storeconf import store_sections  # noqa: E402


def config(work: Path, port: int, stores: list[str]) -> Path:
    cache = f"image_cache_dir = {work / 'cache'}\nimage_cache_max_size = {8 * 1024**3}\n"
    text = store_sections(work, stores, f"glimpse-cache-bench-{port}", defaults=cache) + (
        f"[database]\nconnection = sqlite:///{work / 'glimpse.db'}\n[glimpse]\ndata_dir = {work / 'data'}\n"
    )
    path = work / "glimpse.conf"
    path.write_text(text)
    return path


def curl(url: str, *args: str) -> tuple[int, int, float]:
    """(status, bytes downloaded, seconds) of ``curl -o /dev/null``."""
    proc = subprocess.run(
        ["curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}",
         *args, url],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    fields = proc.stdout.split()
    if proc.returncode != 0 or len(fields) != 3:
        raise RuntimeError(f"curl failed: {proc.stderr.strip()}")
    return int(fields[0]), int(float(fields[1])), float(fields[2])


def request(base: str, method: str, path: str, *args: str) -> str:
    proc = subprocess.run(["curl", "-sS", "--noproxy", "*", "-X", method, *args, base + path],
                          capture_output=True, text=True, timeout=1800, check=True)  # fmt: skip
    return proc.stdout


def upload(base: str, store: str, source: Path) -> str:
    created = json.loads(request(base, "POST", "/v2/images", "-H", "Content-Type: application/json",
                                 "-d", json.dumps({"name": f"bench-{store}", "disk_format": "raw",
                                                   "container_format": "bare"})))  # fmt: skip
    image_id = str(created["id"])
    request(base, "PUT", f"/v2/images/{image_id}/file", "-T", str(source), "-H", "Expect:",
            "-H", "Content-Type: application/octet-stream", "-H", f"x-image-meta-store: {store}")  # fmt: skip
    shown = json.loads(request(base, "GET", f"/v2/images/{image_id}"))
    assert shown["status"] == "active", shown
    return image_id


def expect(status: int, wanted_status: int, got: int, wanted: int) -> None:
    if status != wanted_status or got != wanted:
        raise RuntimeError(f"answered {status} with {got} bytes; expected {wanted_status} with {wanted}")


def wait_cached(base: str, image_id: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cached = json.loads(request(base, "GET", "/v2/cache"))["cached_images"]
        if any(e["image_id"] == image_id for e in cached):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the cold download of {image_id} did not fill the cache")


def rate(size: int, seconds: float) -> float:
    return size / seconds / MB


class Timed:
    """Best MB/s and least server CPU-seconds per GiB over the repeats of one figure."""

    def __init__(self, server_pid: int, size: int) -> None:
        self.pid, self.size = server_pid, size
        self.rates: list[float] = []
        self.cpu: list[float] = []

    def run(self, fetch: Any) -> None:
        before = CpuSnapshot.take(self.pid).total
        seconds = fetch()
        self.cpu.append((CpuSnapshot.take(self.pid).total - before) * GIB / self.size)
        self.rates.append(rate(self.size, seconds))

    def figures(self, name: str) -> dict[str, float]:
        return {f"{name}_MBps": max(self.rates), f"{name}_cpu_s_per_GiB": min(self.cpu)}


def httpx_get(url: str, size: int, headers: dict[str, str] | None = None) -> float:
    """Seconds to read the whole answer with httpx (its bytes read into a discarded buffer, 1 MiB at a time)."""
    started, got = time.perf_counter(), 0
    with httpx.Client(timeout=600, trust_env=False) as client, client.stream("GET", url, headers=headers) as answer:
        for chunk in answer.iter_raw(1 << 20):
            got += len(chunk)
    seconds = time.perf_counter() - started
    if got != size:
        raise RuntimeError(f"httpx got {got} of {size} bytes")
    return seconds


def curl_get(url: str, size: int, wanted: int, *args: str) -> float:
    status, got, seconds = curl(url, *args)
    expect(status, wanted, got, size)
    return seconds


def measure(base: str, image_id: str, size: int, repeat: int, pid: int) -> dict[str, Any]:
    url = f"{base}/v2/images/{image_id}/file"
    out: dict[str, Any] = {}
    names = ("store", "cold", "cached", "store_httpx", "cached_httpx")
    timed = {name: Timed(pid, size) for name in names}
    # in turns, so that whatever else runs on the machine slows every figure alike
    for _ in range(repeat):
        request(base, "DELETE", f"/v2/cache/{image_id}")
        # the store's own figure: a ranged read of the whole image never fills the cache
        timed["store"].run(lambda: curl_get(url, size, 206, "-H", "Range: bytes=0-"))
        timed["store_httpx"].run(lambda: httpx_get(url, size, {"Range": "bytes=0-"}))
        timed["cold"].run(lambda: curl_get(url, size, 200))
        wait_cached(base, image_id)  # the entry is committed just before the last byte goes out
        os.sync()  # the fill's pages written back, as the store's were at upload (its fsync)
        timed["cached"].run(lambda: curl_get(url, size, 200))
        timed["cached_httpx"].run(lambda: httpx_get(url, size))
    for name in names:
        out |= timed[name].figures(name)
    rng = random.Random(1)
    piece = min(32 * 1024 * 1024, size)
    started, total = time.perf_counter(), 0
    for _ in range(32):
        start = rng.randrange(0, size - piece + 1)
        status, got, _ = curl(url, "-H", f"Range: bytes={start}-{start + piece - 1}")
        expect(status, 206, got, piece)
        total += got
    out["ranged_32MiB_cached_MBps"] = rate(total, time.perf_counter() - started)
    small = []
    for _ in range(200):
        start = rng.randrange(0, size - 4096)
        status, got, seconds = curl(url, "-H", f"Range: bytes={start}-{start + 4095}")
        expect(status, 206, got, 4096)
        small.append(seconds * 1000)
    out["ranged_4KiB_cached_median_ms"] = statistics.median(small)
    return out


def serve(work: Path, conf: Path, port: int, sendfile: bool) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    env["GLIMPSE_AUTH"] = "noauth"
    env["GLIMPSE_SENDFILE"] = "true" if sendfile else "false"
    log = (work / "server.log").open("ab")
    return subprocess.Popen([str(GLIMPSE), "serve", "--host", "127.0.0.1", "--port", str(port), "--config", str(conf)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=["fs", "swift", "rbd"], choices=["fs", "swift", "rbd"])
    parser.add_argument("--sendfile", nargs="*", default=["on", "off"], choices=["on", "off"],
                        help="server modes to measure: zero-copy sends (the default) and chunks")  # fmt: skip
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()  # fmt: skip
    results: dict[str, Any] = {"size_mib": args.size_mib, "repeat": args.repeat, "commit": commit,
                               "load_average_before": os.getloadavg()[0], "modes": {}}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="glimpse-cache-bench-") as temp:
        work = Path(temp)
        source = work / "image.bin"
        with source.open("wb") as handle:
            block = os.urandom(4 * 1024 * 1024)
            for i in range(0, size, len(block)):
                handle.write(block[: min(len(block), size - i)] if i else os.urandom(min(len(block), size)))
        # the ceiling: curl from a tiny server that only sendfile()s the same file (no HTTP app at all)
        ceiling = SendfileServer(source)
        try:
            rates = [rate(size, curl_get(f"http://127.0.0.1:{ceiling.port}/x", size, 200)) for _ in range(args.repeat)]
        finally:
            ceiling.close()
        results["loopback_sendfile_curl_MBps"] = max(rates)
        print(f"loopback ceiling (curl from a bare sendfile server): {max(rates):,.0f} MB/s", flush=True)
        port = free_port()
        conf = config(work, port, args.only)
        images: dict[str, str] = {}
        for mode in args.sendfile:
            server = serve(work, conf, port, mode == "on")
            stores: dict[str, Any] = results["modes"].setdefault(f"sendfile_{mode}", {})
            try:
                wait_ready(Endpoint("127.0.0.1", port), 60, server)
                base = f"http://127.0.0.1:{port}"
                for store in args.only:
                    if store not in images:
                        images[store] = upload(base, store, source)
                    figures = measure(base, images[store], size, args.repeat, server.pid)
                    stores[store] = figures
                    print(f"sendfile {mode:3} {store:6} " + "  ".join(f"{k} {v:,.2f}" for k, v in figures.items()),
                          flush=True)  # fmt: skip
            except BaseException:
                lines = (work / "server.log").read_text(errors="replace").splitlines()
                print("\n".join(line for line in lines if "GET /v2/cache " not in line)[-4000:], file=sys.stderr)
                raise
            finally:
                server.terminate()
                server.wait(30)
            fs = stores.get("fs", {}).get("store_MBps")
            if fs:
                for figures in stores.values():
                    figures["cached_vs_fs_store"] = figures["cached_MBps"] / fs
                print(f"sendfile {mode}: cached / filesystem store download: "
                      + ", ".join(f"{s} {f['cached_vs_fs_store']:.2f}" for s, f in stores.items()))  # fmt: skip
    results["load_average_after"] = os.getloadavg()[0]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
