"""What the settings tests share."""

from __future__ import annotations

from pathlib import Path


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "glimpse.conf"
    path.write_text(text)
    return path
