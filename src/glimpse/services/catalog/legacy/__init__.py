"""Importing from a legacy catalog, an UNTRUSTED source: the retired OpenStack App Catalog's ``assets``
document, or a Murano package repository (formats in :mod:`glimpse.domain.legacy_catalog`).

Nothing a legacy catalog serves is signed, so nothing it serves can be verified. The import is therefore:

- refused by the default policy (``catalog:import_legacy`` is ``!``: nobody, administrators included; an
  operator who accepts the risk allows it in the policy file), and refused unless the caller says
  ``allow_unverified`` (the CLI's ``--allow-unverified``);
- fetched only through the SSRF-guarded fetcher with the catalog's fetch policy (https only, no private or
  link-local address unless ``[catalog] allowed_hosts`` lists it);
- planned whole before anything is made: every selected asset and what it depends on are resolved (a missing
  one or a cycle refuses the import), every file is downloaded and, where the source listed an MD5, compared
  with it (a mismatch refuses the import: the file is not even what the source listed). A matching MD5
  proves nothing and is never a pin: it is recorded as ``md5:<hex>``, no hash as ``none``;
- recorded as unverified: images and artifacts carry ``catalog_provenance=unverified``, ``catalog_source``,
  ``catalog_asset``, ``catalog_version`` and ``catalog_legacy_hash``, and never ``catalog_digest`` or
  ``catalog_signer``; nothing goes into ``catalog_installs``, so a verified install never takes an unverified
  copy for "already installed";
- all or nothing: on any failure what this run made is deleted again.

The package: ``source`` (reading a legacy catalog, downloads, Murano manifests), ``items`` (what an asset or a
package becomes), ``service`` (:class:`LegacyImportService`: admission, the plan, making it all or nothing).
Import from here.
"""

from __future__ import annotations

from glimpse.services.catalog.legacy.service import RULE, LegacyImportRefused, LegacyImportService, LegacyReport
from glimpse.services.catalog.legacy.source import Fetched, read_package_manifest

__all__ = ["RULE", "Fetched", "LegacyImportRefused", "LegacyImportService", "LegacyReport", "read_package_manifest"]
