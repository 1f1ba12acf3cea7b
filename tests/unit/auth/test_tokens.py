"""glimpse.auth.tokens: the static token file that stores only SHA-256 digests."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from glimpse.auth import Authenticator, build_authenticator
from glimpse.auth.tokens import TokenFileAuth, add_token, ensure_admin_token, load_tokens
from glimpse.context import RequestContext
from glimpse.errors import Unauthorized
from glimpse.settings import load_settings


def authenticate(auth: Authenticator, headers: dict[str, str]) -> RequestContext:
    return asyncio.run(auth.authenticate(headers))


def digest(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def test_ensure_admin_token_creates_the_file_once(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "tokens.json"
    token = ensure_admin_token(path)
    assert token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_text()
    assert token not in content
    assert json.loads(content) == {
        "tokens": {digest(token): {"user_id": "admin", "project_id": "admin", "roles": ["admin", "member", "reader"]}}
    }
    assert ensure_admin_token(path) is None
    assert path.read_text() == content


def test_admin_token_authenticates(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    token = ensure_admin_token(path)
    assert token is not None
    ctx = authenticate(TokenFileAuth(path), {"x-auth-token": token})
    assert (ctx.user_id, ctx.project_id) == ("admin", "admin")
    assert ctx.roles == frozenset({"admin", "member", "reader"})
    assert ctx.is_admin
    assert ctx.auth_method == "tokens"


def test_add_token(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    first = add_token(path, "alice", "alpha", ["member", "reader"])
    second = add_token(path, "bob", "beta", ["reader"])
    assert first != second
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert set(data["tokens"]) == {digest(first), digest(second)}
    assert first not in path.read_text()
    assert not path.with_suffix(".tmp").exists()
    auth = TokenFileAuth(path)
    assert authenticate(auth, {"x-auth-token": first}).project_id == "alpha"
    bob = authenticate(auth, {"x-auth-token": second})
    assert (bob.user_id, bob.project_id, bob.roles) == ("bob", "beta", frozenset({"reader"}))
    assert not bob.is_admin


def test_add_token_keeps_existing_tokens(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    admin = ensure_admin_token(path)
    assert admin is not None
    add_token(path, "alice", "alpha", ["member"])
    assert authenticate(TokenFileAuth(path), {"x-auth-token": admin}).is_admin


def test_load_tokens_accepts_plain_and_digested_keys(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(
        json.dumps(
            {
                "tokens": {
                    "plain-token": {"user_id": "u1", "project_id": "p1", "roles": ["Member", "READER"]},
                    digest("hidden"): {"user_id": 2, "project_id": 3},
                }
            }
        )
    )
    entries = load_tokens(path)
    assert set(entries) == {digest("plain-token"), digest("hidden")}
    assert entries[digest("plain-token")].roles == frozenset({"member", "reader"})
    hidden = entries[digest("hidden")]
    assert (hidden.user_id, hidden.project_id, hidden.roles) == ("2", "3", frozenset())
    auth = TokenFileAuth(path)
    assert authenticate(auth, {"x-auth-token": "plain-token"}).user_id == "u1"
    assert authenticate(auth, {"x-auth-token": "hidden"}).project_id == "3"
    with pytest.raises(Unauthorized):
        authenticate(auth, {"x-auth-token": digest("hidden")})


def test_missing_token_is_unauthorized(tmp_path: Path) -> None:
    auth = TokenFileAuth(tmp_path / "tokens.json")
    for headers in ({}, {"x-auth-token": ""}):
        with pytest.raises(Unauthorized, match="no X-Auth-Token was given"):
            authenticate(auth, headers)


def test_unknown_token_is_unauthorized(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    ensure_admin_token(path)
    with pytest.raises(Unauthorized, match="the token is not valid"):
        authenticate(TokenFileAuth(path), {"x-auth-token": "guess"})


def test_missing_file_means_no_valid_token(tmp_path: Path) -> None:
    with pytest.raises(Unauthorized, match="the token is not valid"):
        authenticate(TokenFileAuth(tmp_path / "absent.json"), {"x-auth-token": "anything"})


def test_file_changes_are_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    auth = TokenFileAuth(path)
    first = add_token(path, "alice", "alpha", ["member"])
    assert authenticate(auth, {"x-auth-token": first}).user_id == "alice"
    second = add_token(path, "bob", "beta", ["member"])
    mtime = path.stat().st_mtime
    os.utime(path, (mtime + 5, mtime + 5))  # a coarse clock must not hide the change
    assert authenticate(auth, {"x-auth-token": second}).user_id == "bob"
    path.write_text(json.dumps({"tokens": {}}))
    os.utime(path, (mtime + 10, mtime + 10))
    with pytest.raises(Unauthorized):
        authenticate(auth, {"x-auth-token": first})


def test_challenge(tmp_path: Path) -> None:
    auth = TokenFileAuth(tmp_path / "tokens.json")
    assert auth.challenge == 'Token realm="glimpse"'
    assert auth.name == "tokens"


def test_built_from_settings(tmp_path: Path) -> None:
    settings = load_settings(env={}, data_dir=tmp_path, auth="tokens")
    auth = build_authenticator(settings)
    assert isinstance(auth, TokenFileAuth)
    assert auth.path == tmp_path / "tokens.json"
