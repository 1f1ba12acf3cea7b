"""Secrets Glimpse keeps at rest itself (a webhook's signing secret), sealed with Fernet keys from the settings
or, when none is configured, with a key made once in the data directory.

A :class:`SecretBox` seals with its first key and opens with any of them (``cryptography``'s ``MultiFernet``),
so an operator rotates by putting a new key first and keeping the old one until :meth:`SecretBox.rotate` (or
the next seal of each secret) no longer needs it. ``cryptography`` loads on first use, not at start-up.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.fernet import Fernet, MultiFernet

KEY_BYTES = 32
SEALED_PREFIX = "gAAAAA"  # every Fernet token (version byte 0x80 and a timestamp) starts so


class SecretUnreadable(Exception):
    """A sealed secret that none of the configured keys opens (the key was changed without keeping the old)."""


def check_key(key: bytes) -> None:
    """What Fernet checks of its key: 32 bytes, url-safe base64 (ValueError otherwise, at start-up)."""
    try:
        raw = base64.urlsafe_b64decode(key)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ValueError("Fernet key must be 32 url-safe base64-encoded bytes.")


def shared_key(path: Path) -> bytes:
    """The Fernet key in ``path``, made on first use (0600). Every process of one server reads the same key:
    the first to link its new file into place wins, the others read that one."""
    with contextlib.suppress(FileNotFoundError):
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(base64.urlsafe_b64encode(os.urandom(KEY_BYTES)))  # a Fernet key
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes().strip()


def parse_keys(text: str) -> list[bytes]:
    """``key1, key2``: the keys of a setting (the first seals), each checked."""
    keys = [part.strip().encode() for part in text.split(",") if part.strip()]
    if not keys:
        raise ValueError("at least one Fernet key is needed")
    for key in keys:
        check_key(key)
    return keys


class SecretBox:
    """Seals and opens short secrets with Fernet (AES-128-CBC + HMAC-SHA256)."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one Fernet key is needed")
        for key in keys:
            check_key(key)
        self._keys = list(keys)
        self._fernet: MultiFernet | None = None
        self._first: Fernet | None = None

    @property
    def fernet(self) -> MultiFernet:
        if self._fernet is None:
            from cryptography.fernet import Fernet, MultiFernet

            self._fernet = MultiFernet([Fernet(key) for key in self._keys])
        return self._fernet

    def current(self, sealed: str) -> bool:
        """Whether ``sealed`` was sealed with the first key (else :meth:`rotate` would change it)."""
        from cryptography.fernet import Fernet, InvalidToken

        if self._first is None:
            self._first = Fernet(self._keys[0])
        try:
            self._first.decrypt(sealed.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True

    def seal(self, plain: str) -> str:
        return self.fernet.encrypt(plain.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self.fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as exc:
            raise SecretUnreadable("none of the configured keys opens this secret") from exc

    def rotate(self, sealed: str) -> str:
        """``sealed`` sealed again with the first key (opened with whichever key sealed it)."""
        from cryptography.fernet import InvalidToken

        try:
            return self.fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError) as exc:
            raise SecretUnreadable("none of the configured keys opens this secret") from exc


def is_sealed(stored: str) -> bool:
    return stored.startswith(SEALED_PREFIX)
