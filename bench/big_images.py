"""Big images: uploads and downloads of 1, 5 and 20 GiB through the filesystem, Swift and RBD stores, with the
server's memory sampled all along (is it flat, whatever the size?).

    .venv/bin/python bench/big_images.py                                  # 1, 5, 20 GiB; fs, swift, rbd
    .venv/bin/python bench/big_images.py --sizes 1,5 --stores fs,swift,rbd
    .venv/bin/python bench/big_images.py --sizes 0.25 --stores fs        # a smoke run

For each store and size (ascending), a fresh `glimpse serve` (SQLite, noauth, the three stores of this machine:
`make backends`) and one image:

- upload: ``curl -T - -X PUT`` of ``/v2/images/{id}/file`` with ``Content-Length`` (no chunked encoding, as
  ``curl -T file`` sends), the body fed to curl's stdin from a generator: 64 random MiB cycled, each MiB
  stamped with its index (incompressible, every MiB different; nothing of that size is ever on disk or in
  memory on the client side);
- the image's ``size``, ``checksum`` (md5) and ``os_hash_value`` checked against the same stream generated
  again (hashed between the two transfers, so that the client's hashing does not compete with the server);
- download: ``curl -o -`` of the image, its bytes compared with the stream, 1 MiB at a time, as they arrive;
- delete, so the next image has the room (the store's copy must be gone: for fs the directory is checked).

During the upload and the download the RSS of the server's whole process tree (sum of ``VmRSS``) is sampled every
``--interval`` seconds (0.1): the peak, the idle RSS before the upload, and the RSS at each tenth of the phase's
duration go into the results, with MB/s each way and the server's CPU-seconds per GiB (utime + stime of its
tree from ``/proc/<pid>/stat``). The machine is shared: the load average is printed before each phase.

A store that cannot hold a size here is skipped with the reason (free disk for fs and Swift, the pool's
``MAX AVAIL`` from ``ceph df`` for RBD). Results: bench/results/big-images-latest.json.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results" / "big-images-latest.json"
MIB = 1 << 20
GIB = 1 << 30
MB = 1_000_000
POOL_MIB = 64
F_SETPIPE_SZ = 1031
SWIFT_DEVICES = Path.home() / ".cache" / "glimpse-swift" / "state" / "devices"

sys.path.insert(0, str(BENCH_DIR))
from benchlib.machine import git_commit  # noqa: E402
from benchlib.server import CpuSnapshot, RssSampler, ServerProcess, process_tree, rss_mib, wait_ready  # noqa: E402
from benchlib.storeconf import CEPH_CONF, store_sections  # noqa: E402


class Stream:
    """The image's bytes, the same every time they are generated: 64 random MiB (seeded) cycled, the first 8
    bytes of MiB number i replaced by i."""

    def __init__(self, seed: int = 20) -> None:
        self.pool = random.Random(seed).randbytes(POOL_MIB * MIB)

    def blocks(self, size: int) -> Iterator[bytes]:
        for index in range((size + MIB - 1) // MIB):
            start = (index % POOL_MIB) * MIB
            length = min(MIB, size - index * MIB)
            yield index.to_bytes(8, "little")[:length] + self.pool[start + 8 : start + length]

    def digests(self, size: int, algorithm: str) -> tuple[str, str]:
        """(md5, ``algorithm``) hex digests of the first ``size`` bytes."""
        md5, other = hashlib.md5(usedforsecurity=False), hashlib.new(algorithm)
        for block in self.blocks(size):
            md5.update(block)
            other.update(block)
        return md5.hexdigest(), other.hexdigest()


def _grow_pipe(handle: IO[bytes] | None) -> None:
    if handle is not None:
        with contextlib.suppress(OSError):  # a larger pipe means fewer wake-ups; its default size works too
            fcntl.fcntl(handle.fileno(), F_SETPIPE_SZ, MIB)


def _curl() -> list[str]:
    curl = shutil.which("curl")
    if curl is None:
        raise SystemExit("curl is needed (apt-get install curl)")
    return [curl, "-sS", "--noproxy", "*"]


def api(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    args = ["-X", method, "-w", "\n%{http_code}"]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    done = subprocess.run([*_curl(), *args, base + path], capture_output=True, text=True, timeout=600, check=True)
    text, _, status = done.stdout.rpartition("\n")
    if not status.startswith("2"):
        raise RuntimeError(f"{method} {path} answered {status}: {text[:300]}")
    return json.loads(text) if text.strip() else None


def upload(url: str, stream: Stream, size: int, store: str) -> tuple[float, float]:
    """PUT the stream with curl reading it from its stdin; (seconds, client CPU-seconds: this feeder + curl)."""
    headers = {"Content-Length": str(size), "Transfer-Encoding": "", "Expect": "",
               "Content-Type": "application/octet-stream", "X-Image-Meta-Store": store}  # fmt: skip
    args = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}" if value else f"{name}:")]
    command = [*_curl(), "-X", "PUT", "-T", "-", *args, "-o", "/dev/null", "-w", "%{http_code} %{size_upload}", url]
    cpu_before = _client_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stderr is not None
    _grow_pipe(proc.stdin)
    try:
        for block in stream.blocks(size):
            proc.stdin.write(block)
    except BrokenPipeError:
        pass  # curl stopped reading: its output says why
    with contextlib.suppress(BrokenPipeError):
        proc.stdin.close()
    out, err = proc.stdout.read(), proc.stderr.read()  # a few bytes each (curl is quiet unless it fails)
    proc.wait(60)
    seconds = time.perf_counter() - started
    fields = out.decode().split()
    if proc.returncode != 0 or len(fields) != 2 or fields[0] != "204" or int(float(fields[1])) != size:
        raise RuntimeError(f"upload failed (curl {proc.returncode}): {out.decode()} {err.decode().strip()}")
    return seconds, _client_cpu() - cpu_before


def download(url: str, stream: Stream, size: int) -> tuple[float, float]:
    """GET with curl, its output compared with the stream, 1 MiB at a time, as it arrives; (seconds, client
    CPU-seconds: this reader + curl)."""
    cpu_before = _client_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen([*_curl(), "--fail", "-o", "-", url], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    _grow_pipe(proc.stdout)
    received = 0
    for block in stream.blocks(size):
        data = proc.stdout.read(len(block))
        if data != block:
            raise RuntimeError(f"the download differs from the upload within bytes {received}-{received + len(block)}")
        received += len(data)
    if proc.stdout.read(1):
        raise RuntimeError(f"the download goes on past {size} bytes")
    _, err = proc.communicate(timeout=600)
    seconds = time.perf_counter() - started
    if proc.returncode != 0 or received != size:
        raise RuntimeError(f"download failed (curl {proc.returncode}, {received} of {size} bytes): {err.decode()}")
    return seconds, _client_cpu() - cpu_before


def _client_cpu() -> float:
    self_ = os.times()
    return self_.user + self_.system + self_.children_user + self_.children_system


def _ceph(*args: str) -> Any:
    done = subprocess.run(["ceph", "-c", str(CEPH_CONF), *args, "-f", "json"], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"ceph {' '.join(args)} failed: {done.stderr.strip()[:200]}")
    return json.loads(done.stdout)


def room_for(store: str, size: int, work: Path) -> str | None:
    """Why ``store`` cannot hold ``size`` bytes on this machine (None: it can)."""
    margin = 2 * GIB
    if store in ("fs", "swift"):
        where = work if store == "fs" else SWIFT_DEVICES
        free = shutil.disk_usage(where).free
        return None if free > size + margin else f"{free / GIB:.1f} GiB free on the disk of {where}"
    pools = {pool["name"]: pool["stats"] for pool in _ceph("df")["pools"]}
    available = int(pools["images"]["max_avail"])
    if available > size:
        return None
    return (
        f"pool images has {available / GIB:.1f} GiB available (MAX AVAIL): the OSD of scripts/ceph-up keeps its "
        f"objects in memory (memstore, GLIMPSE_CEPH_OSD_BYTES) unless GLIMPSE_CEPH_OSD_STORE=bluestore"
    )


def tenths(series: list[tuple[float, float]]) -> list[float]:
    """The sampled tree RSS (MiB) at 10 %, 20 %, ... 100 % of the phase's duration."""
    if not series:
        return []
    end = series[-1][0]
    marks, index = [], 0
    for tenth in range(1, 11):
        while index < len(series) - 1 and series[index + 1][0] <= end * tenth / 10:
            index += 1
        marks.append(round(series[index][1], 1))
    return marks


