"""Import benchmark: a real `glimpse serve` importing a large image into two filesystem stores at once.

    .venv/bin/python bench/import_bench.py                  # 1 GiB
    .venv/bin/python bench/import_bench.py --size-mib 256   # quicker
    .venv/bin/python bench/import_bench.py --tmp-dir /dev/shm   # data and stores on tmpfs: no disk

Starts `glimpse serve --config FILE` (SQLite, noauth, stores `fast` and `cheap` in a fresh temp dir,
web-download allowed to 127.0.0.1 on any port, the in-process worker) on a free port of 127.0.0.1 and
measures, with a file of incompressible bytes:

- web-download: the server fetches the file from a local HTTP server that answers with ``sendfile()`` (no
  Python on the sending side) and writes it to both stores;
- glance-direct: ``PUT /stage`` of the file (timed on its own), then the import from staging into both stores.

Each import's MB/s is the size over the time from the import call to the image being ``active`` (polled
every 20 ms). The server's checksum and os_hash_value are checked against the file. Beside them: hashlib md5
and sha512 on this machine (one core, 1 MiB chunks; an import computes both, in two threads), and the disk
write + fsync speed of the temp dir. Writes bench/results/import-latest.json. The server and the temp dir are
removed at exit, also on Ctrl-C or SIGTERM; if the benchmark is SIGKILLed the server still gets SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib import httpc, machine, server

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results" / "import-latest.json"
STORES = ("fast", "cheap")
POLL = 0.02
CONFIG = """\
[DEFAULT]
enabled_backends = fast:file, cheap:file

[glance_store]
default_backend = fast

[fast]
filesystem_store_datadir = {root}/stores/fast

[cheap]
filesystem_store_datadir = {root}/stores/cheap

[os_glance_staging_store]
filesystem_store_datadir = {root}/staging

[import_filtering_opts]
allowed_hosts = 127.0.0.1
allowed_ports =

[database]
connection = sqlite:///{root}/glimpse.db

