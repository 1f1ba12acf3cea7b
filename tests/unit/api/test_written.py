"""glimpse.api.written: the cookie that carries where a client's changes end to any API process."""

from __future__ import annotations

import pytest

from glimpse.api.written import COOKIE, MAX_AGE, caller_of, set_cookie
from glimpse.context import Caller


@pytest.mark.parametrize(
    ("header", "seen"),
    [
        (None, 0),
        ("", 0),
        (f"{COOKIE}=1f4", 0x1F4),
        (f"other=x; {COOKIE}=ff; session=abc", 0xFF),
        (f"{COOKIE}=ffffffffffffffff", 2**64 - 1),
        (f"{COOKIE}=1ffffffffffffffff", 0),  # longer than a log position
        (f"{COOKIE}=-1", 0),
        (f"{COOKIE}=zz", 0),
        (f"x{COOKIE}=ff", 0),  # another cookie's name
    ],
)
def test_the_position_a_client_brings_back(header: str | None, seen: int) -> None:
    assert caller_of("alice@alpha", header) == Caller("alice@alpha", seen=seen)


def test_a_request_that_changed_something_hands_its_position_back() -> None:
    assert set_cookie(None) is None
    assert set_cookie(Caller("alice@alpha", seen=5)) is None  # nothing changed: nothing to say
    cookie = set_cookie(Caller("alice@alpha", seen=0, wrote=0x2A))
    assert cookie == f"{COOKIE}=2a; Max-Age={MAX_AGE}; Path=/; HttpOnly; SameSite=Strict"
    # never less than what the client already had
    assert set_cookie(Caller("alice@alpha", seen=0x30, wrote=0x2A)) == cookie.replace("=2a;", "=30;")
