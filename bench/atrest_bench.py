"""Encryption at rest benchmark: what sealing costs a large upload and its download.

    scripts/barbican-up && .venv/bin/python bench/atrest_bench.py               # 1 GiB, 3 rounds
    .venv/bin/python bench/atrest_bench.py --size-mib 256 --rounds 2        # quicker

Starts `glimpse serve` (noauth, SQLite) with two filesystem stores in a fresh temp dir: ``plain`` and
``sealed`` (``encrypt_at_rest = true``, its key-encryption key a 256-bit secret that alpha's member stores in
the Barbican of scripts/barbican-up and lets Glimpse's service user read through the secret's ACL). Each round
uploads the file (``PUT /file`` with ``X-Image-Meta-Store``, the body sent with ``sendfile``) to an image in each
store, then downloads it (``GET /file`` into a reused buffer); the store order alternates between rounds. Both
images must end active with the file's sha512, and each download must bring back the file's size.

Figures, each the median of the rounds: MB/s of the upload (first byte sent to the response) and of the
download (request to last byte), and the server's CPU seconds per GiB for each (``/proc/<pid>/stat`` of the
server process before and after the request: every thread, the hash threads and the store's writer included),
with the sealed / plain ratios. The plain download is sent with ``sendfile`` from the store's file; a sealed one
cannot be (each chunk is decrypted in the server). The download is read with a raw socket into a reused 1 MiB
buffer (`benchlib.httpc.download`). Writes bench/results/atrest-latest.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from barbicanclient import client as barbican_client
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from benchlib import httpc, machine, server

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results" / "atrest-latest.json"
KEYSTONE = "http://127.0.0.1:5000"
BARBICAN = "http://127.0.0.1:9311"
GIB = 1 << 30
CONFIG = """\
[DEFAULT]
enabled_backends = plain:file, sealed:file

[glance_store]
default_backend = plain

[plain]
filesystem_store_datadir = {root}/stores/plain

[sealed]
filesystem_store_datadir = {root}/stores/sealed
encrypt_at_rest = true
encrypt_at_rest_key = {key}

[keystone_authtoken]
auth_url = {keystone}
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = glimpse
password = glimpse-service-password
"""


def log(message: str = "") -> None:
    print(message, file=sys.stderr, flush=True)


def session(user: str, password: str, project: str) -> ks_session.Session:
    auth = v3.Password(
        auth_url=f"{KEYSTONE}/v3", username=user, password=password, project_name=project,
        user_domain_name="Default", project_domain_name="Default",
    )  # fmt: skip
    return ks_session.Session(auth=auth, timeout=60)


def key_encryption_key() -> str:
    """A 256-bit key stored by alpha's member, readable by the service user ``glimpse`` (secret ACL)."""
    owner = barbican_client.Client(session=session("alpha-member", "glimpse-test-password", "alpha"))
    ref: str = owner.secrets.create(
        name="atrest-bench", payload=base64.b64encode(os.urandom(32)).decode(), secret_type="symmetric",
        algorithm="aes", bit_length=256, payload_content_type="application/octet-stream",
        payload_content_encoding="base64",
    ).store()  # fmt: skip
    service_user = session("glimpse", "glimpse-service-password", "service").get_user_id()
    owner.acls.create(entity_ref=f"{BARBICAN}/v1/secrets/{ref.rpartition('/')[2]}", users=[service_user]).submit()
    return ref.rpartition("/")[2]


