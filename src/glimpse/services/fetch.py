"""Fetching a remote image over HTTP(S) without letting a user point the server at places it must not reach.

Used by the ``web-download`` import method (and meant for the HTTP store). Every hop of a fetch goes
through the same steps, in this order, and nothing is sent on the network before all of them pass:

1. the URL is parsed once (by httpx, the same parser that later builds the request) and its scheme, host
   name and port are checked against the :class:`FetchPolicy` lists;
2. the host is resolved here, by :func:`resolve_host` (``getaddrinfo`` in a worker thread), and every
   address it resolves to is checked: the lists again (networks), then the non-public ranges;
3. the request is sent to one of those checked addresses, by number: the URL handed to httpx carries the
   IP, the ``Host`` header keeps the name, and for https the TLS server name (SNI) and the certificate
   check use the name too (httpx's ``sni_hostname`` request extension). Nothing resolves the name a second
   time, so a DNS answer that changes between the check and the connection (DNS rebinding) cannot move the
   connection elsewhere. Proxies from the environment are ignored for the same reason.

Redirects are followed here, never by httpx, and each target is checked like the first URL; a redirect
from https to http is refused, and credentials in the URL are dropped when a redirect leaves the origin.
The body is read undecoded (``Accept-Encoding: identity``), ``max_bytes`` is enforced on the
``Content-Length`` before reading and on the bytes as they arrive, and one deadline bounds the whole fetch,
name resolution and redirects included.

Glance's ``[import_filtering_opts]`` options map one to one onto the policy fields of the same name, with
Glance's semantics: when an allow list is non-empty its deny list is ignored; a URL without a host is
refused; the port lists apply to a port written in the URL (a URL without one uses the scheme's default
port, which Glance does not filter either; httpx reads ``http://host:80`` as having no port, which changes
nothing since port 80 would be reached anyway by leaving it out):

============================  ===========================  =====================================
Glance option                 FetchPolicy field            default (Glance's)
============================  ===========================  =====================================
``allowed_schemes``           ``allowed_schemes``          ``("http", "https")``
``disallowed_schemes``        ``disallowed_schemes``       ``()``
``allowed_hosts``             ``allowed_hosts``            ``()``
``disallowed_hosts``          ``disallowed_hosts``         ``()``
``allowed_ports``             ``allowed_ports``            ``(80, 443)``
``disallowed_ports``          ``disallowed_ports``         ``()``
============================  ===========================  =====================================

Where Glance compares the URL's host name as a string, a host entry here may also be an IP address or a
CIDR network (``10.0.0.0/8``, ``fd00::/8``), matched against an IP written in the URL and against every
address a name resolves to. Only http and https can be fetched, whatever ``allowed_schemes`` says.

Beyond Glance, addresses that are not public (loopback, RFC 1918, CGNAT 100.64/10, 0/8, link-local with
the metadata service 169.254.169.254, ULA, site-local, multicast, unspecified, reserved and documentation
ranges, and the same hidden in IPv4-mapped, 6to4 or NAT64 IPv6 addresses) are refused unless
``allow_private_addresses`` is set or an ``allowed_hosts`` entry names the host or contains the address.

Errors: :class:`FetchRefused` (a rule refused the URL or a redirect; ``rule`` names it) and
:class:`InvalidFetchURL` are ``BadRequest``: the caller chose the URL and can fix it. A remote failure
(no answer, refused connection, bad certificate, an HTTP error status, a truncated body) is
:class:`RemoteFetchError`, a ``StoreError``: the client cannot fix it by changing the request, it maps to
502 like any other failing backend, and when the HTTP store uses this module a failing location falls back
to the next copy the way other store failures do. :class:`FetchTimeout` is its subclass for timeouts and
the deadline; :class:`FetchTooLarge` (a ``TooLarge``) is ``max_bytes``. Messages never contain the
credentials or the query string of a URL.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import os
import re
import socket
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType

import httpx

from glimpse.errors import BadRequest, NotFound, StoreError, TooLarge

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]
"""``async (host, port) -> addresses``; :func:`resolve_host` by default, tests pass their own."""

SUPPORTED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_MAX_BYTES = 1024**4  # Glance's default image_size_cap, 1 TiB
USER_AGENT = "glimpse"

# A host name is plain labels once IDNA-encoded; anything else ("%", spaces, ...) is not a host.
_HOST_NAME = re.compile(r"^[a-z0-9_.-]+$")

_NON_PUBLIC: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, with the cloud metadata service 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, with the broadcast address
        "::/96",  # unspecified, loopback, IPv4-compatible (deprecated)
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard
        "2001::/23",  # IETF protocol assignments, Teredo
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local (ULA)
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class FetchRefused(BadRequest):
    """A policy rule refused the URL (or a redirect target); ``rule`` names the rule."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class InvalidFetchURL(BadRequest):
    """The URL cannot be parsed, or has no usable host or port."""


