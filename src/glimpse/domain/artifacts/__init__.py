"""Artifacts (the Glare API's domain): field kinds, types, the lifecycle and list queries. Pure Python."""
