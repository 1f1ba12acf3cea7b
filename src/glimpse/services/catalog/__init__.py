"""The application catalog: publishing signed catalogs (``publish``), subscribing to remote ones
(``subscribe``) and installing their assets (``install``). See docs/catalog.md."""
