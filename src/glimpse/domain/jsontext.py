"""Compact JSON text for what the events path writes and reads many times per change: the outbox's payloads,
the notifications' bodies (each topic's message and its ``messagingv2`` envelope) and the webhooks' CloudEvents.

orjson (a well-kept Rust extension, also used by FastAPI and others) encodes and decodes these payloads four to
five times faster than the standard library; the drain encodes each event three to five times. Its text is
the standard library's with ``separators=(",", ":")`` and ``ensure_ascii=False``, except for the spelling of some
floats (``1e16`` for ``1e+16``): the same values to any JSON reader. What orjson refuses (an integer beyond
64 bits, a value it does not know) is encoded by the standard library instead, so nothing that encoded before
fails now.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    """``value`` as compact JSON text (UTF-8 characters as they are, no spaces)."""
    try:
        return orjson.dumps(value, option=_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError: an integer over 64 bits, a type orjson does not encode
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | bytes) -> Any:
    """The value of JSON ``text``."""
    return orjson.loads(text)