def phase(pid: int, interval: float, run: Any, size: int) -> dict[str, Any]:
    """Run ``run()`` (-> seconds, client CPU) with the server's RSS sampled; the figures of that phase."""
    load = os.getloadavg()[0]
    idle = sum(rss_mib(member) or 0.0 for member in process_tree(pid))
    sampler = RssSampler(pid, interval=interval).start()
    cpu = CpuSnapshot.take(pid).total
    try:
        seconds, client_cpu = run()
    finally:
        sampler.stop()
    server_cpu = CpuSnapshot.take(pid).total - cpu
    return {
        "MBps": round(size / MB / seconds, 1),
        "seconds": round(seconds, 2),
        "server_cpu_s_per_GiB": round(server_cpu * GIB / size, 3),
        "client_cpu_s_per_GiB": round(client_cpu * GIB / size, 3),
        "rss_before_mib": round(idle, 1),
        "rss_peak_mib": round(sampler.tree_peak_mib, 1),
        "rss_tenths_mib": tenths(sampler.series),
        "rss_samples": sampler.samples,
        "load_average": round(load, 2),
    }


def one_round(work: Path, store: str, size: int, stream: Stream, args: argparse.Namespace) -> dict[str, Any]:
    conf = work / "glimpse.conf"
    database = f"[database]\nconnection = sqlite:///{work / 'glimpse.db'}\n"
    conf.write_text(store_sections(work, args.stores, args.container) + database)
    executable = Path(args.glimpse)
    server = ServerProcess(executable, work / "data", work / "server.log", {"GLIMPSE_CONFIG": str(conf)})
    try:
        wait_ready(server.endpoint, 60, server.process)
        base = f"http://127.0.0.1:{server.port}"
        image = api(base, "POST", "/v2/images", {"name": f"big-{store}", "disk_format": "raw",
                                                 "container_format": "bare"})  # fmt: skip
        url = f"{base}/v2/images/{image['id']}/file"
        result: dict[str, Any] = {"store": store, "size_GiB": size / GIB}
        if store == "rbd":
            result["ceph_objectstore"] = _ceph("osd", "metadata", "0")["osd_objectstore"]
        print(f"{store} {size / GIB:g} GiB: upload (load average {os.getloadavg()[0]:.2f})", flush=True)
        result["upload"] = phase(server.pid, args.interval, lambda: upload(url, stream, size, store), size)
        shown = api(base, "GET", f"/v2/images/{image['id']}")
        md5, other = stream.digests(size, shown["os_hash_algo"])
        if (shown["status"], shown["size"], shown["checksum"], shown["os_hash_value"]) != ("active", size, md5, other):
            raise RuntimeError(f"the image does not match the stream: {shown}")
        print(f"{store} {size / GIB:g} GiB: download (load average {os.getloadavg()[0]:.2f})", flush=True)
        result["download"] = phase(server.pid, args.interval, lambda: download(url, stream, size), size)
        api(base, "DELETE", f"/v2/images/{image['id']}")
        if store == "fs" and any((work / "fs").iterdir()):
            raise RuntimeError(f"the filesystem store still holds {list((work / 'fs').iterdir())}")
        return result
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        server.stop()


