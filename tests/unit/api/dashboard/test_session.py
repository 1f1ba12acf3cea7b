"""The dashboard's session cookie: sealed (encrypted and signed), expiring, and its key shared by every process."""

from __future__ import annotations

import base64
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from glimpse.api.dashboard.session import SessionCodec, new_session
from glimpse.keys.local import shared_key


def codec(ttl: int = 3600) -> SessionCodec:
    return SessionCodec(Fernet.generate_key(), ttl, secure=True)


def test_a_sealed_session_opens_to_itself_and_hides_its_token() -> None:
    sessions = codec()
    session = new_session({"x-auth-token": "very-secret-token"}, user="alice", project="alpha")
    sealed = sessions.seal(session)
    assert "very-secret-token" not in sealed
    assert "alice" not in sealed
    assert sessions.open(sealed) == session
    assert session.signed_in
    assert not new_session().signed_in


def test_forged_tampered_expired_or_garbage_values_open_to_nothing() -> None:
    sessions = codec(ttl=60)
    sealed = sessions.seal(new_session({"x-auth-token": "t"}))
    assert codec().open(sealed) is None  # another key
    assert sessions.open(sealed[:-4] + "AAAA") is None
    assert sessions.open(sessions.seal(new_session({"x-auth-token": "t"}), at=int(time.time()) - 61)) is None
    for junk in ("", "not-a-cookie", "gAAAAA"):
        assert sessions.open(junk) is None


def test_csrf_tokens_are_random_and_compared_exactly() -> None:
    one, two = new_session(), new_session()
    assert one.csrf != two.csrf
    assert len(one.csrf) >= 40
    assert one.csrf_matches(one.csrf)
    assert not one.csrf_matches(two.csrf)
    assert not one.csrf_matches("")
    assert not one.csrf_matches(None)


def test_the_cookie_is_http_only_same_site_and_secure() -> None:
    cookie = codec().cookie(new_session())
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "lax"
    assert cookie["secure"] is True
    assert cookie["path"] == "/dashboard"


def test_every_process_gets_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "state" / "dashboard.key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: shared_key(path), range(16)))
    assert len(keys) == 1
    Fernet(keys.pop())  # a valid Fernet key
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["dashboard.key"]  # no temporary file left


def test_a_key_fernet_would_refuse_is_refused_when_the_codec_is_made() -> None:
    for key in (b"", b"not base64 at all!", base64.urlsafe_b64encode(b"x" * 31), base64.urlsafe_b64encode(b"x" * 33)):
        with pytest.raises(ValueError, match="32 url-safe base64-encoded bytes") as refused:
            SessionCodec(key, 60, secure=True)
        with pytest.raises(ValueError, match="Fernet key") as fernet:
            Fernet(key)
        assert str(refused.value) == str(fernet.value)
