"""One streamed ``PUT`` of a file with httpx, run as its own process so its CPU time is the client's alone.

    python bench/benchlib/httpx_upload.py URL FILE [Header:Value ...]

Prints ``<status> <bytes> <seconds>`` on stdout. The body is read from the file in 1 MiB chunks (httpx sends
them with ``Transfer-Encoding: chunked`` unless a ``Content-Length`` header is given; this passes the file's
size, as python-glanceclient does when it knows it).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

CHUNK = 1 << 20


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def main(argv: list[str]) -> int:
    url, source = argv[0], Path(argv[1])
    headers = dict(item.split(":", 1) for item in argv[2:])
    headers["Content-Length"] = str(source.stat().st_size)
    started = time.perf_counter()
    with httpx.Client(timeout=httpx.Timeout(1800.0), trust_env=False) as client:
        response = client.put(url, content=_chunks(source), headers=headers)
    seconds = time.perf_counter() - started
    print(response.status_code, source.stat().st_size, f"{seconds:.6f}")
    if response.status_code >= 300:
        print(response.text[:300], file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