def merged(earlier: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """``results`` with the rounds of ``earlier`` it did not redo (a store and size measured in another run, such
    as 20 GiB against another Ceph), that run's figures kept under ``earlier_runs``."""
    redone = {(r["store"], r["size_GiB"]) for r in results["rounds"]}
    kept = [r for r in earlier.get("rounds", []) if (r["store"], r["size_GiB"]) not in redone]
    order = {store: index for index, store in enumerate(["fs", "swift", "rbd"])}
    run = {key: value for key, value in earlier.items() if key not in ("rounds", "earlier_runs")}
    return {
        **results,
        "rounds": sorted(kept + results["rounds"], key=lambda r: (order[r["store"]], r["size_GiB"])),
        "earlier_runs": [*earlier.get("earlier_runs", []), run],
    }


def _line(result: dict[str, Any]) -> str:
    up, down = result["upload"], result["download"]
    return (
        f"{result['store']:6} {result['size_GiB']:>6g} GiB  upload {up['MBps']:7.1f} MB/s "
        f"{up['server_cpu_s_per_GiB']:5.2f} CPU-s/GiB peak RSS {up['rss_peak_mib']:6.1f} MiB  |  "
        f"download {down['MBps']:7.1f} MB/s {down['server_cpu_s_per_GiB']:5.2f} CPU-s/GiB "
        f"peak RSS {down['rss_peak_mib']:6.1f} MiB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,5,20", help="GiB, comma separated (fractions allowed)")
    parser.add_argument("--stores", default="fs,swift,rbd", help="comma separated, of fs, swift, rbd")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between RSS samples")
    parser.add_argument("--tmp-dir", type=Path, default=None, help="where the server's data dir and fs store go")
    parser.add_argument("--glimpse", default=str(Path(sys.executable).with_name("glimpse")))
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--merge", action="store_true",
                        help="keep the rounds already in --output that this run does not redo")  # fmt: skip
    args = parser.parse_args()
    args.stores = [store.strip() for store in args.stores.split(",") if store.strip()]
    unknown = set(args.stores) - {"fs", "swift", "rbd"}
    if unknown:
        parser.error(f"unknown stores {sorted(unknown)}")
    sizes = sorted(int(float(size) * GIB) // MIB * MIB for size in args.sizes.split(","))
    args.container = f"glimpse-big-{uuid.uuid4().hex[:8]}"  # Swift's, for this run
    stream = Stream()
    results: dict[str, Any] = {
        "commit": git_commit(), "sizes_GiB": [size / GIB for size in sizes], "stores": args.stores,
        "client": "curl", "interval_s": args.interval, "load_average_before": os.getloadavg(),
        "rounds": [], "skipped": [],
    }  # fmt: skip
    for store in args.stores:
        for size in sizes:
            with tempfile.TemporaryDirectory(prefix="glimpse-big-", dir=args.tmp_dir) as temp:
                work = Path(temp)
                reason = room_for(store, size, work)
                if reason is not None:
                    print(f"{store} {size / GIB:g} GiB: skipped: {reason}", flush=True)
                    results["skipped"].append({"store": store, "size_GiB": size / GIB, "reason": reason})
                    continue
                result = one_round(work, store, size, stream, args)
            results["rounds"].append(result)
            print(_line(result), flush=True)
    results["load_average_after"] = os.getloadavg()
    if args.merge and args.output.exists():
        results = merged(json.loads(args.output.read_text()), results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
