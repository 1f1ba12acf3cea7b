"""Secrets in the settings: a URL whose password is secret, finding every configured secret, masking them
for printing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, SecretStr

MASK = "***"


def _url_password(url: str) -> str | None:
    """The password of ``scheme://user:password@host/...`` (as written: maybe %-encoded), else None."""
    _scheme, sep, rest = url.partition("//")
    creds, at, _host = rest.rpartition("@")
    if not sep or not at or ":" not in creds:
        return None
    return creds.split(":", 1)[1]


def mask_url(url: str) -> str:
    """``scheme://user:secret@host`` -> ``scheme://user:***@host``; anything else unchanged."""
    if _url_password(url) is None:
        return url
    scheme, _, rest = url.partition("//")
    creds, _, host = rest.rpartition("@")
    return f"{scheme}//{creds.split(':', 1)[0]}:{MASK}@{host}"


class SecretUrl(SecretStr):
    """A URL with a secret password (a database or Redis URL): ``str()`` and ``repr()`` show it with the
    password masked, ``get_secret_value()`` gives it whole."""

    def _display(self) -> str:
        return mask_url(self.get_secret_value())

    def password(self) -> str | None:
        return _url_password(self.get_secret_value())


def _secret_values(value: Any) -> Iterator[str]:
    """Every configured secret inside ``value`` (a settings model, a list, a dict): the whole of a
    SecretStr, the password of a SecretUrl, each also %-decoded."""
    if isinstance(value, SecretUrl):
        password = value.password()
        found = [password, unquote(password)] if password else []
    elif isinstance(value, SecretStr):
        found = [value.get_secret_value()]
    elif isinstance(value, BaseModel):
        found = [s for name in type(value).model_fields for s in _secret_values(getattr(value, name))]
    elif isinstance(value, list | tuple):
        found = [s for item in value for s in _secret_values(item)]
    elif isinstance(value, dict):
        found = [s for item in value.values() for s in _secret_values(item)]
    else:
        found = []
    yield from (secret for secret in found if secret)


def _printable(value: Any) -> Any:
    """A JSON-ready copy of ``model_dump()``'s output with every secret masked."""
    if isinstance(value, SecretUrl):
        return str(value)
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, dict):
        return {key: _printable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value
