"""A static token file: token -> user, project and roles. The embedded default.

The file is JSON: ``{"tokens": {"<token>": {"user_id": ..., "project_id": ..., "roles": [...]}}}``.
Only SHA-256 digests of tokens may be stored instead of tokens (key ``"sha256:<hex>"``), which is what
``ensure_admin_token`` writes, so the file never holds a usable secret.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from glimpse.context import RequestContext
from glimpse.errors import Unauthorized


@dataclass(frozen=True, slots=True)
class TokenEntry:
    user_id: str
    project_id: str
    roles: frozenset[str]


def _new_token() -> str:
    """Hex, so a token never starts with '-' (which command-line parsers would take for an option)."""
    return "glimpse-" + secrets.token_hex(24)


def _digest(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def load_tokens(path: Path) -> dict[str, TokenEntry]:
    data = json.loads(path.read_text(encoding="utf-8"))
    entries: dict[str, TokenEntry] = {}
    for key, value in data.get("tokens", {}).items():
        entry = TokenEntry(
            user_id=str(value["user_id"]),
            project_id=str(value["project_id"]),
            roles=frozenset(str(role).lower() for role in value.get("roles", [])),
        )
        entries[key if key.startswith("sha256:") else _digest(key)] = entry
    return entries


def ensure_admin_token(path: Path) -> str | None:
    """Create the token file with one admin token if there is none; return the new token (shown once)."""
    if path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    token = _new_token()
    content = {
        "tokens": {_digest(token): {"user_id": "admin", "project_id": "admin", "roles": ["admin", "member", "reader"]}}
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(content, handle, indent=2)
    return token


def add_token(path: Path, user_id: str, project_id: str, roles: list[str]) -> str:
    """Add a token for a user to the file and return it (only its digest is stored)."""
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"tokens": {}}
    token = _new_token()
    data["tokens"][_digest(token)] = {"user_id": user_id, "project_id": project_id, "roles": roles}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.replace(tmp, path)
    return token


class TokenFileAuth:
    name = "tokens"
    challenge = 'Token realm="glimpse"'

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = 0.0
        self._entries: dict[str, TokenEntry] = {}

    def _entries_now(self) -> dict[str, TokenEntry]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return {}
        if mtime != self._mtime:
            self._entries = load_tokens(self.path)
            self._mtime = mtime
        return self._entries

    async def authenticate(self, headers: Mapping[str, str]) -> RequestContext:
        token = headers.get("x-auth-token")
        if not token:
            raise Unauthorized(
                "This server could not verify that you are authorized to access the document "
                "you requested: no X-Auth-Token was given."
            )
        # looked up by digest: timing reveals nothing about a valid token
        entry = self._entries_now().get(_digest(token))
        if entry is None:
            raise Unauthorized("The request you have made requires authentication: the token is not valid.")
        return RequestContext(
            user_id=entry.user_id, project_id=entry.project_id, roles=entry.roles, auth_method="tokens"
        )
