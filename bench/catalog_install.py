"""Catalog install of a 1 GiB image asset from a local https publisher, against a plain web-download import of
the same file from the same https server: MB/s and server CPU-seconds per GiB of each, and their ratio.

    .venv/bin/python bench/catalog_install.py                      # 1 GiB, 3 rounds
    .venv/bin/python bench/catalog_install.py --size-mib 256 --rounds 2 --tmp-dir /dev/shm

Two real `glimpse serve` processes on 127.0.0.1 (SQLite, noauth, the default filesystem store):

- the publisher, on https (a throw-away CA and a certificate for localhost made with `cryptography`,
  tests/tls.py), serving (``[catalog] serve_dir``) a catalog made with ``CatalogRepository`` (what `glimpse
  catalog init|add|publish` run) holding one image asset: the file;
- the subscriber, subscribing to it (its first root trusted, the CA as ``[catalog] test_ca_file``, localhost in
  ``[catalog] allowed_hosts``), with the in-process worker, web-download allowed to localhost on any port, and
  ``SSL_CERT_FILE`` naming the same CA (web-download verifies against the default CA store, which OpenSSL
  takes from that variable).

Each round runs both, in alternating order (AB, BA, ...): the install (``POST /catalog/v1/assets/big/1/install``,
``GET /catalog/v1/installs/{id}`` every 20 ms until it ends: TUF refresh, download to a verified temporary file,
then the data pipeline into the store) and the web-download (``POST /v2/images/{id}/import`` of the asset's
own URL under ``/catalog/v1/repository/targets/``, polled until active: the pipeline straight from the
network). MB/s is the size over the time from the call to the end; CPU-seconds per GiB are the subscriber's
(its process and children) and the publisher's over the same interval. The image's checksum, os_hash_value
(and for the install catalog_digest) are checked against the file, then the image is deleted, so the next
install is not "already installed". Medians over the rounds; beside them hashlib md5, sha256 and sha512 on
this machine (one core each). Writes bench/results/catalog-install-latest.json. Servers and the temp dir are
removed at exit, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.tls import make_certificates

from benchlib import httpc, machine, server
from glimpse.services.catalog.publish import CatalogRepository

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results" / "catalog-install-latest.json"
GLIMPSE = Path(sys.executable).parent / "glimpse"
GIB = 1 << 30
POLL = 0.02


def log(message: str = "") -> None:
    print(message, flush=True)


@dataclass(frozen=True, slots=True)
class Run:
    kind: str
    seconds: float
    subscriber_cpu: float  # CPU seconds over the run
    publisher_cpu: float
    image: dict[str, Any]


def wait_https(url: str, ca: Path, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    context = ssl.create_default_context(cafile=str(ca))
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"the publisher exited with status {process.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, context=context, timeout=2) as answer:
            if answer.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def timed(kind: str, sub: server.ServerProcess, pub: server.ServerProcess,
          work: Callable[[], dict[str, Any]]) -> Run:  # fmt: skip
    sub_before, pub_before = server.CpuSnapshot.take(sub.pid), server.CpuSnapshot.take(pub.pid)
    started = time.perf_counter()
    image = work()
    seconds = time.perf_counter() - started
    sub_after, pub_after = server.CpuSnapshot.take(sub.pid), server.CpuSnapshot.take(pub.pid)
    return Run(kind, seconds, sub_after.total - sub_before.total, pub_after.total - pub_before.total, image)


def install(conn: httpc.Conn, timeout: float) -> dict[str, Any]:
    started = conn.request("POST", "/catalog/v1/assets/big/1/install")
    if started.status != 202:
        raise RuntimeError(f"install answered {started.status}: {started.body[:300]!r}")
    task_id = started.json()["id"]
    deadline = time.perf_counter() + timeout
    while True:
        view: dict[str, Any] = conn.get_json(f"/catalog/v1/installs/{task_id}")
        if view["status"] == "success":
            break
        if view["status"] == "failure" or time.perf_counter() > deadline:
            raise RuntimeError(f"the install did not succeed: {json.dumps(view)}")
        time.sleep(POLL)
    [made] = view["result"]["installed"]
    image: dict[str, Any] = conn.get_json(f"/v2/images/{made['id']}")
    return image


def web_download(conn: httpc.Conn, uri: str, timeout: float) -> dict[str, Any]:
    body = {"name": "web-download", "disk_format": "raw", "container_format": "bare"}
    created = conn.send_raw(httpc.json_request("POST", "/v2/images", conn.host_header, body))
    if created.status != 201:
        raise RuntimeError(f"POST /v2/images answered {created.status}")
    image_id = created.json()["id"]
    method = {"method": {"name": "web-download", "uri": uri}}
    started = conn.send_raw(httpc.json_request("POST", f"/v2/images/{image_id}/import", conn.host_header, method))
    if started.status != 202:
        raise RuntimeError(f"import answered {started.status}: {started.body[:300]!r}")
    deadline = time.perf_counter() + timeout
    while True:
        image: dict[str, Any] = conn.get_json(f"/v2/images/{image_id}")
        if image["status"] == "active":
            return image
        if image["status"] not in ("queued", "importing") or time.perf_counter() > deadline:
            raise RuntimeError(f"the web-download did not succeed: {json.dumps(image)}")
        time.sleep(POLL)


def check(run: Run, digests: dict[str, str], size: int) -> None:
    image = run.image
    problems = []
    if image.get("size") != size:
        problems.append(f"size {image.get('size')} != {size}")
    if image.get("checksum") != digests["md5"]:
        problems.append("checksum differs from the file's md5")
    if image.get("os_hash_value") != digests["sha512"]:
        problems.append("os_hash_value differs from the file's sha512")
    if run.kind == "install" and image.get("catalog_digest") != f"sha256:{digests['sha256']}":
        problems.append("catalog_digest differs from the file's sha256")
    if problems:
        raise RuntimeError(f"{run.kind}: " + "; ".join(problems))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024, help="asset size in MiB (default 1024)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both (default 3), order alternating")
    parser.add_argument("--tmp-dir", type=Path, default=None, help="where the file, catalog and stores go")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS})")
    args = parser.parse_args()
    timeout = max(120.0, args.size_mib / 5)
    runs: list[Run] = []
    with (
        server.signals_raise(),
        tempfile.TemporaryDirectory(prefix="glimpse-catalog-install-", dir=args.tmp_dir) as tmp,
    ):
        root = Path(tmp)
        log(f"machine: {os.cpu_count()} CPUs, {platform.platform()}, temp dir on {machine.filesystem_of(root)}, "
            f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
        log(f"writing {args.size_mib} MiB of incompressible data ...")
        data = machine.make_data_file(root / "big.img", args.size_mib)
        hashes = {a: machine.hash_file(data.path, a) for a in ("md5", "sha256", "sha512")}
        digests = {a: h.hexdigest for a, h in hashes.items()}
        log("hashlib (one core): " + ", ".join(f"{a} {h.mbps:,.0f} MB/s" for a, h in hashes.items()))

        catalog = CatalogRepository(root / "catalog")
        catalog.init()
        asset, _ = catalog.add(data.path, kind="image", name="big", version="1", metadata={"disk_format": "raw"})
        catalog.publish()
        certificates = make_certificates(root, ["localhost"])
        pub = server.ServerProcess(GLIMPSE, root / "pub", root / "pub.log", {
            "GLIMPSE_DATABASE_URL": f"sqlite:///{root / 'pub.db'}", "GLIMPSE_CATALOG_SERVE_DIR": str(catalog.dir),
            "GLIMPSE_CERT_FILE": str(certificates.cert), "GLIMPSE_KEY_FILE": str(certificates.key)})  # fmt: skip
        publisher = f"https://localhost:{pub.port}/catalog/v1/repository"
        config = root / "sub.conf"
        config.write_text("[import_filtering_opts]\nallowed_hosts = localhost\nallowed_ports =\n")
        sub = server.ServerProcess(GLIMPSE, root / "sub", root / "sub.log", {
            "GLIMPSE_CONFIG": str(config), "GLIMPSE_DATABASE_URL": f"sqlite:///{root / 'sub.db'}",
            "GLIMPSE_CATALOG_REMOTES": f"pub={publisher}",
            "GLIMPSE_CATALOG_TRUSTED_ROOTS": f"pub={catalog.metadata_dir / '1.root.json'}",
            "GLIMPSE_CATALOG_TEST_CA_FILE": str(certificates.ca), "GLIMPSE_CATALOG_ALLOWED_HOSTS": "localhost",
            "SSL_CERT_FILE": str(certificates.ca)})  # fmt: skip
        try:
            wait_https(f"{publisher}/metadata/timestamp.json", certificates.ca, pub.process)
            server.wait_ready(sub.endpoint, 60, sub.process)
            uri = f"{publisher}/targets/assets/big/1/{asset.sha256}.{data.path.name}"
            with httpc.Conn(sub.endpoint, timeout=600) as conn:
                refreshed = conn.request("POST", "/catalog/v1/remotes/refresh")
                if refreshed.status != 200 or not refreshed.json()["remotes"][0]["ok"]:
                    raise RuntimeError(f"refresh failed: {refreshed.body[:300]!r}")
                both = {
                    "install": lambda: install(conn, timeout),
                    "web-download": lambda: web_download(conn, uri, timeout),
                }
                for number in range(args.rounds):
                    for kind in ("install", "web-download") if number % 2 == 0 else ("web-download", "install"):
                        run = timed(kind, sub, pub, both[kind])
                        check(run, digests, data.size)
                        runs.append(run)
                        log(f"round {number + 1} {kind:>12}: {machine.mbps(data.size, run.seconds):7,.0f} MB/s, "
                            f"subscriber {run.subscriber_cpu * GIB / data.size:5.2f} CPU-s/GiB, publisher "
                            f"{run.publisher_cpu * GIB / data.size:5.2f} CPU-s/GiB")  # fmt: skip
                        deleted = conn.request("DELETE", f"/v2/images/{run.image['id']}")
                        if deleted.status != 204:
                            raise RuntimeError(f"DELETE answered {deleted.status}")
        except BaseException:
            log(f"subscriber log (tail):\n{sub.log_tail()}\npublisher log (tail):\n{pub.log_tail()}")
            raise
        finally:
            sub.stop()
            pub.stop()

    def median(kind: str, value: Callable[[Run], float]) -> float:
        return statistics.median(value(r) for r in runs if r.kind == kind)

    figures: dict[str, float] = {}
    for kind in ("install", "web-download"):
        key = kind.replace("-", "_")
        figures[f"{key}_mbps"] = median(kind, lambda r: machine.mbps(data.size, r.seconds))
        figures[f"{key}_subscriber_cpu_s_per_gib"] = median(kind, lambda r: r.subscriber_cpu * GIB / data.size)
        figures[f"{key}_publisher_cpu_s_per_gib"] = median(kind, lambda r: r.publisher_cpu * GIB / data.size)
    figures["mbps_ratio_install_to_web_download"] = figures["install_mbps"] / figures["web_download_mbps"]
    figures["subscriber_cpu_ratio_install_to_web_download"] = (
        figures["install_subscriber_cpu_s_per_gib"] / figures["web_download_subscriber_cpu_s_per_gib"]
    )
    log()
    log(f"{'median of ' + str(args.rounds):24}{'MB/s':>8}{'subscriber CPU-s/GiB':>22}{'publisher CPU-s/GiB':>21}")
    for kind in ("install", "web-download"):
        key = kind.replace("-", "_")
        log(f"{kind:24}{figures[f'{key}_mbps']:>8,.0f}{figures[f'{key}_subscriber_cpu_s_per_gib']:>22.2f}"
            f"{figures[f'{key}_publisher_cpu_s_per_gib']:>21.2f}")  # fmt: skip
    log(f"install / web-download: {figures['mbps_ratio_install_to_web_download']:.2f}x the MB/s, "
        f"{figures['subscriber_cpu_ratio_install_to_web_download']:.2f}x the subscriber's CPU per GiB")  # fmt: skip
    result = {
        "version": 1,
        "run_id": time.strftime("%Y%m%d-%H%M%S"),
        "git": machine.git_commit(),
        "plan": {"size_mib": args.size_mib, "rounds": args.rounds, "poll_seconds": POLL},
        "environment": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_end": list(os.getloadavg()),
        },
        "figures": figures,
        "machine": {f"{a}_mbps": h.mbps for a, h in hashes.items()} | {"disk_write_fsync_mbps": data.write_mbps},
        "runs": [
            {
                "kind": r.kind,
                "seconds": round(r.seconds, 3),
                "subscriber_cpu_s": round(r.subscriber_cpu, 2),
                "publisher_cpu_s": round(r.publisher_cpu, 2),
            }
            for r in runs
        ],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
