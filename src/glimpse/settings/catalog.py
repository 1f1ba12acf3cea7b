"""The application catalog (docs/catalog.md): the catalog this server publishes, and the remote catalogs it
subscribes to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field

from glimpse.settings.sources import Env, Ini


class CatalogGroup(BaseModel):
    """Settings' fields for the application catalog."""

    # the application catalog (docs/catalog.md): a catalog directory this server publishes under
    # /catalog/v1/repository, and the remote catalogs it subscribes to (name=https URL; name=trusted root.json)
    catalog_serve_dir: Annotated[Path | None, Ini("catalog", "serve_dir"), Env("GLIMPSE_CATALOG_SERVE_DIR")] = None
    catalog_remotes: Annotated[dict[str, str], Ini("catalog", "remotes"), Env("GLIMPSE_CATALOG_REMOTES")] = Field(
        default_factory=dict
    )
    catalog_trusted_roots: Annotated[
        dict[str, str], Ini("catalog", "trusted_roots"), Env("GLIMPSE_CATALOG_TRUSTED_ROOTS")
    ] = Field(default_factory=dict)
    catalog_refresh_interval: Annotated[float, Ini("catalog", "refresh_interval")] = Field(default=3600.0, gt=0)
    # tests only: a local CA bundle instead of the system's, and hosts (e.g. 127.0.0.1) the SSRF guard lets through
    catalog_test_ca_file: Annotated[
        Path | None, Ini("catalog", "test_ca_file"), Env("GLIMPSE_CATALOG_TEST_CA_FILE")
    ] = None
    catalog_allowed_hosts: Annotated[
        list[str], Ini("catalog", "allowed_hosts"), Env("GLIMPSE_CATALOG_ALLOWED_HOSTS")
    ] = Field(default_factory=list)

    def _check_catalog_remotes(self) -> None:
        """Every remote catalog is https and has a trusted root (called by ``Settings``' validation)."""
        for name, url in self.catalog_remotes.items():
            if not url.lower().startswith("https://"):
                raise ValueError(f"catalog remote {name!r}: only https:// catalogs are accepted")
            if name not in self.catalog_trusted_roots:
                raise ValueError(f"catalog remote {name!r} needs a trusted root.json in [catalog] trusted_roots")
