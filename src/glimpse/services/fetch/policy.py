"""What a fetch may reach and how much of it (:class:`FetchPolicy`, Glance's ``[import_filtering_opts]``)."""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]
"""``async (host, port) -> addresses``; :func:`resolve_host` by default, tests pass their own."""

SUPPORTED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
DEFAULT_MAX_BYTES = 1024**4  # Glance's default image_size_cap, 1 TiB

# A host name is plain labels once IDNA-encoded; anything else ("%", spaces, ...) is not a host.
_HOST_NAME = re.compile(r"^[a-z0-9_.-]+$")


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
