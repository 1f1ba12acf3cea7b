"""glimpse.container: what wiring the services on the embedded defaults costs a server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# optional features' libraries, loaded when the feature is first used (each adds megabytes to every server)
LAZY = ("castellan", "barbicanclient", "cryptography", "tuf", "securesystemslib")


def test_wiring_the_services_loads_no_optional_feature_library(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from glimpse.app import create_app\n"
        "from glimpse.settings import load_settings\n"
        f"settings = load_settings(env={{'GLIMPSE_AUTH': 'noauth', 'GLIMPSE_DATA_DIR': {str(tmp_path)!r}}})\n"
        "create_app(settings)\n"
        f"print(sorted(m for m in {LAZY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
