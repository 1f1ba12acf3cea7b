"""Optional per-phase sampling of the server with py-spy (``--profile DIR``); py-spy is not a project dep.

Install it anywhere, e.g. ``python -m pip install --target /tmp/pyspy py-spy`` and pass
``--py-spy /tmp/pyspy/bin/py-spy`` (or put it on PATH).
"""

from __future__ import annotations

import collections
import contextlib
import re
import signal
import subprocess
import time
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


class PhaseProfiler:
    """``py-spy record --pid P --format raw`` around one phase; stopped with SIGINT so it writes its file."""

    def __init__(self, py_spy: str, pid: int, out_dir: Path, phase: str, *, gil: bool, rate: int = 250) -> None:
        self.gil = gil
        self.output = out_dir / f"{phase}.collapsed.txt"
        self.log = out_dir / f"{phase}.py-spy.log"
        self._log_handle = self.log.open("wb")
        self.process = subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--nonblocking",
                "--threads",
                "--output",
                str(self.output),
            ],
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        time.sleep(0.5)  # let it attach before the phase starts

    def stop(self) -> Path | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log_handle.close()
        return self.output if self.output.exists() else None


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match.group("file")
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match.group('func')} ({path})"


def summarize(collapsed: Path, *, gil: bool, top: int = 15) -> str:
    """Self and inclusive sample shares of a py-spy raw (collapsed stack) file."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = 0
    with contextlib.suppress(OSError), collapsed.open() as handle:
        for line in handle:
            stack, _, count_text = line.rstrip("\n").rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = stack.split(";")
            total += count
            if frames and frames[0].startswith("thread ("):
                threads[frames[0]] += count
                frames = frames[1:]
            if not frames:
                continue
            own[_short(frames[-1])] += count
            for name in {_short(f) for f in frames}:
                inclusive[name] += count
    if total == 0:
        return "  (no samples)"
    what = "samples of the thread holding the GIL" if gil else "samples of threads py-spy saw as active"
    lines = [f"  {total} {what}"]
    lines.append(
        "  busiest threads: " + ", ".join(f"{name} {n * 100 / total:.0f}%" for name, n in threads.most_common(4))
    )
    lines.append("  self time (leaf frames):")
    lines += [f"    {n * 100 / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines.append("  inclusive time, glimpse frames:")
    project = [(name, n) for name, n in inclusive.most_common() if "glimpse/" in name and "glimpse/cli/" not in name]
    lines += [f"    {n * 100 / total:5.1f}%  {name}" for name, n in project[:top]]
    return "\n".join(lines)
