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

The package: ``policy`` (:class:`FetchPolicy`), ``errors``, ``addresses`` (public or not, resolution),
``checks`` (the checks of each hop, web-download's request-time filtering), ``client`` (sending, redirects,
:class:`RemoteStream`, :func:`post_each`). Import from here.
"""

from __future__ import annotations

from glimpse.services.fetch.addresses import is_public_address, resolve_host
from glimpse.services.fetch.checks import ImportURIRefused, check_import_uri, check_url, redact
from glimpse.services.fetch.client import (
    GONE_STATUSES,
    REDIRECT_STATUSES,
    USER_AGENT,
    RemoteStream,
    open_location,
    open_stream,
    post_each,
)
from glimpse.services.fetch.errors import FetchRefused, FetchTimeout, FetchTooLarge, InvalidFetchURL, RemoteFetchError
from glimpse.services.fetch.policy import (
    DEFAULT_MAX_BYTES,
    DEFAULT_PORTS,
    SUPPORTED_SCHEMES,
    FetchPolicy,
    IPAddress,
    IPNetwork,
    Resolver,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_PORTS",
    "GONE_STATUSES",
    "REDIRECT_STATUSES",
    "SUPPORTED_SCHEMES",
    "USER_AGENT",
    "FetchPolicy",
    "FetchRefused",
    "FetchTimeout",
    "FetchTooLarge",
    "IPAddress",
    "IPNetwork",
    "ImportURIRefused",
    "InvalidFetchURL",
    "RemoteFetchError",
    "RemoteStream",
    "Resolver",
    "check_import_uri",
    "check_url",
    "is_public_address",
    "open_location",
    "open_stream",
    "post_each",
    "redact",
    "resolve_host",
]
