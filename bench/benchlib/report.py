"""The figures, their targets and Glance 33 references; the table; the baseline comparison."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Figure:
    key: str
    label: str
    unit: str
    target: float
    glance: float | None  # None: not measured on Glance
    higher_is_better: bool = True

    def meets(self, value: float) -> bool:
        return value >= self.target if self.higher_is_better else value < self.target

    @property
    def target_text(self) -> str:
        return f"{'>=' if self.higher_is_better else '<'} {_num(self.target)}"


FIGURES: tuple[Figure, ...] = (
    Figure("upload_mbps", "upload (PUT /file), curl", "MB/s", 450, 160),
    Figure("upload_server_cpu_s_per_gib", "  server CPU per GiB, curl", "CPU-s", 4.0, None, higher_is_better=False),
    Figure("upload_client_cpu_s_per_gib", "  client CPU per GiB, curl", "CPU-s", 1.0, None, higher_is_better=False),
    Figure("upload_httpx_mbps", "upload (PUT /file), httpx", "MB/s", 450, None),
    Figure(
        "upload_httpx_server_cpu_s_per_gib", "  server CPU per GiB, httpx", "CPU-s", 4.0, None, higher_is_better=False
    ),
    Figure(
        "upload_httpx_client_cpu_s_per_gib", "  client CPU per GiB, httpx", "CPU-s", 3.0, None, higher_is_better=False
    ),
    Figure("download_mbps", "download (GET /file)", "MB/s", 2000, 2100),
    Figure("creates_per_s", "creates, sequential", "/s", 500, 34),
    Figure("list_pages_per_s", "list pages (limit=100)", "pages/s", 150, 17),
    Figure("shows_per_s", "shows, sequential", "/s", 1000, 110),
    Figure("concurrent_rps", "shows, 16 concurrent", "req/s", 1500, 161),
    Figure("upload_peak_rss_mib", "server RSS peak in upload", "MiB", 150, 126, higher_is_better=False),
)


def _num(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or not reference:
        return "n/a"
    return f"{value / reference:.2f}x"


def load_baseline(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def table(figures: dict[str, float | None], baseline: dict[str, Any] | None) -> str:
    base_figures: dict[str, Any] = (baseline or {}).get("figures", {})
    header = ["figure", "measured", "unit", "target", "ok", "Glance 33", "vs Glance"]
    if baseline is not None:
        header.append("vs baseline")
    rows = [header]
    for fig in FIGURES:
        value = figures.get(fig.key)
        ok = "n/a" if value is None else ("yes" if fig.meets(value) else "NO")
        row = [fig.label, _num(value), fig.unit, fig.target_text, ok, _num(fig.glance), _ratio(value, fig.glance)]
        if baseline is not None:
            row.append(_ratio(value, base_figures.get(fig.key)))
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    right = {1, 3, 5, 6, 7}
    lines = []
    for index, row in enumerate(rows):
        cells = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("(ratios are measured / reference; for RSS lower is better, so < 1.00x is an improvement)")
    return "\n".join(lines)


def fmt(value: float | None) -> str:
    return _num(value)
