"""A published catalog served over real TLS on 127.0.0.1 (as https://localhost:<port>), and a subscriber's
settings trusting its first root and the test CA."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from glimpse.services.catalog.publish import CatalogRepository
from glimpse.settings import Settings, load_settings
from tests.tls import Certificates, make_certificates
from tests.webserver import serving_directory_tls


@dataclass
class Publisher:
    repo: CatalogRepository
    url: str
    certificates: Certificates
    files: Path

    @property
    def trusted_root(self) -> Path:
        return self.repo.metadata_dir / "1.root.json"

    def add(self, name: str, version: str, data: bytes, kind: str = "heat-template", **options: Any) -> None:
        path = self.files / f"{name}-{version}.bin"
        path.write_bytes(data)
        self.repo.add(path, kind=kind, name=name, version=version, **options)

    def environment(self, data_dir: Path, database_url: str) -> dict[str, str]:
        """The subscriber's settings as `glimpse` commands read them."""
        return {
            "GLIMPSE_DATA_DIR": str(data_dir),
            "GLIMPSE_DATABASE_URL": database_url,
            "GLIMPSE_AUTH": "noauth",
            "GLIMPSE_CONFIG": "",
            "GLIMPSE_CATALOG_REMOTES": f"pub={self.url}",
            "GLIMPSE_CATALOG_TRUSTED_ROOTS": f"pub={self.trusted_root}",
            "GLIMPSE_CATALOG_TEST_CA_FILE": str(self.certificates.ca),
            "GLIMPSE_CATALOG_ALLOWED_HOSTS": "localhost",
        }

    def subscriber(self, tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
        options: dict[str, Any] = {
            "data_dir": tmp_path / "subscriber",
            "database_url": database_url,
            "auth": "noauth",
            "worker_in_process": False,  # the tests refresh when they choose to
            "catalog_remotes": {"pub": self.url},
            "catalog_trusted_roots": {"pub": str(self.trusted_root)},
            "catalog_test_ca_file": self.certificates.ca,
            "catalog_allowed_hosts": ["localhost"],
        }
        return load_settings(env={}, **{**options, **overrides})


@pytest.fixture
def publisher(tmp_path: Path) -> Iterator[Publisher]:
    certificates = make_certificates(tmp_path, ["localhost"])
    repo = CatalogRepository(tmp_path / "catalog")
    repo.init()
    files = tmp_path / "files"
    files.mkdir()
    with serving_directory_tls(repo.dir / "repository", certificates.cert, certificates.key) as url:
        yield Publisher(repo, url, certificates, files)
