"""glimpse.settings.sources: each INI option and variable names one field, and is read from its section."""

from __future__ import annotations

from pathlib import Path

import pydantic

from glimpse.settings import Env, Ini, Settings, load_settings
from tests.unit.settings.support import write


# -- option names on the fields --------------------------------------------------------------------------------
def test_every_ini_option_and_variable_names_one_field() -> None:
    ini = [
        (m.section, m.option) for info in Settings.model_fields.values() for m in info.metadata if isinstance(m, Ini)
    ]
    env = [m.name for info in Settings.model_fields.values() for m in info.metadata if isinstance(m, Env)]
    assert len(ini) == len(set(ini))
    assert len(env) == len(set(env))
    assert all(name.startswith("GLIMPSE_") for name in env)
    assert ("DEFAULT", "image_size_cap") in ini
    assert "GLIMPSE_IMAGE_SIZE_CAP" in env


def test_each_marked_option_is_read_from_its_section(tmp_path: Path) -> None:
    """Every field with an Ini marker takes a value from that section and option."""
    samples = {int: "7", float: "7.5", bool: "false", str: "sha256"}
    for name, info in Settings.model_fields.items():
        for marker in (m for m in info.metadata if isinstance(m, Ini)):
            kind = info.annotation
            if kind not in samples or name == "default_backend":  # (must name a store: tested above)
                continue
            raw = "sha256" if name == "hashing_algorithm" else samples[kind]
            ini = write(tmp_path, f"[{marker.section}]\n{marker.option} = {raw}\n")
            value = getattr(load_settings(ini, env={}, data_dir=tmp_path), name)
            assert value == pydantic.TypeAdapter(kind).validate_python(raw), (marker, name)
