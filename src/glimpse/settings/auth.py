"""Authentication: tokens, noauth or Keystone (``[keystone_authtoken]``, keystonemiddleware's names)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from glimpse.settings.masking import SecretUrl
from glimpse.settings.sources import Env, EnvPrefix, Ini, IniSection


class KeystoneAuthSettings(BaseModel):
    """``[keystone_authtoken]``, with keystonemiddleware's option names (``auth = keystone``)."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    # sent in ``WWW-Authenticate: Keystone uri="..."`` with a 401; auth_url when not set
    www_authenticate_uri: str = ""
    # the service user that validates tokens (keystoneauth1's password plugin)
    auth_url: str = ""
    auth_type: Literal["password", "v3password"] = "password"
    username: str = ""
    password: SecretStr | None = None
    project_name: str = ""
    user_domain_name: str | None = None
    user_domain_id: str | None = None
    project_domain_name: str | None = None
    project_domain_id: str | None = None
    # which identity endpoint of the service user's catalog validates tokens
    interface: str = "internal"
    region_name: str | None = None
    cafile: str | None = None
    insecure: bool = False
    http_connect_timeout: float = Field(default=10.0, gt=0)
    http_request_max_retries: int = Field(default=3, ge=0)
    # an X-Service-Token must carry one of these roles; keystonemiddleware defaults to not requiring it,
    # Glimpse to requiring it (a token without them is refused with 401 rather than trusted as a service)
    service_token_roles: list[str] = Field(default_factory=lambda: ["service"])
    service_token_roles_required: bool = True
    # validated tokens are cached this many seconds (never beyond their expiry); 0 turns caching off
    token_cache_time: int = Field(default=300, ge=0)
    token_cache_size: int = Field(default=10000, ge=1)  # entries of the in-process cache
    # a shared cache instead of the in-process one: redis:// (or rediss://, unix://) URLs, password secret
    memcached_servers: list[SecretUrl] = Field(default_factory=list)
    memcache_security_strategy: Literal["none", "mac", "encrypt"] = "none"
    memcache_secret_key: SecretStr | None = None

    @field_validator("memcache_security_strategy", mode="before")
    @classmethod
    def _lower_strategy(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> KeystoneAuthSettings:
        if self.memcache_security_strategy != "none" and self.memcache_secret_key is None:
            raise ValueError("[keystone_authtoken] memcache_security_strategy needs memcache_secret_key")
        if not self.www_authenticate_uri:
            object.__setattr__(self, "www_authenticate_uri", self.auth_url)
        return self

    def missing(self) -> list[str]:
        """The options keystone auth cannot work without that are not set."""
        needed = {"auth_url": self.auth_url, "username": self.username, "project_name": self.project_name}
        missing = [name for name, value in needed.items() if not value]
        return missing if self.password is not None else [*missing, "password"]


class AuthGroup(BaseModel):
    """Settings' fields choosing and configuring authentication."""

    # also [paste_deploy] flavor (keystone: keystone, anything else: noauth)
    auth: Annotated[Literal["tokens", "noauth", "keystone"], Ini("glimpse", "auth"), Env("GLIMPSE_AUTH")] = "tokens"
    token_file: Annotated[Path | None, Ini("glimpse", "token_file"), Env("GLIMPSE_TOKEN_FILE")] = None
    keystone_authtoken: Annotated[
        KeystoneAuthSettings, IniSection("keystone_authtoken"), EnvPrefix("GLIMPSE_KEYSTONE_")
    ] = Field(default_factory=KeystoneAuthSettings)
