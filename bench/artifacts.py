"""Artifact blob benchmark: 1 GiB blob upload and download MB/s next to the image upload of the same run.

    .venv/bin/python bench/artifacts.py                  # 1 GiB
    .venv/bin/python bench/artifacts.py --size-mib 256   # quicker
    .venv/bin/python bench/artifacts.py --tmp-dir /dev/shm   # data dir and store on tmpfs: no disk

Starts `glimpse serve` and `glimpse artifacts serve` (noauth, SQLite, the default filesystem store, one fresh
temp data dir shared by both) on free ports of 127.0.0.1, writes two files of incompressible bytes (A, B) and
measures with curl (`-T file -H 'Expect:'`, as bench/run.py):

- image upload: `PUT /v2/images/{id}/file` of A (md5 + sha512 on the way);
- blob upload: `PUT /artifacts/images/{id}/image` of B (md5, sha1, sha256 + sha512 on the way), new data;
- blob upload of A: the same bytes as the image, so stored once (written, found equal, removed);
- blob download: `GET` of B's blob, best of 3; image download of A, best of 3, for reference.

Each upload's MB/s is the size over curl's time; CPU-s/GiB is the server process's CPU (user + system, its
threads included) over the transfer, per GiB. The digests the server records are checked against the file.
Writes bench/results/artifacts-latest.json. The servers and the temp dir are removed at exit.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from benchlib.httpc import Endpoint  # noqa: E402
from benchlib.machine import make_data_file, mbps  # noqa: E402
from benchlib.server import _die_with_parent, cpu_seconds, free_port, wait_ready  # noqa: E402
from benchlib.tools import curl_download, curl_upload, find  # noqa: E402

RESULTS = BENCH_DIR / "results" / "artifacts-latest.json"
GLIMPSE = BENCH_DIR.parent / ".venv" / "bin" / "glimpse"
GIB = 1 << 30
OCTETS = {"Content-Type": "application/octet-stream"}


@contextlib.contextmanager
def serving(args: list[str], data_dir: Path, log: Path) -> Iterator[tuple[str, int]]:
    """A glimpse server (``serve`` or ``artifacts serve``) on a free port: (its URL, its pid)."""
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "GLIMPSE_DATA_DIR": str(data_dir), "GLIMPSE_AUTH": "noauth"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(GLIMPSE), *args, "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
    try:
        wait_ready(Endpoint("127.0.0.1", port), 60, process)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(15)


def request(method: str, url: str, body: dict[str, Any] | list[Any] | None = None, ctype: str = "") -> Any:
    import httpx

    headers = {"Content-Type": ctype or "application/json"}
    response = httpx.request(method, url, content=json.dumps(body) if body is not None else None, headers=headers)
    response.raise_for_status()
    return response.json() if response.content else None


def measured(pid: int, work: Callable[[], Any]) -> tuple[Any, float]:
    """``work()``'s result and the server's CPU seconds meanwhile."""
    before = cpu_seconds(pid) or 0.0
    result = work()
    return result, (cpu_seconds(pid) or 0.0) - before


def digests(path: Path) -> dict[str, str]:
    hashers = {name: hashlib.new(name) for name in ("md5", "sha1", "sha256", "sha512")}
    with path.open("rb") as handle:
        while block := handle.read(4 << 20):
            for hasher in hashers.values():
                hasher.update(block)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def figure(size: int, seconds: float, cpu: float) -> dict[str, float]:
    return {
        "MB/s": round(mbps(size, seconds), 1),
        "seconds": round(seconds, 3),
        "CPU-s/GiB": round(cpu * GIB / size, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--tmp-dir", type=Path, default=None)
    options = parser.parse_args()
    curl = find("curl")
    if curl is None:
        print("curl is required", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="glimpse-bench-artifacts-", dir=options.tmp_dir))
    try:
        file_a, file_b = root / "a.bin", root / "b.bin"
        size = make_data_file(file_a, options.size_mib).size
        make_data_file(file_b, options.size_mib)
        sums_a, sums_b = digests(file_a), digests(file_b)
        data_dir = root / "data"
        results: dict[str, Any] = {"size_bytes": size}
        with (
            serving(["serve"], data_dir, root / "serve.log") as (images_url, images_pid),
            serving(["artifacts", "serve"], data_dir, root / "artifacts.log") as (artifacts_url, artifacts_pid),
        ):
            image = request(
                "POST", f"{images_url}/v2/images", {"name": "a", "disk_format": "raw", "container_format": "bare"}
            )
            (transfer, _), cpu = measured(
                images_pid, lambda: curl_upload(curl, f"{images_url}/v2/images/{image['id']}/file", file_a, OCTETS)
            )
            assert transfer.status == 204, transfer
            shown = request("GET", f"{images_url}/v2/images/{image['id']}")
            assert (shown["checksum"], shown["os_hash_value"]) == (sums_a["md5"], sums_a["sha512"])
            results["image upload"] = figure(size, transfer.seconds, cpu)

            def blob_upload(path: Path, name: str) -> tuple[str, Any]:
                art = request("POST", f"{artifacts_url}/artifacts/images", {"name": name})
                url = f"{artifacts_url}/artifacts/images/{art['id']}/image"
                (sent, _), spent = measured(artifacts_pid, lambda: curl_upload(curl, url, path, OCTETS))
                assert sent.status == 200, sent
                return url, (sent, spent)

            blob_b, (sent, cpu) = blob_upload(file_b, "b")
            results["blob upload (new data)"] = figure(size, sent.seconds, cpu)
            _, (sent, cpu) = blob_upload(file_a, "a")
            results["blob upload (an image's bytes: stored once)"] = figure(size, sent.seconds, cpu)
            blob = request("GET", blob_b.rsplit("/", 1)[0])["image"]
            assert (blob["md5"], blob["sha1"], blob["sha256"]) == (sums_b["md5"], sums_b["sha1"], sums_b["sha256"])

            def best_download(url: str, pid: int) -> dict[str, float]:
                runs = []
                for _ in range(3):
                    got, spent = measured(pid, lambda: curl_download(curl, url))
                    assert got.status == 200, got
                    assert got.nbytes == size, got
                    runs.append((got.seconds, spent))
                seconds, spent = min(runs)
                return figure(size, seconds, spent)

            results["blob download"] = best_download(blob_b, artifacts_pid)
            results["image download"] = best_download(f"{images_url}/v2/images/{image['id']}/file", images_pid)
            stored = sorted(p.stat().st_size for p in (data_dir / "stores").rglob("*") if p.is_file())
            results["objects in the store"] = len(stored)  # the image's and blob B's: blob A is the image's
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"{size / GIB:.2f} GiB, {time.strftime('%Y-%m-%d %H:%M:%S')}")
        for name, value in results.items():
            print(f"  {name:48} {value}")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
