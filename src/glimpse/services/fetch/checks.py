"""The checks every hop of a fetch passes before anything is sent: scheme, host and port lists, then each
address the host resolves to; and the request-time filtering of a web-download import.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from glimpse.errors import BadRequest
from glimpse.services.fetch.addresses import _in_networks, _literal_address, is_public_address, resolve_host
from glimpse.services.fetch.errors import FetchRefused, InvalidFetchURL, RemoteFetchError
from glimpse.services.fetch.policy import _HOST_NAME, DEFAULT_PORTS, SUPPORTED_SCHEMES, FetchPolicy, IPAddress, Resolver


def redact(url: httpx.URL | str) -> str:
    """The URL for messages and logs: without user name, password, query string or fragment."""
    if isinstance(url, str):
        try:
            url = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            return "<invalid URL>"
    path = url.raw_path.split(b"?", 1)[0].decode("ascii", "replace")
    query = "?..." if url.query else ""
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}{path}{query}"


def _parse(url: str) -> httpx.URL:
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InvalidFetchURL(f"Invalid URL: {exc}") from None


def _refuse(where: str, reason: str, rule: str) -> FetchRefused:
    # Glance's wording ("does not pass filtering"): clients such as Tempest look for it in the 400
    return FetchRefused(f"URI {where} does not pass filtering: {reason} ({rule})", rule)


@dataclass(frozen=True, slots=True)
class _Target:
    """A URL that passed the checks that need no name resolution."""

    url: httpx.URL
    where: str  # the redacted URL
    host: str  # lower case, IDNA-encoded, no trailing dot, no brackets
    literal: IPAddress | None
    port: int
    explicitly_allowed: bool  # named in allowed_hosts, or an IP inside one of its networks


def _check_target(url: httpx.URL, policy: FetchPolicy) -> _Target:
    where = redact(url)
    scheme = url.scheme
    # 1. scheme (Glance: the allow list wins; the deny list applies only without one)
    if not scheme:
        raise InvalidFetchURL(f"Invalid URL {where}: no scheme")
    if policy.allowed_schemes:
        if scheme not in policy.allowed_schemes:
            raise _refuse(where, f"scheme {scheme!r} is not allowed", "allowed_schemes")
    elif scheme in policy.disallowed_schemes:
        raise _refuse(where, f"scheme {scheme!r} is disallowed", "disallowed_schemes")
    if scheme not in SUPPORTED_SCHEMES:
        raise _refuse(where, f"scheme {scheme!r} cannot be fetched, only http and https", "supported_schemes")

    # 2. host name
    host = url.raw_host.decode("ascii", "replace").lower().rstrip(".")
    if not host:
        raise InvalidFetchURL(f"Invalid URL {where}: no host")
    literal = _literal_address(host) if "%" not in host else None
    if literal is None and not _HOST_NAME.match(host):
        raise InvalidFetchURL(f"Invalid URL {where}: {host!r} is not a host name or an IP address")
    explicitly_allowed = host in policy._allowed_names or (
        literal is not None and _in_networks(literal, policy._allowed_networks)
    )
    if policy.allowed_hosts:
        # A name not listed may still pass on its resolved addresses when networks are listed.
        if not explicitly_allowed and (literal is not None or not policy._allowed_networks):
            raise _refuse(where, f"host {host!r} is not allowed", "allowed_hosts")
    elif host in policy._disallowed_names or (
        literal is not None and _in_networks(literal, policy._disallowed_networks)
    ):
        raise _refuse(where, f"host {host!r} is disallowed", "disallowed_hosts")

    # 3. port (Glance filters only a port written in the URL)
    if url.port is not None:
        if not 1 <= url.port <= 65535:
            raise InvalidFetchURL(f"Invalid URL {where}: port {url.port} is out of range")
        if policy.allowed_ports:
            if url.port not in policy.allowed_ports:
                raise _refuse(where, f"port {url.port} is not allowed", "allowed_ports")
        elif url.port in policy.disallowed_ports:
            raise _refuse(where, f"port {url.port} is disallowed", "disallowed_ports")
    port = url.port if url.port is not None else DEFAULT_PORTS[scheme]
    return _Target(url, where, host, literal, port, explicitly_allowed)


def _check_address(target: _Target, address: IPAddress, policy: FetchPolicy) -> None:
    # For a name, the messages do not say which address it resolved to (that would map internal DNS).
    what = f"address {address}" if target.literal is not None else f"host {target.host!r} resolves to an address that"
    allowed_by_network = _in_networks(address, policy._allowed_networks)
    if policy.allowed_hosts:
        if not (target.explicitly_allowed or allowed_by_network):
            raise _refuse(target.where, f"{what} is not in an allowed network", "allowed_hosts")
    elif _in_networks(address, policy._disallowed_networks):
        raise _refuse(target.where, f"{what} is in a disallowed network", "disallowed_hosts")
    if not (policy.allow_private_addresses or target.explicitly_allowed or allowed_by_network) and not (
        is_public_address(address)
    ):
        raise _refuse(
            target.where,
            f"{what} is not public (loopback, private, link-local or reserved); "
            "list the host in allowed_hosts or set allow_private_addresses to reach it",
            "allow_private_addresses",
        )


def check_url(url: str, policy: FetchPolicy) -> None:
    """Check a URL's scheme, host and port without resolving or connecting: the early 400 of an import call.

    :func:`open_stream` checks again, with the resolved addresses, at every hop.
    """
    _check_target(_parse(url), policy)


class ImportURIRefused(BadRequest):
    """web-download's URI failed the filtering when the import was asked for (Glance's 400)."""


async def check_import_uri(
    uri: str, policy: FetchPolicy, *, resolver: Resolver | None = None, resolve_timeout: float = 5.0,
    what: str = "URI for web-download",
) -> None:  # fmt: skip
    """The request-time filtering of a web-download import (Glance: 400 "... does not pass filtering").

    Everything a fetch checks before it connects is checked here: the scheme, host and port lists, an IP
    written in the URL, and the addresses the host name resolves to. A name that cannot be resolved now is
    not refused (the fetch will say so); the fetch checks everything again, at every hop.
    """
    try:
        target = _check_target(_parse(uri), policy)
        if target.literal is not None:
            _check_address(target, target.literal, policy)
        else:
            try:
                async with asyncio.timeout(resolve_timeout):
                    addresses = await (resolver or resolve_host)(target.host, target.port)
            except (OSError, UnicodeError, TimeoutError):
                addresses = []
            for address in addresses:
                _check_address(target, address, policy)
    except BadRequest as exc:
        raise ImportURIRefused(f"{what} does not pass filtering: {redact(uri)} ({exc.message})") from None


@dataclass(frozen=True, slots=True)
class _Hop:
    target: _Target
    addresses: tuple[IPAddress, ...]


async def _plan(url: httpx.URL, policy: FetchPolicy, resolve: Resolver) -> _Hop:
    target = _check_target(url, policy)
    if target.literal is not None:
        addresses: Sequence[IPAddress] = [target.literal]
    else:
        try:
            addresses = await resolve(target.host, target.port)
        except (OSError, UnicodeError) as exc:
            raise RemoteFetchError(f"Could not resolve the host of {target.where}") from exc
        if not addresses:
            raise RemoteFetchError(f"Could not resolve the host of {target.where}")
    for address in addresses:
        _check_address(target, address, policy)
    return _Hop(target, tuple(dict.fromkeys(addresses)))
