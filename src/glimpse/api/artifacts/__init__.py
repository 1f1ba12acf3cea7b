"""The artifacts API v1 (Glare's), served by its own ASGI app (``glimpse.app.create_artifacts_app``)."""
