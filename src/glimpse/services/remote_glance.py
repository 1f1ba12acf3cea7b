"""Reading an image from another region's Images API (Glance or Glimpse), for the glance-download import.

The remote endpoint is named by the operator (`glance_download_endpoints`), so it is trusted the way a
configured store is: no SSRF filtering, but bounded time, and every failure reported as a remote error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from glimpse.errors import BadRequest
from glimpse.services.fetch import RemoteFetchError

TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=10.0)
CHUNK = 1024 * 1024


class RemoteImages:
    def __init__(self, endpoint: str, token: str | None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.headers = {"X-Auth-Token": token} if token else {}

    async def show(self, image_id: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT, headers=self.headers, trust_env=False) as client:
                response = await client.get(f"{self.endpoint}/v2/images/{image_id}")
        except httpx.HTTPError as exc:
            raise RemoteFetchError(f"The remote image service at {self.endpoint} cannot be reached: {exc}") from exc
        if response.status_code == 404:
            raise BadRequest(f"Image {image_id} was not found in the remote region")
        if response.status_code != 200:
            raise RemoteFetchError(f"The remote image service answered {response.status_code} for image {image_id}")
        body: dict[str, Any] = response.json()
        return body

    async def data(self, image_id: str) -> AsyncIterator[bytes]:
        """The image's data, streamed; the connection is closed when the stream ends or is closed."""
        client = httpx.AsyncClient(timeout=TIMEOUT, headers=self.headers, trust_env=False)
        try:
            async with client.stream("GET", f"{self.endpoint}/v2/images/{image_id}/file") as response:
                if response.status_code != 200:
                    raise RemoteFetchError(
                        f"The remote image service answered {response.status_code} when downloading image {image_id}"
                    )
                async for chunk in response.aiter_raw(CHUNK):
                    yield chunk
        except httpx.HTTPError as exc:
            raise RemoteFetchError(f"Downloading image {image_id} from the remote region failed: {exc}") from exc
        finally:
            await client.aclose()
