"""Reading the settings: built-in defaults, then an INI file with Glance's section and option names, then
``GLIMPSE_*`` environment variables, then explicit overrides.
"""

from __future__ import annotations

import configparser
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from glimpse.settings.artifacts import ARTIFACT_TYPE_SECTION, ArtifactTypeOptions
from glimpse.settings.model import Settings
from glimpse.settings.sources import (
    Env,
    EnvPrefix,
    Ini,
    IniOptions,
    IniSection,
    _coerce,
    _markers,
    _split_list,
    _unwrap,
)
from glimpse.settings.stores import STORE_OPTIONS

log = logging.getLogger("glimpse.settings")  # the package's name: what operators filter on


# -- reading the INI file and the environment ------------------------------------------------------------------
# (section, option) -> field, and the nested sections, from the fields' markers
_INI_FIELDS: dict[tuple[str, str], str] = {
    (marker.section, marker.option): name
    for name, info in Settings.model_fields.items()
    for marker in _markers(info, Ini)
}
_INI_OPTIONS: dict[str, str] = {
    marker.name: name for name, info in Settings.model_fields.items() for marker in _markers(info, IniOptions)
}
_INI_SECTIONS: dict[str, tuple[str, type[BaseModel]]] = {
    marker.name: (name, _unwrap(info.annotation)[0])
    for name, info in Settings.model_fields.items()
    for marker in _markers(info, IniSection)
}
# Options Glance has that we accept silently because they describe what we do anyway.
_KNOWN_ELSEWHERE = {
    ("DEFAULT", "enabled_backends"),
    ("DEFAULT", "debug"),
    ("paste_deploy", "flavor"),
    ("DEFAULT", "use_json"),
    ("glance_store", "filesystem_store_datadir"),
    ("DEFAULT", "image_cache_driver"),  # the cache table in the main database is the only driver
    ("DEFAULT", "image_cache_sqlite_db"),
}
_FLAVOR_AUTH = {"keystone": "keystone", "keystone+cachemanagement": "keystone", "": "noauth"}
_STORE_COMMON = ("store_description", "weight", "encrypt_at_rest", "encrypt_at_rest_key", "encrypt_at_rest_old_keys")


def _section_options(
    section: str, model: type[BaseModel], options: dict[str, str], path: Path, why: str = ""
) -> dict[str, Any]:
    """The options of a section that ``model`` declares (unknown ones are logged); an empty value: the default."""
    known = {}
    for option, raw in options.items():
        if option not in model.model_fields:
            log.warning("ignoring unknown option [%s] %s in %s%s", section, option, path, why)
        elif raw.strip():
            known[option] = _coerce(model.model_fields[option], raw)
    return known


def _store_options(section: str, kind: str, options: dict[str, str], path: Path) -> dict[str, str]:
    """The options of a store section that its driver's model declares (unknown ones are logged); an empty
    value stands for the default."""
    model = STORE_OPTIONS.get(kind)
    if model is None:  # the driver type is refused when the settings are validated
        return options
    return _section_options(section, model, options, path, f" (not a {kind} store option)")


