"""Logging setup for `glimpse serve`: plain text lines, or one JSON object per line (``log_format = json``).

The request middleware puts the request id and, once authenticated, the user and project into a context
variable, so any line logged while a request is handled carries them. Only fixed fields are written:
request headers (and so tokens) never reach a log line. ``SecretMask``, on every handler, replaces each
configured secret (``Settings.secrets()``: store keys, passwords, the passwords inside database and Redis
URLs) with ``***`` in the message, its arguments and the traceback, whoever logs it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s %(message)s"
# fields an access line passes with ``extra=``; the JSON formatter copies them when present
ACCESS_FIELDS: Final = ("method", "path", "status", "duration_ms")


@dataclass(frozen=True, slots=True)
class RequestLog:
    """Who and what the current request is, for log lines written while it is handled."""

    request_id: str
    user: str | None = None
    project: str | None = None


current_request: ContextVar[RequestLog | None] = ContextVar("glimpse_current_request", default=None)

MASK: Final = "***"


class SecretMask(logging.Filter):
    """Masks known secret values in every record that passes: the message with its arguments merged in, the
    formatted traceback and the stack. Put on a handler, it sees the records of every logger."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        known = {*self._secrets, *(secret for secret in secrets if secret)}
        self._secrets = tuple(sorted(known, key=len, reverse=True))  # a secret inside a longer one: longer first

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format: the handler reports it, with nothing merged in
            return True
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


_TRACEBACKS = logging.Formatter()


def mask_secrets(secrets: Iterable[str], logger: logging.Logger | None = None) -> SecretMask:
    """Mask ``secrets`` in everything the handlers of ``logger`` (default: the root logger) write, from now on:
    adds them to the handlers' SecretMask, putting one on a handler that has none. Returns the mask."""
    secrets = list(secrets)
    target = logger or logging.getLogger()
    mask: SecretMask | None = None
    for handler in target.handlers:
        found = next((f for f in handler.filters if isinstance(f, SecretMask)), None)
        if found is None:
            found = SecretMask()
            handler.addFilter(found)
        found.add(secrets)
        mask = mask or found
    return mask or SecretMask(secrets)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: timestamp (UTC, ISO 8601), level, logger, message, the request's id,
    user and project when known, the access fields when given, and the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request = current_request.get()
        request_id = getattr(record, "request_id", None) or (request.request_id if request else None)
        if request_id:
            entry["request_id"] = request_id
        for key in ("user", "project"):
            value = getattr(record, key, None) or (getattr(request, key) if request else None)
            if value:
                entry[key] = value
        for key in ACCESS_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_text:  # already formatted (and masked) by SecretMask
            entry["exception"] = record.exc_text
        elif record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(log_format: Literal["text", "json"], level: str, secrets: Iterable[str] = ()) -> SecretMask:
    """Send every logger's records to stderr in the chosen format (replacing earlier handlers), with
    ``secrets`` masked; returns the mask, for other handlers (uvicorn's) to use too."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    mask = SecretMask(secrets)
    handler.addFilter(mask)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return mask
