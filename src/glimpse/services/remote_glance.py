"""Reading an image from another region's Images API (Glance or Glimpse), for the glance-download import.

The remote endpoint is the ``image`` endpoint of the named region and interface in the Keystone catalog (as
Glance finds it), or one the operator names in ``glance_download_endpoints`` (which wins, and is how a
deployment without Keystone uses the method). Either way it is trusted the way a configured store is: no SSRF
filtering, but bounded time, and every failure reported as a remote error, when the task runs: an unknown
region or interface fails the task, as in Glance, not the request.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx

from glimpse.errors import BadRequest
from glimpse.services.fetch import RemoteFetchError
from glimpse.settings import Settings

# a Keystone session (keystoneauth1) signed in as Glimpse's service user, made when first needed
SessionFactory = Callable[[], Any]


HELD_TOKENS = 1000  # callers' tokens kept for tasks another process may run instead (then never picked up)


class RegionCatalog:
    """Where another region's image service is, and the token to read it with: as in Glance, the caller's
    own token when this process runs the task it asked for (kept in memory only, never stored), else
    ``glance_download_token``, else the service user's."""

    def __init__(self, settings: Settings, session_factory: SessionFactory | None) -> None:
        self.settings = settings
        self._factory = session_factory
        self._session: Any = None
        self._tokens: OrderedDict[str, str] = OrderedDict()

    def hold_token(self, task_id: str, token: str) -> None:
        self._tokens[task_id] = token
        while len(self._tokens) > HELD_TOKENS:
            self._tokens.popitem(last=False)

    @property
    def available(self) -> bool:
        return bool(self.settings.glance_download_endpoints) or self._factory is not None

    def _keystone(self) -> Any:
        if self._session is None:
            assert self._factory is not None
            self._session = self._factory()
        return self._session

    async def remote(self, region: str, interface: str, task_id: str = "") -> RemoteImages:
        configured = self.settings.glance_download_endpoints.get(region)
        token = self.settings.glance_download_token
        secret = self._tokens.pop(task_id, None) or (token.get_secret_value() if token is not None else None)
        if configured is not None and (self._factory is None or secret is not None):
            return RemoteImages(configured, secret)
        if self._factory is None:
            raise RemoteFetchError(f"{interface} glance endpoint not found for region {region}")

        def look_up() -> tuple[str | None, str | None]:
            keystone = self._keystone()
            url = configured or keystone.get_endpoint(service_type="image", region_name=region, interface=interface)
            return url, secret or keystone.get_token()

        try:
            url, found_token = await anyio.to_thread.run_sync(look_up)
        except Exception as exc:  # keystoneauth's errors: no such interface, Keystone unreachable
            raise RemoteFetchError(f"{interface} glance endpoint not found for region {region}: {exc}") from exc
        if not url:
            raise RemoteFetchError(f"{interface} glance endpoint not found for region {region}")
        return RemoteImages(url, found_token)

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
