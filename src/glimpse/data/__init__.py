"""The data pipeline: small composable stages chained in ``pipeline.run`` (see that module)."""
