"""Metadata definition persistence: namespaces and what they hold, resource types and associations.

A namespace is found by name; what it holds by the namespace's row id. Visibility is put into the list
query (``visible_to``); a single namespace is loaded by name and judged by the service, which must tell a
missing namespace from a hidden one only to the admin.

The package: one part of ``MetadefRepository`` per resource (``namespaces``, ``objects``, ``properties``, ``tags``,
``resource_types`` with the associations) over ``base``; ``repository`` puts them together. Import from here.
"""

from __future__ import annotations

from glimpse.db.repositories.metadefs.namespaces import NAMESPACE_FIELDS
from glimpse.db.repositories.metadefs.repository import MetadefRepository

__all__ = ["NAMESPACE_FIELDS", "MetadefRepository"]
