"""External load tools: curl (upload, download) and wrk (concurrency), each optional."""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchlib.httpc import Transfer


def find(name: str, disabled: bool = False) -> str | None:
    return None if disabled else shutil.which(name)


def version(executable: str) -> str:
    try:
        out = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return executable
    words = (out.stdout or out.stderr).split()
    return " ".join(words[:2]) if words else executable


_CURL_WRITE_OUT = "%{http_code} %{size_upload} %{size_download} %{time_total}"


def _curl(curl: str, args: list[str]) -> tuple[int, int, int, float, str]:
    proc = subprocess.run(
        [curl, "-sS", "--noproxy", "*", "-o", "/dev/null", "-w", _CURL_WRITE_OUT, *args],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    fields = proc.stdout.strip().split()
    if proc.returncode != 0 or len(fields) != 4:
        raise RuntimeError(f"curl failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return int(fields[0]), int(float(fields[1])), int(float(fields[2])), float(fields[3]), proc.stderr


def children_cpu_seconds() -> float:
    """User + system CPU of the finished child processes so far (the clients this benchmark ran)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def curl_upload(curl: str, url: str, source: Path, headers: dict[str, str]) -> tuple[Transfer, float]:
    """``curl -T file`` (PUT, streamed from the file, no ``Expect: 100-continue`` round trip), and the CPU
    seconds curl used."""
    args = ["-X", "PUT", "-T", str(source), "-H", "Expect:"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    before = children_cpu_seconds()
    status, uploaded, _, seconds, _ = _curl(curl, [*args, url])
    return Transfer(status, uploaded, seconds), children_cpu_seconds() - before


def httpx_upload(url: str, source: Path, headers: dict[str, str]) -> tuple[Transfer, float]:
    """The same PUT from httpx (streamed in 1 MiB chunks, in its own process), and that process's CPU seconds."""
    script = Path(__file__).with_name("httpx_upload.py")
    before = children_cpu_seconds()
    proc = subprocess.run(
        [sys.executable, str(script), url, str(source), *(f"{k}:{v}" for k, v in headers.items())],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    cpu = children_cpu_seconds() - before
    fields = proc.stdout.strip().split()
    if proc.returncode != 0 or len(fields) != 3:
        raise RuntimeError(f"httpx upload failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return Transfer(int(fields[0]), int(fields[1]), float(fields[2]), proc.stderr.encode()), cpu


def curl_download(curl: str, url: str) -> Transfer:
    status, _, downloaded, seconds, _ = _curl(curl, [url])
    return Transfer(status, downloaded, seconds)


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    errors: int  # non-2xx/3xx responses + socket errors
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    output: str


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float | None:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    return float(match.group(1)) * _UNITS_MS[match.group(2)] if match else None


_LUA = """
local paths = {%s}
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""


def wrk_get(wrk: str, base_url: str, paths: list[str], *, threads: int, connections: int, seconds: int) -> WrkResult:
    """``wrk -tT -cC -dDs --latency`` cycling through ``paths`` with a small Lua script."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="glimpse-bench-") as script:
        script.write(_LUA % ", ".join(f'"{p}"' for p in paths))
        script.flush()
        proc = subprocess.run(
            [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, base_url],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
    out = proc.stdout
    if proc.returncode != 0 or "Requests/sec:" not in out:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip() or out.strip()}")
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    assert total is not None
    assert rps is not None
    duration_ms = _ms(total.group(2) + total.group(3))
    return WrkResult(
        requests=int(total.group(1)),
        seconds=(duration_ms or 0.0) / 1000,
        rps=float(rps.group(1)),
        errors=errors,
        latency_p50_ms=_ms(p50.group(1)) if p50 else None,
        latency_p99_ms=_ms(p99.group(1)) if p99 else None,
        output=out,
    )
