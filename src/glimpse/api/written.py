"""The ``glimpse-written`` cookie: read-your-writes across API processes and nodes with a read replica.

A response to a request that changed something carries where the change ends in the primary's log (an
opaque hexadecimal position, ``context.Caller.wrote``); a client that keeps cookies (keystoneauth's and
glanceclient's sessions, openstacksdk, browsers) sends it back, and the process its next request reaches
reads for it from the replica only once the replica has replayed that far. Within one process the position
is also remembered by caller, cookie or not. The value is only a lower bound on freshness: a client that
forges a larger one sends its own reads to the primary, nothing more.
"""

from __future__ import annotations

import re
from typing import Final

from glimpse.context import Caller

COOKIE: Final = "glimpse-written"
MAX_AGE: Final = 300  # seconds: a replica that lags longer is bounded by [database] replica_max_lag instead
_VALUE = re.compile(rf"(?:^|;)\s*{COOKIE}=([0-9a-f]{{1,16}})\s*(?:;|$)")


def caller_of(key: str, cookie_header: str | None) -> Caller:
    """The request's caller, with the position its ``Cookie`` header brought back (0 when none or malformed)."""
    found = _VALUE.search(cookie_header) if cookie_header else None
    return Caller(key, seen=int(found.group(1), 16) if found else 0)


def set_cookie(caller: Caller | None) -> str | None:
    """The ``Set-Cookie`` value for a request whose changes end at ``caller.wrote``; None when it changed
    nothing (or no read replica is configured: then nothing is recorded)."""
    if caller is None or not caller.wrote:
        return None
    return f"{COOKIE}={max(caller.wrote, caller.seen):x}; Max-Age={MAX_AGE}; Path=/; HttpOnly; SameSite=Strict"
