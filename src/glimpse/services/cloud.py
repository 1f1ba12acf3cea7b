"""The signed-in person's cloud, for the dashboard's launches (``services/stacks.py`` through Heat,
``services/servers.py`` through Nova): openstacksdk over their own Keystone token and the endpoint of their own
catalog (``auth/catalog.py``), each call on a worker thread (openstacksdk is blocking), and the service's refusals
as Glimpse's errors (400, 401, 403, 404, 409 with the service's own message; the service or the identity service
out of reach, or no endpoint in the catalog, is the service's ``unavailable`` error, a 503)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from glimpse.context import RequestContext
from glimpse.errors import BadRequest, Conflict, Forbidden, GlimpseError, NotFound, Unauthorized
from glimpse.settings import Settings

if TYPE_CHECKING:  # openstacksdk (a second or so to import) loads with the first launch or listing
    from openstack.connection import Connection

# openstacksdk's Connection for the person of a context, made on a worker thread (tests pass their own)
CloudFactory = Callable[[RequestContext], "Connection"]


@dataclass(frozen=True, slots=True)
class CloudService:
    """What tells one service of the catalog from another: its catalog type (``orchestration``), its name in
    messages (``Heat``), what the person launches through it (``Stacks``), and its error when it is out of reach."""

    service_type: str
    label: str
    things: str
    unavailable: type[GlimpseError]


MARKER_TAG = "glimpse"
"""The tag every server and stack launched from Glimpse carries; Running Apps lists and acts by it."""


def launched(get: Callable[[], Any], missing: str) -> Any:
    """The resource ``get()`` returns when it carries :data:`MARKER_TAG`; NotFound(``missing``) when the cloud
    has no such resource or it was not launched from Glimpse (another project's is not found either)."""
    from openstack import exceptions as sdk_exc

    try:
        found = get()
    except sdk_exc.NotFoundException:
        found = None
    if found is None or MARKER_TAG not in (found.tags or []):
        raise NotFound(missing)
    return found


def sdk_error(exc: Exception, service: CloudService) -> GlimpseError:
    """openstacksdk's (and keystoneauth1's) failures as Glimpse's errors, the service's message kept; anything
    else is raised again."""
    from keystoneauth1 import exceptions as ks_exc
    from openstack import exceptions as sdk_exc

    if isinstance(exc, GlimpseError):
        return exc
    if isinstance(exc, sdk_exc.HttpException):
        message = f"{service.label}: {exc.details or exc.message}"
        status = exc.status_code or 0
        if status in (400, 413):
            return BadRequest(message)
        if status == 401:
            return Unauthorized("The session's token is no longer valid: sign in again.")
        if status == 403:
            return Forbidden(message)
        if status == 404:
            return NotFound(message)
        if status == 409:
            return Conflict(message)
        return service.unavailable(
            f"The {service.service_type} service failed ({status}): {exc.details or exc.message}"
        )
    if isinstance(exc, (sdk_exc.EndpointNotFound, ks_exc.EndpointNotFound)):
        return service.unavailable(
            f"No {service.service_type} ({service.label}) endpoint in your Keystone catalog: {exc}"
        )
    if isinstance(exc, (sdk_exc.SDKException, ks_exc.ClientException)):
        return service.unavailable(f"The {service.service_type} service cannot be reached: {type(exc).__name__}")
    raise exc


class PersonCloud:
    """Runs work against one service of the signed-in person's catalog, as that person."""

    def __init__(self, settings: Settings, service: CloudService, timeout: float,
                 cloud: CloudFactory | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.service = service
        self.timeout = timeout
        self._cloud = cloud or self._keystone_cloud

    @property
    def configured(self) -> bool:
        """Whether people sign in with Keystone (then each one's catalog says whether the service is there)."""
        return self.settings.auth == "keystone"

    def _keystone_cloud(self, ctx: RequestContext) -> Connection:
        from glimpse.auth.catalog import NoEndpoint, user_session

        service = self.service
        if self.settings.auth != "keystone" or not ctx.auth_token:
            raise service.unavailable(
                f"{service.things} are launched through the {service.service_type} ({service.label}) endpoint of "
                f"your Keystone catalog: this Glimpse signs people in with {self.settings.auth!r}, which has no "
                "catalog."
            )
        interface, region = self.settings.dashboard_endpoint_interface, self.settings.dashboard_region_name
        try:
            found = user_session(self.settings.keystone_authtoken, ctx.auth_token, service.service_type, interface,
                                 region, timeout=self.timeout)  # fmt: skip
        except NoEndpoint as exc:
            raise service.unavailable(f"{exc.message} {service.things} cannot be launched or listed here.") from None
        from openstack.connection import Connection

        return Connection(session=found.session, region_name=region, interface=interface, app_name="glimpse")

    async def run(self, ctx: RequestContext, work: Callable[[Connection], Any]) -> Any:
        """``work(connection)`` on a worker thread; its failures as Glimpse's errors."""

        def run() -> Any:
            cloud = self._cloud(ctx)
            try:
                return work(cloud)
            except Exception as exc:  # sdk_error re-raises what it does not know
                raise sdk_error(exc, self.service) from None
            finally:
                cloud.close()

        return await anyio.to_thread.run_sync(run)
