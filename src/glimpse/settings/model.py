"""The one settings object: every group of fields together, the defaults filled in from each other."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, model_validator

from glimpse.settings.artifacts import ArtifactGroup, ArtifactLimitGroup
from glimpse.settings.audit import AuditGroup
from glimpse.settings.auth import AuthGroup
from glimpse.settings.cache import CacheGroup
from glimpse.settings.catalog import CatalogGroup
from glimpse.settings.dashboard import DashboardGroup
from glimpse.settings.database import DatabaseGroup
from glimpse.settings.events import EventGroup
from glimpse.settings.images import DataPathGroup, ImageGroup
from glimpse.settings.imports import ImportGroup
from glimpse.settings.masking import SecretUrl, _printable, _secret_values
from glimpse.settings.policy import PolicyGroup, PropertyProtectionGroup
from glimpse.settings.quotas import QuotaGroup
from glimpse.settings.server import ServerGroup
from glimpse.settings.stores import FilesystemStoreOptions, StoreGroup, StoreSettings
from glimpse.settings.trust import TrustGroup


# pydantic takes the fields of the last base first: the groups are listed from last to first, so the fields keep
# the order they are printed in (`glimpse settings show`) and read in
class Settings(
    DashboardGroup,
    DataPathGroup,
    AuditGroup,
    EventGroup,
    TrustGroup,
    PropertyProtectionGroup,
    ArtifactLimitGroup,
    CatalogGroup,
    ArtifactGroup,
    PolicyGroup,
    ImageGroup,
    QuotaGroup,
    StoreGroup,
    AuthGroup,
    DatabaseGroup,
    CacheGroup,
    ImportGroup,
    ServerGroup,
):
    """Every option, one group of fields per concern (each group in the module of its concern)."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        data_dir = self.data_dir.expanduser()
        object.__setattr__(self, "data_dir", data_dir)
        if not self.database_url.get_secret_value():
            object.__setattr__(self, "database_url", SecretUrl(f"sqlite:///{data_dir / 'glimpse.db'}"))
        if self.staging_dir is None:
            object.__setattr__(self, "staging_dir", data_dir / "staging")
        if self.token_file is None:
            object.__setattr__(self, "token_file", data_dir / "tokens.json")
        stores = dict(self.stores) or {"local": StoreSettings(id="local", type="file")}
        for name, store in stores.items():
            if isinstance(store.options, FilesystemStoreOptions) and store.options.filesystem_store_datadir is None:
                options = store.options.model_copy(update={"filesystem_store_datadir": data_dir / "stores" / name})
                stores[name] = store.model_copy(update={"options": options})
        object.__setattr__(self, "stores", stores)
        if not self.default_backend:
            object.__setattr__(self, "default_backend", next(iter(stores)))
        if self.default_backend not in stores:
            raise ValueError(f"default_backend {self.default_backend!r} is not in enabled_backends")
        self._check_catalog_remotes()
        self._check_replica()
        if self.auth == "keystone" and (missing := self.keystone_authtoken.missing()):
            raise ValueError(f"auth = keystone needs [keystone_authtoken] {', '.join(missing)}")
        self._check_at_rest(stores)
        return self

    def _check_at_rest(self, stores: dict[str, StoreSettings]) -> None:
        """Encryption at rest reads its keys from Barbican as the service user of [keystone_authtoken]."""
        keyed = [name for name, store in stores.items() if store.at_rest_keys]
        if not keyed:
            return
        if self.key_manager_backend == "none":
            raise ValueError(f"store {keyed[0]!r} encrypts at rest: [key_manager] backend cannot be none")
        if missing := self.keystone_authtoken.missing():
            raise ValueError(
                f"store {keyed[0]!r} encrypts at rest with a key Glimpse's service user reads: "
                f"[keystone_authtoken] needs {', '.join(missing)}"
            )

    def masked(self) -> dict[str, Any]:
        """A printable view (JSON-ready): secrets are ``***``, the passwords inside URLs too."""
        printable: dict[str, Any] = _printable(self.model_dump())
        return printable

    def secrets(self) -> list[str]:
        """Every secret value configured here (longest first), for the log filter to mask."""
        return sorted(set(_secret_values(self)), key=len, reverse=True)
