"""Glare's quotas: ``max_artifact_number`` and ``max_uploaded_data`` (bytes), for every type of a project or,
as ``<quota>:<type name>``, for one type. -1 is no limit. The configured values apply to every project; a
project's own values (set through ``PUT /quotas``) replace them one by one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from glimpse.errors import BadRequest, Forbidden, OverLimit

COUNT = "max_artifact_number"
DATA = "max_uploaded_data"
QUOTAS = (COUNT, DATA)
UNLIMITED = -1
MAX_NAME = 255  # Glare's limit on project ids (and on quota names, which are shorter here: they name a type)
MAX_QUOTA_NAME = 64
_NAME = re.compile(r"^[^:]*:?[^:]*$")  # at most one ':'


def quota_name(quota: str, type_name: str | None = None) -> str:
    return quota if type_name is None else f"{quota}:{type_name}"


def is_quota_name(name: str) -> bool:
    """One of Glare's quotas, for all types or for one (the type need not be enabled)."""
    quota, _, type_name = name.partition(":")
    return quota in QUOTAS and (":" not in name or bool(type_name))


def configured(count: int, data: int, per_type: Mapping[str, tuple[int, int]]) -> dict[str, int]:
    """The configured quotas as Glare lists them: both global ones, and a type's where it has a limit."""
    quotas = {COUNT: count, DATA: data}
    for type_name, (type_count, type_data) in sorted(per_type.items()):
        if type_count != UNLIMITED:
            quotas[quota_name(COUNT, type_name)] = type_count
        if type_data != UNLIMITED:
            quotas[quota_name(DATA, type_name)] = type_data
    return quotas


def parse_quotas(body: Any) -> dict[str, dict[str, int]]:
    """``PUT /quotas``: ``[{"project_id": ..., "project_quotas": [{"quota_name": ..., "quota_value": ...}]}]``
    as ``{project: {name: value}}``; BadRequest for anything else."""
    values: dict[str, dict[str, int]] = {}
    for item in _array(body):
        project_id, quotas = _pair(item, "project_id", "project_quotas")
        if not isinstance(project_id, str) or not 1 <= len(project_id) <= MAX_NAME:
            raise BadRequest(f"project_id {_show(project_id)} must be a string of 1 to {MAX_NAME} characters")
        project = values.setdefault(project_id, {})
        for quota in _array(quotas):
            name, value = _pair(quota, "quota_name", "quota_value")
            if not isinstance(name, str) or not 1 <= len(name) <= MAX_QUOTA_NAME or not _NAME.match(name):
                raise BadRequest(
                    f"quota_name {_show(name)} must be a name of 1 to {MAX_QUOTA_NAME} characters with at most one ':'"
                )
            if not is_quota_name(name):
                raise BadRequest(
                    f"Unknown quota {name}: one of {COUNT}, {DATA}, {COUNT}:<type name>, {DATA}:<type name>"
                )
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadRequest(f"{_show(value)} is not of type 'integer'")
            if value < UNLIMITED:
                raise BadRequest(f"{value} is less than the minimum of {UNLIMITED}")
            project[name] = value
    return values


def _array(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise BadRequest(f"{_show(value)} is not of type 'array'")
    return value


def _pair(value: Any, first: str, second: str) -> tuple[Any, Any]:
    """An object's two required properties."""
    if not isinstance(value, dict):
        raise BadRequest(f"{_show(value)} is not of type 'object'")
    for required in (first, second):
        if required not in value:
            raise BadRequest(f"'{required}' is a required property")
    return value[first], value[second]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_count(limits: Mapping[str, int], counts: Mapping[str, int], type_name: str) -> None:
    """Forbidden (Glare's 403) when one more artifact of ``type_name`` would pass a limit; ``counts`` holds
    the project's artifacts by type."""
    total = sum(counts.values())
    limit = limits.get(COUNT, UNLIMITED)
    if limit != UNLIMITED and total >= limit:
        raise Forbidden(
            f"Can't create artifact because of global quota limit is {limit} artifacts. You have {total} artifact(s)."
        )
    limit = limits.get(quota_name(COUNT, type_name), UNLIMITED)
    of_type = counts.get(type_name, 0)
    if limit != UNLIMITED and of_type >= limit:
        raise Forbidden(
            f"Can't create artifact because of quota limit for artifact type '{type_name}' is {limit} "
            f"artifacts. You have {of_type} artifact(s) of this type."
        )


def check_data(
    project_id: str, limits: Mapping[str, int], usage: Mapping[str, int], requested: Mapping[str, int]
) -> None:
    """OverLimit (Glare's 413) when bytes in use plus those requested would pass a ``max_uploaded_data``
    quota; the global one is looked at first."""
    for name in sorted(requested, key=lambda name: ":" in name):
        limit = limits.get(name, UNLIMITED)
        if limit == UNLIMITED:
            continue
        used, amount = usage.get(name, 0), requested[name]
        if used + amount <= limit:
            continue
        _, _, type_name = name.partition(":")
        if type_name:
            message = (
                f"Can't upload {amount} byte(s) because of quota limit for artifact type '{type_name}': "
                f"{limit}. You have {used} bytes uploaded for this type."
            )
        else:
            message = (
                f"Can't upload {amount} byte(s) because of global quota limit: {limit}. You have {used} bytes uploaded."
            )
        raise OverLimit(message, resource=name, limit=limit, usage=used, requested=amount)
