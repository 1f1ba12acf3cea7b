"""GET /metrics: the Prometheus exposition of this process's metrics (OpenMetrics when the scraper asks)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import services


async def show(request: Request) -> Response:
    body, content_type = services(request).metrics.render(request.headers.get("accept", ""))
    return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})
