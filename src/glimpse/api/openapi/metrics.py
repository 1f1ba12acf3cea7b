"""``/metrics``: Prometheus figures, readable without a token."""

from __future__ import annotations

from typing import Any

from glimpse.services.schemas import Schemas


def components(schemas: Schemas) -> dict[str, Any]:
    return {}


def describe(schemas: Schemas) -> dict[str, Any]:
    text = {"schema": {"type": "string"}}
    return {
        "/metrics": {
            "get": {
                "operationId": "getMetrics",
                "security": [],
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition (OpenMetrics when the Accept header asks for it)",
                        "content": {"text/plain": text, "application/openmetrics-text": text},
                    }
                },
            }
        }
    }
