"""The artifacts API's versions: ``/`` and ``/versions`` answer 300 with the list; every other request is
negotiated from ``Accept: application/vnd.openstack.artifacts-1.x`` or ``OpenStack-API-Version: artifact
1.x`` (default 1.0, ``latest`` 1.1; anything else 406), and the response names the version it speaks."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from glimpse.api.artifacts.errors import glare_error

MIN_VERSION = (1, 0)
MAX_VERSION = (1, 1)
MEDIA_TYPE = "application/vnd.openstack.artifacts-"
HEADER = "openstack-api-version"
SERVICE_TYPE = "artifact"
_LINKS = [{"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}]


def versions_document() -> dict[str, object]:
    return {
        "versions": [
            {"version": "1.0", "status": "STABLE", "links": _LINKS, "media-type": f"{MEDIA_TYPE}1.0"},
            {"version": "1.1", "status": "EXPERIMENTAL", "links": _LINKS, "media-type": f"{MEDIA_TYPE}1.1"},
        ]
    }


def _text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def requested_version(headers: dict[str, str]) -> tuple[int, int] | None:
    """The version a request asks for; ValueError when it names something that is not a version."""
    raw: str | None = None
    accept = headers.get("accept", "")
    if accept.startswith(MEDIA_TYPE):
        raw = accept[len(MEDIA_TYPE) :]
    else:
        for item in headers.get(HEADER, "").split(","):
            service, _, value = item.strip().partition(" ")
            if service.lower() == SERVICE_TYPE and value.strip():
                raw = value.strip()
    if raw is None:
        return None
    if raw == "latest":
        return MAX_VERSION
    major, dot, minor = raw.partition(".")
    if not dot or not major.isdigit() or not minor.isdigit():
        raise ValueError(raw)
    return int(major), int(minor)


class VersionMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in ("/", "/versions"):
            body = json.dumps(versions_document()).encode()
            start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 300, "headers": start})
            await send({"type": "http.response.body", "body": body})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            version = requested_version(headers) or MIN_VERSION
        except ValueError as exc:
            response = glare_error(400, f"API Version String {exc} is of invalid format.", "BadRequest")
            await response(scope, receive, send)
            return
        if not MIN_VERSION <= version <= MAX_VERSION:
            response = glare_error(
                406,
                f"Version {_text(version)} is not supported by the API. Minimum is {_text(MIN_VERSION)} and "
                f"maximum is {_text(MAX_VERSION)}.",
                "InvalidGlobalAPIVersion",
                {"min_version": _text(MIN_VERSION), "max_version": _text(MAX_VERSION)},
            )
            await response(scope, receive, send)
            return
        scope["glimpse.artifact_version"] = version
        header = (b"openstack-api-version", f"{SERVICE_TYPE} {_text(version)}".encode())

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header, (b"vary", b"OpenStack-API-Version")]
            await send(message)

        await self.app(scope, receive, send_with_version)
