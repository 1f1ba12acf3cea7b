"""What the `glimpse` command tests share: the environment that points a command at the test's database."""

from __future__ import annotations

import pytest

from glimpse.settings import Settings


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return {
        "GLIMPSE_DATA_DIR": str(settings.data_dir),
        "GLIMPSE_DATABASE_URL": settings.database_url.get_secret_value(),
        "GLIMPSE_AUTH": "noauth",
        "GLIMPSE_CONFIG": "",
    }
