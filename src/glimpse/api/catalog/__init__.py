"""/catalog/v1: browsing, searching and installing the subscribed catalogs' assets (docs/catalog.md)."""