def _read_ini(path: Path) -> dict[str, Any]:
    parser = configparser.ConfigParser(interpolation=None, default_section="__none__")
    with path.open(encoding="utf-8") as handle:
        parser.read_file(handle)
    values: dict[str, Any] = {}
    backends: dict[str, str] = {}
    if parser.has_option("DEFAULT", "enabled_backends"):
        for item in _split_list(parser.get("DEFAULT", "enabled_backends")):
            name, _, kind = item.partition(":")
            backends[name.strip()] = kind.strip() or "file"
    for section in parser.sections():
        if section.startswith(ARTIFACT_TYPE_SECTION):
            values.setdefault("artifact_types", {})[section[len(ARTIFACT_TYPE_SECTION) :]] = _section_options(
                section, ArtifactTypeOptions, dict(parser.items(section)), path
            )
            continue
        for option, raw in parser.items(section):
            key = (section, option)
            if key in _INI_FIELDS:
                name = _INI_FIELDS[key]
                values[name] = _coerce(Settings.model_fields[name], raw)
            elif section in _INI_OPTIONS:
                values.setdefault(_INI_OPTIONS[section], {})[option] = _split_list(raw)
            elif section in backends:  # the store driver's own options, read below
                continue
            elif section in _INI_SECTIONS and option in _INI_SECTIONS[section][1].model_fields:
                name, model = _INI_SECTIONS[section]
                values.setdefault(name, {})[option] = _coerce(model.model_fields[option], raw)
            elif key == ("paste_deploy", "flavor"):
                values["auth"] = _FLAVOR_AUTH.get(raw.strip(), "noauth")
            elif key == ("DEFAULT", "use_json"):  # oslo.log's switch; [glimpse] log_format wins when both are set
                values.setdefault("log_format", "json" if parser.getboolean(section, option) else "text")
            elif key not in _KNOWN_ELSEWHERE:
                log.warning("ignoring unknown option [%s] %s in %s", section, option, path)
    if not backends and parser.has_option("glance_store", "filesystem_store_datadir"):
        # single-store glance-api.conf: one filesystem store
        backends = {"file": "file"}
        values["default_backend"] = "file"
        parser.add_section("file")
        parser.set("file", "filesystem_store_datadir", parser.get("glance_store", "filesystem_store_datadir"))
    stores: dict[str, Any] = {}
    for name, kind in backends.items():
        options = dict(parser.items(name)) if parser.has_section(name) else {}
        common = {option: options.pop(option, "") for option in _STORE_COMMON}
        stores[name] = {
            "id": name,
            "type": kind,
            "description": common["store_description"],
            "weight": int(common["weight"] or "0"),
            "encrypt_at_rest": common["encrypt_at_rest"].strip().lower() in ("1", "true", "yes", "on"),
            "encrypt_at_rest_key": common["encrypt_at_rest_key"] or None,
            "encrypt_at_rest_old_keys": common["encrypt_at_rest_old_keys"],
            "options": _store_options(name, kind, options, path),
        }
    if stores:
        values["stores"] = stores
    # relative paths are looked up beside the INI file, as oslo.config finds them; like Glance, a
    # policy.yaml beside it is used when [oslo_policy] policy_file is not set
    for name in ("policy_file", "property_protection_file"):
        if name in values:  # an empty value switches the file off
            values[name] = path.parent / Path(values[name]).expanduser() if values[name].strip() else None
    if "policy_file" not in values and (path.parent / "policy.yaml").is_file():
        values["policy_file"] = path.parent / "policy.yaml"
    return values


def _read_env(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, info in Settings.model_fields.items():
        for marker in _markers(info, Env):
            raw = env.get(marker.name)
            if raw is not None and raw != "":
                values[name] = _coerce(info, raw)
        for prefix in _markers(info, EnvPrefix):  # GLIMPSE_KEYSTONE_AUTH_URL, GLIMPSE_KEYSTONE_PASSWORD, ...
            model: type[BaseModel] = _unwrap(info.annotation)[0]
            nested = {}
            for option, option_info in model.model_fields.items():
                raw = env.get(f"{prefix.prefix}{option.upper()}")
                if raw is not None and raw != "":
                    nested[option] = _coerce(option_info, raw)
            if nested:
                values[name] = nested
    raw_backends = env.get("GLIMPSE_ENABLED_BACKENDS")
    if raw_backends:
        stores: dict[str, Any] = {}
        for item in _split_list(raw_backends):
            name, _, kind = item.partition(":")
            stores[name] = {"id": name, "type": kind or "file"}
        values["stores"] = stores
    return values


def load_settings(config_file: Path | None = None, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from defaults, the INI file, the environment and explicit overrides."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    if config_file is None and env.get("GLIMPSE_CONFIG"):
        config_file = Path(env["GLIMPSE_CONFIG"])
    if config_file is not None:
        values.update(_read_ini(config_file))
    from_env = _read_env(env)
    for name in _INI_SECTIONS.values():  # a nested section: option by option over the file's
        if name[0] in from_env:
            from_env[name[0]] = {**values.get(name[0], {}), **from_env[name[0]]}
    values.update(from_env)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings.model_validate(values)
