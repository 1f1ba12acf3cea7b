"""glimpse.settings.server: the log format, from [glimpse], GLIMPSE_LOG_FORMAT or oslo.log's use_json."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from glimpse.settings import load_settings
from tests.unit.settings.support import write


# -- log format ------------------------------------------------------------------------------------------------
def test_log_format_defaults_to_text(tmp_path: Path) -> None:
    assert load_settings(env={}, data_dir=tmp_path).log_format == "text"


def test_log_format_from_environment_and_ini(tmp_path: Path) -> None:
    assert load_settings(env={"GLIMPSE_LOG_FORMAT": "json"}, data_dir=tmp_path).log_format == "json"
    ini = write(tmp_path, "[glimpse]\nlog_format = json\n")
    assert load_settings(ini, env={}, data_dir=tmp_path).log_format == "json"
    assert load_settings(ini, env={"GLIMPSE_LOG_FORMAT": "text"}, data_dir=tmp_path).log_format == "text"


@pytest.mark.parametrize(("use_json", "expected"), [("true", "json"), ("True", "json"), ("false", "text")])
def test_log_format_from_oslo_use_json(tmp_path: Path, use_json: str, expected: str) -> None:
    ini = write(tmp_path, f"[DEFAULT]\nuse_json = {use_json}\n")
    assert load_settings(ini, env={}, data_dir=tmp_path).log_format == expected


@pytest.mark.parametrize("order", ["glimpse-first", "default-first"])
def test_log_format_wins_over_use_json(tmp_path: Path, order: str) -> None:
    sections = ["[glimpse]\nlog_format = text\n", "[DEFAULT]\nuse_json = true\n"]
    ini = write(tmp_path, "".join(sections if order == "glimpse-first" else reversed(sections)))
    assert load_settings(ini, env={}, data_dir=tmp_path).log_format == "text"


def test_unknown_log_format(tmp_path: Path) -> None:
    with pytest.raises(pydantic.ValidationError):
        load_settings(env={"GLIMPSE_LOG_FORMAT": "xml"}, data_dir=tmp_path)
