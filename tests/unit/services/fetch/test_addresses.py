"""glimpse.services.fetch.addresses and the address checks: non-public addresses are refused before any
connection, every resolved address is checked, and which addresses are public.
"""

from __future__ import annotations

import ipaddress

import pytest

from glimpse.errors import BadRequest
from glimpse.services.fetch import FetchPolicy, is_public_address
from tests.unit.services.fetch.support import PAYLOAD, FakeResolver, Guard, LocalServer, read_all, refused, respond, run

# --------------------------------------------------------------------------------------- address refusals

NON_PUBLIC_URLS = [
    "http://127.0.0.1/",
    "http://localhost/",
    "http://[::1]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://0.0.0.0/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
    "http://[::ffff:a9fe:a9fe]/",  # IPv4-mapped metadata address
    "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[fd00::1]/",  # ULA
    "http://[fe80::1]/",  # link-local
    "http://224.0.0.1/",  # multicast
    "http://240.0.0.1/",  # reserved
    "http://2130706433/",  # 127.0.0.1 as one number: resolves to loopback
    "http://127.1/",
]


@pytest.mark.parametrize("url", NON_PUBLIC_URLS)
def test_the_default_policy_refuses_non_public_addresses_before_connecting(url: str, guard: Guard) -> None:
    error = refused(url, FetchPolicy())
    assert error.rule == "allow_private_addresses"
    assert "allow_private_addresses" in error.message
    assert isinstance(error, BadRequest)
    assert guard.connections == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_a_loopback_server_on_an_allowed_port_is_still_refused(server: LocalServer, guard: Guard, host: str) -> None:
    server.routes["/image"] = respond(PAYLOAD)
    error = refused(server.url("/image", host=host), FetchPolicy(allowed_ports=(server.port,)))
    assert error.rule == "allow_private_addresses"
    assert guard.connections == []
    assert server.requests == []


def test_a_name_resolving_to_a_private_address_is_refused_without_saying_which(guard: Guard) -> None:
    error = refused("http://localhost/", FetchPolicy())
    assert "localhost" in guard.lookups  # really resolved by the system
    assert "127.0.0.1" not in error.message
    assert guard.connections == []


def test_every_resolved_address_is_checked(guard: Guard) -> None:
    resolver = FakeResolver({"images.test": ["127.0.0.1", "10.0.0.1"]})
    error = refused("http://images.test/", FetchPolicy(allowed_hosts=("127.0.0.0/8",)), resolver=resolver)
    assert error.rule == "allowed_hosts"
    error = refused(
        "http://images.test/",
        FetchPolicy(allow_private_addresses=True, disallowed_hosts=("10.0.0.0/8",)),
        resolver=resolver,
    )
    assert error.rule == "disallowed_hosts"
    assert guard.connections == []


def test_allow_private_addresses_lets_loopback_through(server: LocalServer) -> None:
    server.routes["/image"] = respond(PAYLOAD)
    data, _ = run(
        read_all(
            server.url("/image", host="localhost"),
            FetchPolicy(allowed_ports=(server.port,), allow_private_addresses=True),
        )
    )
    assert data == PAYLOAD


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),  # NAT64 of a public address
        ("169.254.169.254", False),
        ("fd00:ec2::254", False),
        ("100.100.100.200", False),
        ("198.18.0.1", False),
        ("192.0.2.1", False),
        ("255.255.255.255", False),
        ("2001:db8::1", False),
        ("2001::1", False),  # Teredo
        ("ff02::1", False),
        ("fec0::1", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public
