"""The validated-token cache behind the Keystone authenticator: hits, time to live, expiry, LRU bound, one
Keystone call for concurrent requests."""

from __future__ import annotations

import asyncio

import pytest

from glimpse.context import RequestContext
from glimpse.errors import Unauthorized
from tests.unit.auth.keystone.support import NOW, Harness, run, token_body


# -- cache --------------------------------------------------------------------------------------------------
def test_second_request_is_a_cache_hit(h: Harness) -> None:
    h.keystone.tokens["tok"] = token_body()
    first, second = h.authenticate("tok"), h.authenticate("tok")
    assert first == second
    assert len(h.keystone.calls) == 1
    assert (h.count("keystone", "valid"), h.count("cache", "valid")) == (1, 1)


def test_cache_keeps_a_token_for_token_cache_time() -> None:
    h = Harness(token_cache_time=60)
    h.keystone.tokens["tok"] = token_body()
    h.authenticate("tok")
    h.clock.now += 59
    h.authenticate("tok")
    assert len(h.keystone.calls) == 1
    h.clock.now += 2
    h.authenticate("tok")
    assert len(h.keystone.calls) == 2


def test_cache_never_outlives_the_token(h: Harness) -> None:
    h.keystone.tokens["tok"] = token_body(expires=NOW + 10)  # token_cache_time is 300
    h.authenticate("tok")
    h.clock.now += 9
    h.authenticate("tok")
    assert len(h.keystone.calls) == 1
    h.clock.now += 2
    del h.keystone.tokens["tok"]  # Keystone no longer accepts it either
    with pytest.raises(Unauthorized):
        h.authenticate("tok")
    assert len(h.keystone.calls) == 2


def test_zero_cache_time_always_asks_keystone() -> None:
    h = Harness(token_cache_time=0)
    h.keystone.tokens["tok"] = token_body()
    h.authenticate("tok")
    h.authenticate("tok")
    assert len(h.keystone.calls) == 2
    assert len(h.cache) == 0


def test_invalid_tokens_are_not_cached(h: Harness) -> None:
    for _ in range(2):
        with pytest.raises(Unauthorized):
            h.authenticate("bogus")
    assert len(h.keystone.calls) == 2


def test_cache_is_bounded_lru() -> None:
    h = Harness(cache_size=2)
    for name in ("a", "b", "c"):
        h.keystone.tokens[name] = token_body(user=name)
    h.authenticate("a")
    h.authenticate("b")
    h.authenticate("a")  # a is now the most recent
    h.authenticate("c")  # evicts b
    assert len(h.cache) == 2
    calls = len(h.keystone.calls)
    h.authenticate("a")
    h.authenticate("c")
    assert len(h.keystone.calls) == calls
    h.authenticate("b")
    assert len(h.keystone.calls) == calls + 1


def test_concurrent_requests_share_one_keystone_call(h: Harness) -> None:
    h.keystone.tokens["tok"] = token_body()
    h.keystone.delay = 0.2

    async def many() -> list[RequestContext]:
        return await asyncio.gather(*(h.auth.authenticate({"x-auth-token": "tok"}) for _ in range(20)))

    results = run(many())
    assert {ctx.user_id for ctx in results} == {"u1"}
    assert len(h.keystone.calls) == 1