def one_round(srv: server.ServerProcess, store: str, data: machine.DataFile, sha512: str) -> dict[str, float]:
    """Upload to and download from ``store``: seconds and server CPU seconds of each."""
    with httpx.Client(base_url=srv.endpoint.base, timeout=600) as client:
        created = client.post("/v2/images", json={"name": f"atrest-{store}", "disk_format": "raw",
                                                  "container_format": "bare"})  # fmt: skip
        created.raise_for_status()
        image_id = created.json()["id"]
        cpu = server.CpuSnapshot.take(srv.pid).total
        sent = httpc.upload_file(
            srv.endpoint, f"/v2/images/{image_id}/file", data.path,
            {"Content-Type": "application/octet-stream", "X-Image-Meta-Store": store},
        )  # fmt: skip
        upload_cpu = server.CpuSnapshot.take(srv.pid).total - cpu
        if sent.status != 204:
            raise RuntimeError(f"PUT /file answered {sent.status}: {sent.body[:300]!r}")
        image = client.get(f"/v2/images/{image_id}").json()
        if image["status"] != "active" or image["os_hash_value"] != sha512 or image["stores"] != store:
            raise RuntimeError(
                f"image {image_id}: {image['status']} in {image['stores']} with {image['os_hash_value']}"
            )
        cpu = server.CpuSnapshot.take(srv.pid).total
        got = httpc.download(srv.endpoint, f"/v2/images/{image_id}/file")
        download_cpu = server.CpuSnapshot.take(srv.pid).total - cpu
        if got.status != 200 or got.nbytes != data.size:
            raise RuntimeError(f"GET /file answered {got.status} with {got.nbytes} of {data.size} bytes")
        client.delete(f"/v2/images/{image_id}").raise_for_status()
    return {
        "upload_s": sent.seconds,
        "upload_cpu_s": upload_cpu,
        "download_s": got.seconds,
        "download_cpu_s": download_cpu,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024, help="image size in MiB (default 1024)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each uploading to both stores (default 3)")
    parser.add_argument("--tmp-dir", type=Path, default=None, help="where the file, database and stores go")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS})")
    parser.add_argument(
        "--no-sendfile", action="store_true", help="[glimpse] sendfile = false: plain downloads stream chunks too"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="glimpse-atrest-bench-", dir=args.tmp_dir) as tmp:
        root = Path(tmp)
        log(f"machine: {os.cpu_count()} CPUs, {platform.platform()}, temp dir on {machine.filesystem_of(root)}")
        log(f"writing {args.size_mib} MiB of incompressible data ...")
        data = machine.make_data_file(root / "image.raw", args.size_mib)
        sha512 = machine.hash_file(data.path, "sha512")
        config = root / "glimpse.conf"
        text = CONFIG.format(root=root, keystone=KEYSTONE, key=key_encryption_key())
        config.write_text(text + ("\n[glimpse]\nsendfile = false\n" if args.no_sendfile else ""))
        glimpse = Path(sys.executable).parent / "glimpse"
        srv = server.ServerProcess(glimpse, root / "data", root / "server.log", {"GLIMPSE_CONFIG": str(config)})
        runs: dict[str, list[dict[str, float]]] = {"plain": [], "sealed": []}
        load_start = os.getloadavg()
        try:
            server.wait_ready(srv.endpoint, 60, srv.process)
            for store in ("plain", "sealed"):  # warm-up: start-up costs, the key read from Barbican
                one_round(srv, store, data, sha512.hexdigest)
            for round_ in range(args.rounds):
                for store in ("plain", "sealed") if round_ % 2 == 0 else ("sealed", "plain"):
                    run = one_round(srv, store, data, sha512.hexdigest)
                    runs[store].append(run)
                    log(
                        f"round {round_ + 1}: {store:6} upload {machine.mbps(data.size, run['upload_s']):7,.0f} MB/s "
                        f"{run['upload_cpu_s'] * GIB / data.size:5.2f} CPU-s/GiB, download "
                        f"{machine.mbps(data.size, run['download_s']):7,.0f} MB/s "
                        f"{run['download_cpu_s'] * GIB / data.size:5.2f} CPU-s/GiB"
                    )
        except BaseException:
            log(f"server log (tail):\n{srv.log_tail()}")
            raise
        finally:
            srv.stop()

    def median(store: str, figure: str) -> float:
        return statistics.median(run[figure] for run in runs[store])

    figures: dict[str, Any] = {}
    for store in ("plain", "sealed"):
        figures[store] = {
            "upload_mbps": machine.mbps(data.size, median(store, "upload_s")),
            "upload_cpu_s_per_gib": median(store, "upload_cpu_s") * GIB / data.size,
            "download_mbps": machine.mbps(data.size, median(store, "download_s")),
            "download_cpu_s_per_gib": median(store, "download_cpu_s") * GIB / data.size,
            "runs": runs[store],
        }
    ratios = {
        name: figures["sealed"][name] / figures["plain"][name]
        for name in ("upload_mbps", "upload_cpu_s_per_gib", "download_mbps", "download_cpu_s_per_gib")
    }
    log()
    log(f"{'':8} {'upload MB/s':>12} {'CPU-s/GiB':>10} {'download MB/s':>14} {'CPU-s/GiB':>10}")
    for store in ("plain", "sealed"):
        shown = figures[store]
        log(
            f"{store:8} {shown['upload_mbps']:12,.0f} {shown['upload_cpu_s_per_gib']:10.2f} "
            f"{shown['download_mbps']:14,.0f} {shown['download_cpu_s_per_gib']:10.2f}"
        )
    log(
        f"{'sealed/plain':8} {ratios['upload_mbps']:8.3f} {ratios['upload_cpu_s_per_gib']:10.3f} "
        f"{ratios['download_mbps']:14.3f} {ratios['download_cpu_s_per_gib']:10.3f}"
    )
    result: dict[str, Any] = {
        "version": 1,
        "run_id": time.strftime("%Y%m%d-%H%M%S"),
        "target": "glimpse serve (SQLite, noauth, two filesystem stores, one sealing with a Barbican key)",
        "plan": {
            "size_mib": args.size_mib,
            "rounds": args.rounds,
            "chunk": "64 KiB AES-256-GCM",
            "sendfile": not args.no_sendfile,
        },
        "environment": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
        },
        "figures": {
            **figures,
            "ratios_sealed_over_plain": ratios,
            "sha512_one_core_mbps": sha512.mbps,
            "disk_write_fsync_mbps": data.write_mbps,
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