class RemoteFetchError(StoreError):
    """The remote end failed: no connection, TLS failure, an HTTP error status, a broken or truncated reply.

    ``status`` is the remote HTTP status when there was one.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class FetchTimeout(RemoteFetchError):
    """A connect or read timeout, or the fetch's total deadline, expired."""


class FetchTooLarge(TooLarge):
    """The remote data is larger than ``max_bytes``."""


def _parse_hosts(entries: Sequence[str], option: str) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for raw in entries:
        entry = raw.strip().lower()
        if entry.startswith("[") and entry.endswith("]"):
            entry = entry[1:-1]
        if not entry:
            raise ValueError(f"{option}: empty host entry")
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        name = entry.rstrip(".")
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"{option}: {raw!r} is neither a host name, an IP address nor a network") from exc
        if not _HOST_NAME.match(name):
            raise ValueError(f"{option}: {raw!r} is neither a host name, an IP address nor a network")
        names.add(name)
    return frozenset(names), tuple(networks)


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """What a fetch may reach and how much of it; see the module docstring for the rules and Glance's names.

    ``connect_timeout`` and ``read_timeout`` bound each connection attempt and each wait for data;
    ``deadline`` (seconds, None for none) bounds the whole fetch from the call of :func:`open_stream` to the
    last byte, including the time the consumer takes between chunks. ``max_bytes`` (None for no limit)
    caps the body. ``ca_file`` replaces the system's trusted certificates for https.
    """

    allowed_schemes: tuple[str, ...] = SUPPORTED_SCHEMES
    disallowed_schemes: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    disallowed_hosts: tuple[str, ...] = ()
    allowed_ports: tuple[int, ...] = (80, 443)
    disallowed_ports: tuple[int, ...] = ()
    allow_private_addresses: bool = False
    max_redirects: int = 5
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    deadline: float | None = None
    max_bytes: int | None = DEFAULT_MAX_BYTES
    ca_file: str | None = None
    _allowed_names: frozenset[str] = field(init=False, repr=False, compare=False)
    _allowed_networks: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False)
    _disallowed_names: frozenset[str] = field(init=False, repr=False, compare=False)
    _disallowed_networks: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = functools.partial(object.__setattr__, self)
        set_("allowed_schemes", tuple(s.strip().lower() for s in self.allowed_schemes))
        set_("disallowed_schemes", tuple(s.strip().lower() for s in self.disallowed_schemes))
        set_("allowed_hosts", tuple(self.allowed_hosts))
        set_("disallowed_hosts", tuple(self.disallowed_hosts))
        for option in ("allowed_ports", "disallowed_ports"):
            ports = tuple(int(p) for p in getattr(self, option))
            if any(not 1 <= p <= 65535 for p in ports):
                raise ValueError(f"{option}: ports are between 1 and 65535")
            set_(option, ports)
        if self.max_redirects < 0:
            raise ValueError("max_redirects must not be negative")
        if self.connect_timeout <= 0 or self.read_timeout <= 0 or (self.deadline is not None and self.deadline <= 0):
            raise ValueError("timeouts and the deadline must be positive")
        if self.max_bytes is not None and self.max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        allowed_names, allowed_networks = _parse_hosts(self.allowed_hosts, "allowed_hosts")
        disallowed_names, disallowed_networks = _parse_hosts(self.disallowed_hosts, "disallowed_hosts")
        set_("_allowed_names", allowed_names)
        set_("_allowed_networks", allowed_networks)
        set_("_disallowed_names", disallowed_names)
        set_("_disallowed_networks", disallowed_networks)


