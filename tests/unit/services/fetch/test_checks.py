"""glimpse.services.fetch.checks: Glance's scheme, host and port lists, and URLs that are not valid."""

from __future__ import annotations

import pytest

from glimpse.services.fetch import FetchPolicy, FetchRefused, InvalidFetchURL, check_url, open_stream
from tests.unit.services.fetch.support import FakeResolver, Guard, no_resolver, refused, run

# ---------------------------------------------------------------------------------------- Glance's lists


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/image", "gopher://127.0.0.1:70/_x"])
def test_schemes_outside_allowed_schemes_are_refused(url: str, guard: Guard) -> None:
    error = refused(url, FetchPolicy(), resolver=no_resolver)
    assert error.rule == "allowed_schemes"
    assert guard.connections == []


def test_an_allowed_scheme_that_cannot_be_fetched_is_refused() -> None:
    policy = FetchPolicy(allowed_schemes=("http", "https", "ftp"))
    assert refused("ftp://example.org/image", policy, resolver=no_resolver).rule == "supported_schemes"


def test_disallowed_schemes_apply_only_without_an_allow_list() -> None:
    with pytest.raises(FetchRefused) as caught:
        check_url("http://example.org/", FetchPolicy(allowed_schemes=(), disallowed_schemes=("http",)))
    assert caught.value.rule == "disallowed_schemes"
    check_url("https://example.org/", FetchPolicy(allowed_schemes=(), disallowed_schemes=("http",)))
    # Glance: with a non-empty allow list the deny list is ignored
    check_url("http://example.org/", FetchPolicy(disallowed_schemes=("http",)))


def test_ports_outside_allowed_ports_are_refused_before_resolving(guard: Guard) -> None:
    error = refused("http://images.test:8080/", FetchPolicy(), resolver=no_resolver)
    assert error.rule == "allowed_ports"
    assert "8080" in error.message
    assert guard.connections == []


def test_port_lists_follow_glance() -> None:
    with pytest.raises(FetchRefused) as caught:
        check_url("http://example.org:8080/", FetchPolicy(allowed_ports=(), disallowed_ports=(8080,)))
    assert caught.value.rule == "disallowed_ports"
    check_url("http://example.org:8081/", FetchPolicy(allowed_ports=(), disallowed_ports=(8080,)))
    check_url("http://example.org:8080/", FetchPolicy(allowed_ports=(8080,), disallowed_ports=(8080,)))
    # a URL without a port uses the scheme's default, which Glance does not filter
    check_url("http://example.org/", FetchPolicy(allowed_ports=(8080,)))
    check_url("http://example.org:443/", FetchPolicy())


def test_host_lists_follow_glance() -> None:
    with pytest.raises(FetchRefused) as caught:
        check_url("http://other.example/", FetchPolicy(allowed_hosts=("images.example",)))
    assert caught.value.rule == "allowed_hosts"
    check_url("http://IMAGES.example./", FetchPolicy(allowed_hosts=("images.example",)))
    with pytest.raises(FetchRefused) as caught:
        check_url("http://bad.example/", FetchPolicy(disallowed_hosts=("bad.example",)))
    assert caught.value.rule == "disallowed_hosts"
    with pytest.raises(FetchRefused) as caught:
        check_url("http://[2001:db8::5]/", FetchPolicy(disallowed_hosts=("2001:db8::/32",)))
    assert caught.value.rule == "disallowed_hosts"
    # an allow list makes the deny list irrelevant
    check_url("http://bad.example/", FetchPolicy(allowed_hosts=("bad.example",), disallowed_hosts=("bad.example",)))


def test_a_host_outside_allowed_hosts_is_refused_before_resolving(guard: Guard) -> None:
    error = refused("http://other.example/", FetchPolicy(allowed_hosts=("images.example",)), resolver=no_resolver)
    assert error.rule == "allowed_hosts"
    assert guard.lookups == []


def test_a_disallowed_network_refuses_the_names_resolving_into_it(guard: Guard) -> None:
    resolver = FakeResolver({"images.test": ["127.0.0.2"]})
    policy = FetchPolicy(allow_private_addresses=True, disallowed_hosts=("127.0.0.2/32",))
    assert refused("http://images.test/", policy, resolver=resolver).rule == "disallowed_hosts"
    assert guard.connections == []


@pytest.mark.parametrize(
    "url",
    [
        "http:///image",
        "http://images.test:99999/",
        "http://images.test:0/",
        "http://a b/",
        "no scheme at all",
        "http://[fe80::1%25eth0]/",
        "http://0177.0.0.1/",
    ],
)
def test_invalid_urls(url: str, guard: Guard) -> None:
    with pytest.raises(InvalidFetchURL):
        run(open_stream(url, FetchPolicy(allowed_ports=()), resolver=no_resolver))
    assert guard.connections == []
