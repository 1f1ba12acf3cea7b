"""glimpse.settings.artifacts: the artifacts API's options and quotas under Glare's names."""

from __future__ import annotations

from pathlib import Path

import pytest

from glimpse.settings import load_settings
from tests.unit.settings.support import write


def test_artifacts_options_with_glare_names(tmp_path: Path) -> None:
    ini = write(
        tmp_path,
        """
[DEFAULT]
enabled_artifact_types = images, sample_artifact
default_api_limit = 10
max_api_limit = 100
max_blob_size = 2048
[artifacts]
bind_host = 0.0.0.0
bind_port = 9595
mount = /artifact
""",
    )
    settings = load_settings(ini, env={}, data_dir=tmp_path)
    assert settings.enabled_artifact_types == ["images", "sample_artifact"]
    assert (settings.default_api_limit, settings.max_api_limit, settings.max_blob_size) == (10, 100, 2048)
    assert (settings.artifacts_host, settings.artifacts_port) == ("0.0.0.0", 9595)
    assert settings.artifacts_mount == "/artifact"
    defaults = load_settings(env={}, data_dir=tmp_path)
    assert (defaults.artifacts_port, defaults.artifacts_mount, defaults.max_blob_size) == (9494, "", -1)


def test_artifact_quotas_and_type_sections_with_glare_names(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ini = write(
        tmp_path,
        """
[DEFAULT]
max_artifact_number = 150
max_uploaded_data = 10000
delayed_delete = true
[artifact_type:images]
max_uploaded_data = 15000
max_artifact_number = 30
[artifact_type:heat_templates]
delayed_delete = false
json_schema = x
""",
    )
    settings = load_settings(ini, env={}, data_dir=tmp_path)
    assert (settings.max_artifact_number, settings.max_uploaded_data, settings.delayed_delete) == (150, 10000, True)
    images, heat = settings.artifact_types["images"], settings.artifact_types["heat_templates"]
    assert (images.max_artifact_number, images.max_uploaded_data, images.delayed_delete) == (30, 15000, None)
    assert (heat.max_artifact_number, heat.max_uploaded_data, heat.delayed_delete) == (-1, -1, False)
    assert "ignoring unknown option [artifact_type:heat_templates] json_schema" in caplog.text
    defaults = load_settings(env={}, data_dir=tmp_path)
    assert (defaults.max_artifact_number, defaults.max_uploaded_data, defaults.artifact_types) == (-1, -1, {})