# ---------------------------------------------------------------------------------------------- addresses


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to (IPv4-mapped, 6to4, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _forms(address: IPAddress) -> tuple[IPAddress, ...]:
    embedded = _embedded_ipv4(address)
    return (address,) if embedded is None else (address, embedded)


def _in_networks(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    return any(form in network for form in _forms(address) for network in networks)


def is_public_address(address: IPAddress) -> bool:
    """True when the address is globally routable: not loopback, private, link-local, reserved, ...

    An IPv6 address that carries an IPv4 address (IPv4-mapped, 6to4, NAT64) is judged by that IPv4 address.
    """
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return is_public_address(embedded)
    if any(address in network for network in _NON_PUBLIC):
        return False
    return address.is_global and not address.is_multicast


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def resolve_host(host: str, port: int) -> Sequence[IPAddress]:
    """Every address ``host`` resolves to for a TCP connection; ``getaddrinfo`` runs in a worker thread."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


# -------------------------------------------------------------------------------------------- URL checks


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


# ------------------------------------------------------------------------------------------------ requests


def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """The system's trusted certificates, or only those of ``ca_file`` (reloaded when the file changes)."""
    try:
        version = os.stat(ca_file).st_mtime_ns if ca_file else None
    except OSError:
        version = None  # let ssl report the unreadable file
    return _cached_ssl_context(ca_file, version)


@functools.lru_cache(maxsize=8)
def _cached_ssl_context(ca_file: str | None, version: int | None) -> ssl.SSLContext:
    # building one costs ~20 ms (the system store); hostname checking and verification stay on
    return ssl.create_default_context(cafile=ca_file)


def _cause_is(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _remote_error(exc: httpx.HTTPError, where: str) -> RemoteFetchError:
    if isinstance(exc, httpx.TimeoutException):
        return FetchTimeout(f"Fetching {where} timed out")
    if isinstance(exc, httpx.ConnectError):
        if _cause_is(exc, ssl.SSLCertVerificationError):
            return RemoteFetchError(f"Could not connect to {where}: the TLS certificate could not be verified")
        if _cause_is(exc, ssl.SSLError):
            return RemoteFetchError(f"Could not connect to {where}: the TLS handshake failed")
        return RemoteFetchError(f"Could not connect to {where}")
    return RemoteFetchError(f"Fetching {where} failed: {type(exc).__name__}")


def _timeouts(policy: FetchPolicy) -> httpx.Timeout:
    return httpx.Timeout(
        connect=policy.connect_timeout,
        read=policy.read_timeout,
        write=policy.read_timeout,
        pool=policy.connect_timeout,
    )


async def _send(
    hop: _Hop, policy: FetchPolicy, method: str = "GET", body: bytes | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> tuple[httpx.AsyncClient, httpx.Response]:  # fmt: skip
    """Send the request (GET, or ``method`` with ``body``) to the hop's checked addresses, in order, until
    one accepts the connection.

    A new client per hop: its pool is keyed by IP and port, so a connection opened (and verified) for one
    host name is never reused for another name on the same address.
    """
    target = hop.target
    transport = httpx.AsyncHTTPTransport(verify=_ssl_context(policy.ca_file), trust_env=False, retries=0)
    client = httpx.AsyncClient(transport=transport, trust_env=False, follow_redirects=False, timeout=_timeouts(policy))
    headers = {
        **(extra_headers or {}),
        "Host": target.url.netloc.decode("ascii"),
        "Accept-Encoding": "identity",
        "User-Agent": USER_AGENT,
    }
    extensions = {"sni_hostname": target.host} if target.url.scheme == "https" and target.literal is None else {}
    try:
        failure: httpx.HTTPError | None = None
        for address in hop.addresses:
            try:
                pinned = target.url.copy_with(host=str(address).split("%", 1)[0])
            except httpx.InvalidURL as exc:
                raise RemoteFetchError(f"Cannot connect to {target.where} at {address}") from exc
            log.debug("fetch: GET %s from %s", target.where, address)
            request = client.build_request(method, pinned, headers=headers, content=body, extensions=extensions)
            try:
                return client, await client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                log.debug("fetch: %s at %s: %s", target.where, address, type(exc).__name__)
                failure = exc
            except httpx.HTTPError as exc:
                raise _remote_error(exc, target.where) from exc
        if failure is None:  # no address at all; _plan never lets that happen
            raise RemoteFetchError(f"Could not connect to {target.where}")
        raise _remote_error(failure, target.where) from failure
    except BaseException:
        await client.aclose()
        raise


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.raw_host.lower(), a.port) == (b.scheme, b.raw_host.lower(), b.port)


def _content_length(response: httpx.Response) -> int | None:
    if "transfer-encoding" in response.headers:
        return None
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


class RemoteStream:
    """The body of a fetched response: an async iterator of raw byte chunks, with ``size`` when announced.

    Iterating to the end closes the connection; so does any error, and :meth:`aclose` (use ``async with``
    when the body may be abandoned). Chunks come as they arrive from the network, never decoded.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        response: httpx.Response,
        *,
        where: str,
        size: int | None,
        max_bytes: int | None,
        deadline: float | None,
    ) -> None:
        self._client = client
        self._response = response
        self._chunks: AsyncIterator[bytes] = response.aiter_raw()
        self._max_bytes = max_bytes
        self._deadline = deadline
        self._closed = False
        self.url = where  # the final URL, redacted
        self.size = size  # Content-Length, when the remote sent one
        self.status = response.status_code
        self.content_type = response.headers.get("content-type")
        self.received = 0

    def __aiter__(self) -> RemoteStream:
        return self

    async def __anext__(self) -> bytes:
        if self._closed:
            raise StopAsyncIteration
        try:
            async with asyncio.timeout_at(self._deadline):
                chunk = await anext(self._chunks)
        except StopAsyncIteration:
            await self.aclose()
            raise
        except TimeoutError:
            await self.aclose()
            raise FetchTimeout(f"Fetching {self.url} took longer than the deadline") from None
        except httpx.HTTPError as exc:
            await self.aclose()
            raise _remote_error(exc, self.url) from exc
        except BaseException:
            await self.aclose()
            raise
        self.received += len(chunk)
        if self._max_bytes is not None and self.received > self._max_bytes:
            await self.aclose()
            raise FetchTooLarge(f"The data at {self.url} is larger than the limit of {self._max_bytes} bytes")
        return chunk

    async def aclose(self) -> None:
        """Stop reading and close the connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            if isinstance(self._chunks, AsyncGenerator):
                await self._chunks.aclose()
        finally:
            try:
                await self._response.aclose()
            finally:
                await self._client.aclose()

    async def __aenter__(self) -> RemoteStream:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


async def _open(url: str, policy: FetchPolicy, resolve: Resolver, deadline: float | None) -> RemoteStream:
    current = _parse(url)
    redirects = 0
    while True:
        hop = await _plan(current, policy, resolve)
        where = hop.target.where
        client, response = await _send(hop, policy)
        try:
            if response.status_code in REDIRECT_STATUSES:
                location = response.headers.get("location")
                if not location:
                    raise RemoteFetchError(
                        f"{where} answered {response.status_code} without a Location", response.status_code
                    )
                if redirects >= policy.max_redirects:
                    raise _refuse(where, f"more than {policy.max_redirects} redirects", "max_redirects")
                try:
                    following = current.join(location)
                except httpx.InvalidURL:
                    raise RemoteFetchError(f"{where} redirected to an invalid URL", response.status_code) from None
                if current.scheme == "https" and following.scheme == "http":
                    raise _refuse(where, f"redirect from https to http ({redact(following)})", "https_downgrade")
                if not _same_origin(current, following):
                    following = following.copy_with(userinfo=b"")
                log.debug("fetch: %s redirects (%d) to %s", where, response.status_code, redact(following))
                redirects += 1
                current = following
                await response.aclose()
                await client.aclose()
                continue
            if not 200 <= response.status_code < 300:
                raise RemoteFetchError(
                    f"{where} answered {response.status_code} {response.reason_phrase}".rstrip(),
                    response.status_code,
                )
            size = _content_length(response)
            if policy.max_bytes is not None and size is not None and size > policy.max_bytes:
                raise FetchTooLarge(
                    f"The data at {where} is {size} bytes, larger than the limit of {policy.max_bytes} bytes"
                )
        except BaseException:
            await response.aclose()
            await client.aclose()
            raise
        return RemoteStream(client, response, where=where, size=size, max_bytes=policy.max_bytes, deadline=deadline)


async def open_stream(url: str, policy: FetchPolicy, *, resolver: Resolver | None = None) -> RemoteStream:
    """Check ``url`` against ``policy``, follow its redirects and return its body, ready to iterate.

    Raises :class:`InvalidFetchURL`, :class:`FetchRefused`, :class:`RemoteFetchError` (:class:`FetchTimeout`)
    or :class:`FetchTooLarge` before any byte of the body is returned; the returned stream raises the last
    three while it is read. ``resolver`` replaces :func:`resolve_host` (for tests, or a caching resolver).
    """
    deadline = None if policy.deadline is None else asyncio.get_running_loop().time() + policy.deadline
    try:
        async with asyncio.timeout_at(deadline):
            return await _open(url, policy, resolver or resolve_host, deadline)
    except TimeoutError:
        raise FetchTimeout(f"Fetching {redact(url)} took longer than the deadline") from None


GONE_STATUSES = frozenset({404, 410})


async def open_location(url: str, policy: FetchPolicy, *, resolver: Resolver | None = None) -> RemoteStream:
    """:func:`open_stream` for the HTTP store: a location the web server no longer has (404, 410) is
    ``NotFound``, the error every store raises for missing data, so a download falls back to another copy
    and ``stat`` reports the data missing."""
    try:
        return await open_stream(url, policy, resolver=resolver)
    except RemoteFetchError as exc:
        if exc.status in GONE_STATUSES:
            raise NotFound(f"The data at {redact(url)} is gone: the server answered {exc.status}") from exc
        raise


async def post(
    url: str, body: bytes, headers: Mapping[str, str], policy: FetchPolicy, *, resolver: Resolver | None = None
) -> int:
    """POST ``body`` to ``url`` after every check a fetch makes (webhooks), to the checked address only; the
    status the receiver answered. Redirects are not followed (a 3xx is the answer). Raises
    :class:`InvalidFetchURL` or :class:`FetchRefused` (nothing was sent) and :class:`RemoteFetchError` (no
    answer: refused connection, TLS failure, timeout, ``policy.deadline`` passed)."""
    deadline = None if policy.deadline is None else asyncio.get_running_loop().time() + policy.deadline
    try:
        async with asyncio.timeout_at(deadline):
            hop = await _plan(_parse(url), policy, resolver or resolve_host)
            client, response = await _send(hop, policy, "POST", body, headers)
            try:
                return response.status_code
            finally:
                await response.aclose()
                await client.aclose()
    except TimeoutError:
        raise FetchTimeout(f"Posting to {redact(url)} took longer than the deadline") from None
