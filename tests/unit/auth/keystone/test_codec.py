"""Token cache keys and shared-cache entries: digests, never tokens; signed or encrypted entries refuse forgeries."""

from __future__ import annotations

import pytest

from glimpse.auth.keystone import Codec, TokenInfo
from tests.unit.auth.keystone.support import NOW


def test_cache_keys_are_digests_never_tokens() -> None:
    plain, keyed = Codec(), Codec("none", "s3cret")
    assert "tok" not in plain.key("tok")
    assert len(plain.key("tok")) == 64
    assert keyed.key("tok") != plain.key("tok")
    assert keyed.key("tok") == Codec("mac", "s3cret").key("tok")


@pytest.mark.parametrize("strategy", ["none", "mac", "encrypt"])
def test_codec_round_trip(strategy: str) -> None:
    codec = Codec(strategy, "s3cret" if strategy != "none" else None)
    info = TokenInfo("u", "p", None, frozenset({"reader"}), None, NOW)
    encoded = codec.encode(info)
    assert codec.decode(encoded) == info
    if strategy == "encrypt":
        assert b"reader" not in encoded


@pytest.mark.parametrize("strategy", ["mac", "encrypt"])
def test_codec_refuses_forged_entries(strategy: str) -> None:
    codec = Codec(strategy, "s3cret")
    forged = TokenInfo("u", "p", None, frozenset({"admin"}), None, NOW)
    with pytest.raises(ValueError, match=r"signature|decrypt"):
        codec.decode(forged.to_json())
    with pytest.raises(ValueError, match=r"signature|decrypt"):
        codec.decode(Codec(strategy, "other").encode(forged))
