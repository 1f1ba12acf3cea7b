"""Logging setup for `glimpse serve`: plain text lines, or one JSON object per line (``log_format = json``).

The request middleware puts the request id and, once authenticated, the user and project into a context
variable, so any line logged while a request is handled carries them. Only fixed fields are written:
request headers (and so tokens) never reach a log line.
"""

from __future__ import annotations

import json
import logging
import sys
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
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(log_format: Literal["text", "json"], level: str) -> None:
    """Send every logger's records to stderr in the chosen format (replacing earlier handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
