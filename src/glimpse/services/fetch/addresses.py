"""IP addresses: which are public, and resolving a host name (in a worker thread)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence

from glimpse.services.fetch.policy import IPAddress, IPNetwork

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