[glimpse]
data_dir = {root}/data
auth = noauth
"""


def log(message: str = "") -> None:
    print(message, flush=True)


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it if the benchmark dies (even by SIGKILL). Linux only."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Server:
    """`glimpse serve --config FILE` on a free port, its output in a log file."""

    def __init__(self, config: Path, log_path: Path) -> None:
        self.port = server.free_port()
        self.endpoint = httpc.Endpoint("127.0.0.1", self.port)
        self.log_path = log_path
        env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}  # only the file counts
        command = [str(ROOT / ".venv" / "bin" / "glimpse"), "serve", "--port", str(self.port), "--config", str(config)]
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass(frozen=True, slots=True)
class Imported:
    seconds: float  # from the import call to active
    peak_rss_mib: float
    server_cores: float  # CPU seconds of the server over the import, per second
    image: dict[str, Any]


def create_image(conn: httpc.Conn) -> str:
    body = {"name": "import-bench", "disk_format": "raw", "container_format": "bare"}
    response = conn.send_raw(httpc.json_request("POST", "/v2/images", conn.host_header, body))
    if response.status != 201:
        raise RuntimeError(f"POST /v2/images answered {response.status}: {response.body[:200]!r}")
    image_id: str = response.json()["id"]
    return image_id


def run_import(srv: Server, conn: httpc.Conn, image_id: str, method: dict[str, str], timeout: float) -> Imported:
    """POST the import into both stores, then poll until the image is active; timed from the call."""
    body = {"method": method, "stores": list(STORES), "all_stores_must_succeed": True}
    sampler = server.RssSampler(srv.process.pid).start()
    cpu_before = server.CpuSnapshot.take(srv.process.pid)
    started = time.perf_counter()
    response = conn.send_raw(httpc.json_request("POST", f"/v2/images/{image_id}/import", conn.host_header, body))
    if response.status != 202:
        sampler.stop()
        raise RuntimeError(f"POST /import answered {response.status}: {response.body[:200]!r}")
    while True:
        image: dict[str, Any] = conn.get_json(f"/v2/images/{image_id}")
        if image["status"] == "active" and not image.get("os_glance_importing_to_stores"):
            break
        if image["status"] != "importing" and not image.get("os_glance_importing_to_stores"):
            sampler.stop()
            raise RuntimeError(f"the import failed: {json.dumps(image)}\n{srv.log_tail()}")
        if time.perf_counter() - started > timeout:
            sampler.stop()
            raise RuntimeError(f"the import did not finish within {timeout:.0f} s")
        time.sleep(POLL)
    seconds = time.perf_counter() - started
    cpu_after = server.CpuSnapshot.take(srv.process.pid)
    return Imported(seconds, sampler.stop(), (cpu_after.total - cpu_before.total) / seconds, image)


def check(image: dict[str, Any], digests: dict[str, str], size: int) -> None:
    problems = []
    if image.get("size") != size:
        problems.append(f"size {image.get('size')} != {size}")
    if image.get("checksum") != digests["md5"]:
        problems.append("checksum differs from the file's md5")
    if image.get("os_hash_algo") != "sha512" or image.get("os_hash_value") != digests["sha512"]:
        problems.append("os_hash_value differs from the file's sha512")
    if sorted(str(image.get("stores", "")).split(",")) != sorted(STORES):
        problems.append(f"stores {image.get('stores')!r}, expected both")
    if problems:
        raise RuntimeError("; ".join(problems))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024, help="image size in MiB (default 1024)")
    parser.add_argument("--tmp-dir", type=Path, default=None, help="where the file, database and stores go")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS})")
    args = parser.parse_args()
    if args.size_mib < 1:
        parser.error("--size-mib must be at least 1")
    timeout = max(120.0, args.size_mib / 10)  # 10 MiB/s is far below anything acceptable

    with server.signals_raise(), tempfile.TemporaryDirectory(prefix="glimpse-import-bench-", dir=args.tmp_dir) as tmp:
        root = Path(tmp)
        log(f"machine: {os.cpu_count()} CPUs, {platform.platform()}, temp dir on {machine.filesystem_of(root)}")
        log(f"writing {args.size_mib} MiB of incompressible data ...")
        data = machine.make_data_file(root / "image.raw", args.size_mib)
        md5 = machine.hash_file(data.path, "md5")
        sha512 = machine.hash_file(data.path, "sha512")
        digests = {"md5": md5.hexdigest, "sha512": sha512.hexdigest}
        log(f"disk write+fsync {data.write_mbps:,.0f} MB/s, md5 {md5.mbps:,.0f} MB/s, sha512 {sha512.mbps:,.0f} MB/s")

        config = root / "glimpse.conf"
        config.write_text(CONFIG.format(root=root))
        source = machine.SendfileServer(data.path)
        srv = Server(config, root / "server.log")
        try:
            server.wait_ready(srv.endpoint, 60, srv.process)
            with httpc.Conn(srv.endpoint, timeout=600) as conn:
                log("web-download into fast + cheap ...")
                web = run_import(
                    srv,
                    conn,
                    create_image(conn),
                    {"name": "web-download", "uri": f"http://127.0.0.1:{source.port}/image.raw"},
                    timeout,
                )
                check(web.image, digests, data.size)

                log("glance-direct (stage, then import into fast + cheap) ...")
                image_id = create_image(conn)
            stage = httpc.upload_file(
                srv.endpoint, f"/v2/images/{image_id}/stage", data.path, {"Content-Type": "application/octet-stream"}
            )
            if stage.status != 204:
                raise RuntimeError(f"PUT /stage answered {stage.status}: {stage.body[:200]!r}")
            with httpc.Conn(srv.endpoint, timeout=600) as conn:
                direct = run_import(srv, conn, image_id, {"name": "glance-direct"}, timeout)
            check(direct.image, digests, data.size)
        except BaseException:
            log(f"server log (tail):\n{srv.log_tail()}")
            raise
        finally:
            srv.stop()
            source.close()

        def rate(seconds: float) -> float:
            return machine.mbps(data.size, seconds)

        figures = {
            "web_download_mbps": rate(web.seconds),
            "glance_direct_import_mbps": rate(direct.seconds),
            "stage_mbps": rate(stage.seconds),
            "glance_direct_stage_plus_import_mbps": rate(stage.seconds + direct.seconds),
            "web_download_peak_rss_mib": web.peak_rss_mib,
            "glance_direct_peak_rss_mib": direct.peak_rss_mib,
            "web_download_server_cores": web.server_cores,
            "glance_direct_server_cores": direct.server_cores,
        }
        machine_figures = {
            "md5_mbps": md5.mbps,
            "sha512_mbps": sha512.mbps,
            "disk_write_fsync_mbps": data.write_mbps,
            "filesystem": machine.filesystem_of(root),
        }
        slower_hash = min(md5.mbps, sha512.mbps)
        log()
        log(f"{'':34}{'MB/s':>10}")
        log(f"{'web-download -> 2 stores':34}{figures['web_download_mbps']:>10,.0f}")
        log(f"{'glance-direct import -> 2 stores':34}{figures['glance_direct_import_mbps']:>10,.0f}")
        log(f"{'  (stage alone)':34}{figures['stage_mbps']:>10,.0f}")
        log(f"{'  (stage + import)':34}{figures['glance_direct_stage_plus_import_mbps']:>10,.0f}")
        log(f"{'hashlib md5 (one core)':34}{md5.mbps:>10,.0f}")
        log(f"{'hashlib sha512 (one core)':34}{sha512.mbps:>10,.0f}")
        log(f"{'disk write + fsync':34}{data.write_mbps:>10,.0f}")
        log(
            f"import / slower hash: web-download {figures['web_download_mbps'] / slower_hash:.2f}, "
            f"glance-direct {figures['glance_direct_import_mbps'] / slower_hash:.2f}; "
            f"peak RSS {web.peak_rss_mib:.0f} / {direct.peak_rss_mib:.0f} MiB; "
            f"server CPU {web.server_cores:.2f} / {direct.server_cores:.2f} cores"
        )

    result = {
        "version": 1,
        "run_id": time.strftime("%Y%m%d-%H%M%S"),
        "git": _git(),
        "target": "glimpse serve (SQLite, noauth, two filesystem stores, in-process worker)",
        "plan": {"size_mib": args.size_mib, "stores": list(STORES), "poll_seconds": POLL},
        "environment": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_end": list(os.getloadavg()),
        },
        "figures": figures,
        "machine": machine_figures,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {args.output}")
    return 0


def _git() -> dict[str, Any]:
    def run(*command: str) -> str:
        done = subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {"commit": run("rev-parse", "--short", "HEAD"), "dirty": bool(run("status", "--porcelain"))}


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
