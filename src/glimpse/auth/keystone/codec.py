"""Token cache keys (digests, never tokens) and shared-cache entries, signed or encrypted on request."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from glimpse.auth.keystone.identity import TokenInfo


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"glimpse-token-cache-" + purpose).derive(secret)


class Codec:
    """Cache keys from tokens, and (for a shared cache) entries as bytes, signed or encrypted on request."""

    def __init__(self, strategy: str = "none", secret: str | None = None) -> None:
        raw = secret.encode() if secret is not None else None
        self.strategy = strategy
        self._key_secret = _derive(raw, b"key") if raw is not None else None
        self._mac_secret = _derive(raw, b"mac") if raw is not None else b""
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(raw, b"encrypt"))) if raw is not None else None

    def key(self, token: str) -> str:
        if self._key_secret is None:
            return hashlib.sha256(token.encode()).hexdigest()
        return hmac.new(self._key_secret, token.encode(), hashlib.sha256).hexdigest()

    def encode(self, info: TokenInfo) -> bytes:
        data = info.to_json()
        if self.strategy == "encrypt":
            assert self._fernet is not None
            return self._fernet.encrypt(data)
        if self.strategy == "mac":
            return hmac.new(self._mac_secret, data, hashlib.sha256).hexdigest().encode() + b"." + data
        return data

    def decode(self, raw: bytes) -> TokenInfo:
        """The entry's identity; ValueError when it was not written with this strategy and secret."""
        if self.strategy == "encrypt":
            assert self._fernet is not None
            try:
                raw = self._fernet.decrypt(raw)
            except (InvalidToken, binascii.Error) as exc:
                raise ValueError("the entry does not decrypt") from exc
        elif self.strategy == "mac":
            mac, _, raw = raw.partition(b".")
            if not hmac.compare_digest(mac, hmac.new(self._mac_secret, raw, hashlib.sha256).hexdigest().encode()):
                raise ValueError("the entry's signature does not match")
        try:
            return TokenInfo.from_json(raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError("the entry is not a token") from exc
