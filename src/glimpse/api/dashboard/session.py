"""The dashboard's session: one cookie, encrypted and signed with Fernet (AES-CBC + HMAC, with its own expiry).

The cookie holds what authenticates the person to the services (the headers the configured authenticator reads:
a Keystone or Glimpse token, or noauth's identity headers), who they are for display, and the CSRF token every
form must send back. It is ``HttpOnly`` (no script reads it), ``SameSite=Lax`` and ``Secure`` unless the
settings turn that off for a development server on plain HTTP. Nothing of it is kept server-side, so any
process of a multi-worker server can read it; the key is shared through the settings or the data directory.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from glimpse.keys.local import check_key, shared_key
from glimpse.settings import Settings

if TYPE_CHECKING:  # cryptography (about 5 MiB of a server's RSS) loads with the first dashboard cookie
    from cryptography.fernet import Fernet

COOKIE = "glimpse_dashboard"
COOKIE_PATH = "/dashboard"


@dataclass(frozen=True, slots=True)
class Session:
    csrf: str
    headers: dict[str, str] = field(default_factory=dict)  # what the authenticator reads; empty: not signed in
    user: str = ""
    project: str = ""

    @property
    def signed_in(self) -> bool:
        return bool(self.headers)

    def csrf_matches(self, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(self.csrf.encode(), (sent or "").encode())


def new_session(headers: dict[str, str] | None = None, user: str = "", project: str = "") -> Session:
    return Session(csrf=secrets.token_urlsafe(32), headers=dict(headers or {}), user=user, project=project)


class SessionCodec:
    """Seals a Session into a cookie value and opens one (None when forged, tampered with or expired)."""

    def __init__(self, key: bytes, ttl: int, secure: bool) -> None:
        check_key(key)  # a bad key is refused at start, as Fernet(key) would
        self._key = key
        self._fernet: Fernet | None = None
        self.ttl = ttl
        self.secure = secure

    @property
    def fernet(self) -> Fernet:
        if self._fernet is None:
            from cryptography.fernet import Fernet

            self._fernet = Fernet(self._key)
        return self._fernet

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionCodec:
        if settings.dashboard_secret_key is not None:
            key = settings.dashboard_secret_key.get_secret_value().encode()
        else:
            key = shared_key(settings.data_dir / "dashboard.key")
        return cls(key, settings.dashboard_session_ttl, settings.dashboard_cookie_secure)

    def seal(self, session: Session, at: int | None = None) -> str:
        """The cookie value; ``at`` (seconds since the epoch) backdates it (tests of expiry)."""
        data = {"c": session.csrf, "h": session.headers, "u": session.user, "p": session.project}
        plain = json.dumps(data, separators=(",", ":")).encode()
        return (self.fernet.encrypt(plain) if at is None else self.fernet.encrypt_at_time(plain, at)).decode()

    def open(self, value: str | None) -> Session | None:
        if not value:
            return None
        from cryptography.fernet import InvalidToken

        try:
            data: Any = json.loads(self.fernet.decrypt(value.encode(), ttl=self.ttl))
            headers = {str(k): str(v) for k, v in dict(data["h"]).items()}
            return Session(csrf=str(data["c"]), headers=headers, user=str(data["u"]), project=str(data["p"]))
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None

    def cookie(self, session: Session) -> dict[str, Any]:
        """Keyword arguments of ``Response.set_cookie`` for this session."""
        return {
            "key": COOKIE,
            "value": self.seal(session),
            "max_age": self.ttl,
            "path": COOKIE_PATH,
            "secure": self.secure,
            "httponly": True,
            "samesite": "lax",
        }
