"""glimpse.services.fetch: the SSRF-safe fetcher, against real HTTP(S) servers on 127.0.0.1.

An autouse guard wraps the event loop's ``create_connection`` and ``socket.getaddrinfo``: it records every
connection and lookup and refuses anything that is not loopback, so a test of a refusal can assert that
nothing was connected (and a bug could never reach another machine).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

from glimpse.errors import BadRequest, StoreError, TooLarge
from glimpse.services.fetch import (
    FetchPolicy,
    FetchRefused,
    FetchTimeout,
    FetchTooLarge,
    InvalidFetchURL,
    IPAddress,
    RemoteFetchError,
    RemoteStream,
    check_url,
    is_public_address,
    open_stream,
    redact,
)
from tests.tls import Certificates, make_certificates

T = TypeVar("T")
MiB = 1024 * 1024
PAYLOAD = bytes(range(256)) * 1200  # 300 KiB


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


# ------------------------------------------------------------------------------------------------ servers

Route = Callable[["Handler"], None]


class LocalServer(ThreadingHTTPServer):
    """An HTTP/1.0 server on 127.0.0.1 whose answers are per-path functions; it records what it was asked."""

    daemon_threads = False
    block_on_close = True  # server_close() waits for the handlers, which all end once `stop` is set

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, Message]] = []
        self.stop = threading.Event()
        self.aborted = threading.Event()  # a handler's write failed: the client closed the connection
        self.sni: list[str | None] = []

    @property
    def port(self) -> int:
        port: int = self.server_address[1]
        return port

    def url(self, path: str, *, scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that go away are the point of several tests


class Handler(BaseHTTPRequestHandler):
    server: LocalServer

    def do_GET(self) -> None:
        self.server.requests.append((self.path, self.headers))
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        route(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def respond(body: bytes, *, status: int = 200, length: bool = True) -> Route:
    def route(h: Handler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/octet-stream")
        if length:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return route


def redirect(location: str, status: int = 302) -> Route:
    def route(h: Handler) -> None:
        h.send_response(status)
        if location:
            h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return route


def flood(*, announce: int | None = None, total: int = 64 * MiB, chunk: int = 64 * 1024) -> Route:
    """Send up to ``total`` bytes (announcing ``announce`` as Content-Length), noting a failed write."""

    def route(h: Handler) -> None:
        h.send_response(200)
        if announce is not None:
            h.send_header("Content-Length", str(announce))
        h.end_headers()
        sent = 0
        try:
            while sent < total and not h.server.stop.is_set():
                h.wfile.write(b"x" * chunk)
                sent += chunk
        except OSError:
            h.server.aborted.set()

    return route


def trickle(*, interval: float, length: int = 1000) -> Route:
    def route(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(length))
        h.end_headers()
        try:
            for _ in range(length):
                if h.server.stop.wait(interval):
                    return
                h.wfile.write(b"x")
        except OSError:
            h.server.aborted.set()

    return route


def stall_after_headers(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "10")
    h.end_headers()
    h.server.stop.wait(10)


def stall_before_headers(h: Handler) -> None:
    h.server.stop.wait(10)


def truncated(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "100")
    h.end_headers()
    h.wfile.write(b"only ten b")


def serve(server: LocalServer) -> Iterator[LocalServer]:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="test-http", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    yield from serve(LocalServer())


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path, ["images.test"])


@pytest.fixture
def tls_server(certificates: Certificates) -> Iterator[LocalServer]:
    server = LocalServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates.cert, certificates.key)

    def remember_sni(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        server.sni.append(name)

    context.sni_callback = remember_sni
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield from serve(server)


# ------------------------------------------------------------------------------------------------- guard


@dataclass
class Guard:
    connections: list[tuple[str, int]] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def guard(monkeypatch: pytest.MonkeyPatch) -> Guard:
    seen = Guard()
    create_connection = asyncio.base_events.BaseEventLoop.create_connection
    getaddrinfo = socket.getaddrinfo

    async def guarded_connection(loop: Any, factory: Any, host: Any = None, port: Any = None, **kwargs: Any) -> Any:
        seen.connections.append((host, port))
        if not _loopback(str(host)):
            raise OSError(f"test guard: no connection to {host!r}, only to loopback addresses")
        return await create_connection(loop, factory, host, port, **kwargs)

    def guarded_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        seen.lookups.append(name)
        if name != "localhost" and not name.replace(".", "").isdigit() and not _loopback(name):
            raise socket.gaierror(socket.EAI_NONAME, f"test guard: no lookup of {name!r}")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "create_connection", guarded_connection)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_lookup)
    return seen


# ------------------------------------------------------------------------------------------------ helpers


def loopback_policy(server: LocalServer, **options: Any) -> FetchPolicy:
    """A policy that lets the tests reach their own server, and nothing else on this machine."""
    values: dict[str, Any] = {"allowed_hosts": ("127.0.0.1",), "allowed_ports": (server.port,), **options}
    return FetchPolicy(**values)


class FakeResolver:
    """Answers from a table and counts its calls; a name not in the table fails the test."""

    def __init__(self, table: dict[str, Sequence[str]]) -> None:
        self.table = table
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> Sequence[IPAddress]:
        self.calls.append((host, port))
        assert host in self.table, f"unexpected lookup of {host!r}"
        return [ipaddress.ip_address(address) for address in self.table[host]]


async def no_resolver(host: str, port: int) -> Sequence[IPAddress]:
    raise AssertionError(f"the refusal should have come before resolving {host!r}")


async def read_all(url: str, policy: FetchPolicy, **kwargs: Any) -> tuple[bytes, RemoteStream]:
    stream = await open_stream(url, policy, **kwargs)
    async with stream:
        data = b"".join([chunk async for chunk in stream])
    return data, stream


def refused(url: str, policy: FetchPolicy, **kwargs: Any) -> FetchRefused:
    with pytest.raises(FetchRefused) as caught:
        run(read_all(url, policy, **kwargs))
    return caught.value


# ------------------------------------------------------------------------------------------- downloading


def test_download_from_an_explicitly_allowed_loopback_server(server: LocalServer, guard: Guard) -> None:
    server.routes["/image"] = respond(PAYLOAD)
    data, stream = run(read_all(server.url("/image"), loopback_policy(server)))
    assert data == PAYLOAD
    assert stream.size == len(PAYLOAD)
    assert stream.received == len(PAYLOAD)
    assert guard.connections == [("127.0.0.1", server.port)]
    path, headers = server.requests[0]
    assert path == "/image"
    assert headers["Host"] == f"127.0.0.1:{server.port}"
    assert headers["Accept-Encoding"] == "identity"  # the bytes as stored, never decoded


def test_a_body_without_content_length_has_no_size(server: LocalServer) -> None:
    server.routes["/image"] = respond(PAYLOAD, length=False)
    data, stream = run(read_all(server.url("/image"), loopback_policy(server)))
    assert data == PAYLOAD
    assert stream.size is None


def test_the_checked_address_is_the_one_connected_to_and_the_name_is_kept(server: LocalServer, guard: Guard) -> None:
    server.routes["/image"] = respond(PAYLOAD)
    resolver = FakeResolver({"images.test": ["127.0.0.1"]})
    policy = FetchPolicy(allowed_hosts=("images.test",), allowed_ports=(server.port,))
    data, _ = run(read_all(server.url("/image", host="images.test"), policy, resolver=resolver))
    assert data == PAYLOAD
    # resolved once, by the fetcher; nothing else looked the name up again before connecting
    assert resolver.calls == [("images.test", server.port)]
    assert "images.test" not in guard.lookups
    assert guard.connections == [("127.0.0.1", server.port)]
    assert server.requests[0][1]["Host"] == f"images.test:{server.port}"


def test_an_allowed_network_admits_a_name_by_its_addresses(server: LocalServer) -> None:
    server.routes["/image"] = respond(PAYLOAD)
    resolver = FakeResolver({"images.test": ["127.0.0.1"]})
    policy = FetchPolicy(allowed_hosts=("127.0.0.0/8",), allowed_ports=(server.port,))
    data, _ = run(read_all(server.url("/image", host="images.test"), policy, resolver=resolver))
    assert data == PAYLOAD


def test_an_unused_stream_closes_its_connection(server: LocalServer) -> None:
    server.routes["/flood"] = flood()

    async def open_and_leave() -> None:
        async with await open_stream(server.url("/flood"), loopback_policy(server)) as stream:
            assert await anext(stream)
        await stream.aclose()  # idempotent
        assert [chunk async for chunk in stream] == []

    run(open_and_leave())
    assert server.aborted.wait(10)


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


def test_policy_entries_are_validated() -> None:
    with pytest.raises(ValueError, match="allowed_hosts"):
        FetchPolicy(allowed_hosts=("not a host",))
    with pytest.raises(ValueError, match="allowed_ports"):
        FetchPolicy(allowed_ports=(0,))
    with pytest.raises(ValueError, match="max_redirects"):
        FetchPolicy(max_redirects=-1)
    policy = FetchPolicy(allowed_schemes=["HTTPS"], allowed_hosts=["[::1]", "Images.Example."])  # type: ignore[arg-type]
    assert policy.allowed_schemes == ("https",)
    check_url("https://images.example/", policy)


# --------------------------------------------------------------------------------------------- redirects


def test_a_redirect_to_an_allowed_target_is_followed(server: LocalServer) -> None:
    server.routes["/old"] = redirect("/image", 301)
    server.routes["/image"] = respond(PAYLOAD)
    data, stream = run(read_all(server.url("/old"), loopback_policy(server)))
    assert data == PAYLOAD
    assert stream.url == server.url("/image")
    assert server.paths() == ["/old", "/image"]


@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/latest/meta-data/", "http://[::ffff:a9fe:a9fe]/", "file:///etc/passwd"]
)
def test_a_redirect_to_a_refused_target_is_not_followed(server: LocalServer, guard: Guard, target: str) -> None:
    server.routes["/go"] = redirect(target)
    refused(server.url("/go"), FetchPolicy(allowed_ports=(server.port,), allowed_hosts=("127.0.0.1",)))
    assert guard.connections == [("127.0.0.1", server.port)]
    assert server.paths() == ["/go"]


def test_a_redirect_to_a_host_outside_allowed_hosts_is_refused(server: LocalServer) -> None:
    server.routes["/go"] = redirect(server.url("/image", host="localhost"))
    server.routes["/image"] = respond(PAYLOAD)
    resolver = FakeResolver({"images.test": ["127.0.0.1"]})
    policy = FetchPolicy(allowed_hosts=("images.test",), allowed_ports=(server.port,))
    error = refused(server.url("/go", host="images.test"), policy, resolver=resolver)
    assert error.rule == "allowed_hosts"
    assert resolver.calls == [("images.test", server.port)]  # the refused name was not even resolved
    assert server.paths() == ["/go"]


def test_a_redirect_chain_longer_than_max_redirects_is_refused(server: LocalServer) -> None:
    for n in range(1, 6):
        server.routes[f"/hop/{n}"] = redirect(f"/hop/{n - 1}", 307)
    server.routes["/hop/0"] = respond(PAYLOAD)
    policy = loopback_policy(server, max_redirects=3)
    data, _ = run(read_all(server.url("/hop/3"), policy))
    assert data == PAYLOAD
    server.requests.clear()
    error = refused(server.url("/hop/4"), policy)
    assert error.rule == "max_redirects"
    assert server.paths() == ["/hop/4", "/hop/3", "/hop/2", "/hop/1"]
    assert refused(server.url("/hop/1"), loopback_policy(server, max_redirects=0)).rule == "max_redirects"


def test_a_redirect_without_location_is_a_remote_error(server: LocalServer) -> None:
    server.routes["/go"] = redirect("", 303)
    with pytest.raises(RemoteFetchError) as caught:
        run(read_all(server.url("/go"), loopback_policy(server)))
    assert caught.value.status == 303


def test_credentials_stay_with_their_origin_and_out_of_messages(server: LocalServer) -> None:
    server.routes["/private"] = redirect(server.url("/image", host="localhost"))
    server.routes["/image"] = respond(PAYLOAD)
    policy = loopback_policy(server, allowed_hosts=("127.0.0.1", "localhost"))
    url = f"http://alice:s3cret@127.0.0.1:{server.port}/private"
    data, _ = run(read_all(url, policy))
    assert data == PAYLOAD
    first, second = (headers for _, headers in server.requests)
    assert first["Authorization"] == "Basic " + base64.b64encode(b"alice:s3cret").decode()
    assert second["Authorization"] is None
    with pytest.raises(RemoteFetchError) as caught:
        run(read_all(f"http://alice:s3cret@127.0.0.1:{server.port}/missing?token=t0ken", policy))
    assert "s3cret" not in caught.value.message
    assert "alice" not in caught.value.message
    assert "t0ken" not in caught.value.message


def test_redact() -> None:
    assert redact("https://user:pw@Images.Example:8443/a/b?sig=x#frag") == "https://images.example:8443/a/b?..."
    assert redact("http://images.example/a") == "http://images.example/a"
    assert redact("http://[::1") == "<invalid URL>"


# -------------------------------------------------------------------------------------------------- https


def test_https_to_a_pinned_address_verifies_the_host_name(tls_server: LocalServer, certificates: Certificates) -> None:
    tls_server.routes["/image"] = respond(PAYLOAD)
    resolver = FakeResolver({"images.test": ["127.0.0.1"]})
    policy = FetchPolicy(allowed_hosts=("images.test",), allowed_ports=(tls_server.port,), ca_file=str(certificates.ca))
    data, _ = run(read_all(tls_server.url("/image", scheme="https", host="images.test"), policy, resolver=resolver))
    assert data == PAYLOAD
    assert tls_server.sni == ["images.test"]
    assert tls_server.requests[0][1]["Host"] == f"images.test:{tls_server.port}"


def test_https_refuses_a_certificate_for_another_name(tls_server: LocalServer, certificates: Certificates) -> None:
    tls_server.routes["/image"] = respond(PAYLOAD)
    resolver = FakeResolver({"other.test": ["127.0.0.1"]})
    policy = FetchPolicy(allowed_hosts=("other.test",), allowed_ports=(tls_server.port,), ca_file=str(certificates.ca))
    with pytest.raises(RemoteFetchError, match="certificate"):
        run(read_all(tls_server.url("/image", scheme="https", host="other.test"), policy, resolver=resolver))
    assert tls_server.requests == []


def test_https_refuses_an_unknown_authority(tls_server: LocalServer, tmp_path: Path) -> None:
    other_ca = make_certificates(tmp_path, ["images.test"]).ca  # the right name, signed by another CA
    resolver = FakeResolver({"images.test": ["127.0.0.1"]})
    policy = FetchPolicy(allowed_hosts=("images.test",), allowed_ports=(tls_server.port,), ca_file=str(other_ca))
    with pytest.raises(RemoteFetchError, match="certificate"):
        run(read_all(tls_server.url("/image", scheme="https", host="images.test"), policy, resolver=resolver))


def test_a_redirect_from_https_to_http_is_refused(
    tls_server: LocalServer, server: LocalServer, certificates: Certificates
) -> None:
    server.routes["/image"] = respond(PAYLOAD)
    tls_server.routes["/go"] = redirect(server.url("/image", host="images.test"))
    resolver = FakeResolver({"images.test": ["127.0.0.1"]})
    policy = FetchPolicy(
        allowed_hosts=("images.test",), allowed_ports=(tls_server.port, server.port), ca_file=str(certificates.ca)
    )
    error = refused(tls_server.url("/go", scheme="https", host="images.test"), policy, resolver=resolver)
    assert error.rule == "https_downgrade"
    assert server.requests == []


# ----------------------------------------------------------------------------------------- size and time


def test_max_bytes_stops_a_stream_that_grows_past_it(server: LocalServer) -> None:
    server.routes["/flood"] = flood()
    received: list[bytes] = []

    async def consume() -> None:
        stream = await open_stream(server.url("/flood"), loopback_policy(server, max_bytes=MiB))
        assert stream.size is None
        async for chunk in stream:
            received.append(chunk)

    with pytest.raises(FetchTooLarge) as caught:
        run(consume())
    assert isinstance(caught.value, TooLarge)
    assert sum(map(len, received)) <= MiB
    assert server.aborted.wait(10)  # the connection was closed, the server could not send the rest


def test_a_content_length_over_max_bytes_is_refused_before_reading(server: LocalServer) -> None:
    server.routes["/huge"] = flood(announce=10 * 1024**3)
    with pytest.raises(FetchTooLarge, match=str(10 * 1024**3)):
        run(open_stream(server.url("/huge"), loopback_policy(server, max_bytes=MiB)))
    assert server.aborted.wait(10)


def test_a_body_of_exactly_max_bytes_is_accepted(server: LocalServer) -> None:
    server.routes["/image"] = respond(PAYLOAD, length=False)
    data, _ = run(read_all(server.url("/image"), loopback_policy(server, max_bytes=len(PAYLOAD))))
    assert data == PAYLOAD


def test_the_deadline_bounds_a_slow_body(server: LocalServer) -> None:
    server.routes["/slow"] = trickle(interval=0.05)
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="deadline"):
        run(read_all(server.url("/slow"), loopback_policy(server, deadline=0.5, read_timeout=5)))
    assert time.monotonic() - started < 3
    assert server.aborted.wait(10)


def test_the_deadline_bounds_waiting_for_the_headers(server: LocalServer) -> None:
    server.routes["/stall"] = stall_before_headers
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as caught:
        run(open_stream(server.url("/stall"), loopback_policy(server, deadline=0.5, read_timeout=5)))
    assert isinstance(caught.value, StoreError)
    assert time.monotonic() - started < 3


def test_the_read_timeout_bounds_a_silent_server(server: LocalServer) -> None:
    server.routes["/stall"] = stall_after_headers
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="timed out"):
        run(read_all(server.url("/stall"), loopback_policy(server, read_timeout=0.3)))
    assert time.monotonic() - started < 3


# -------------------------------------------------------------------------------------- remote failures


@pytest.mark.parametrize("status", [404, 500, 503])
def test_an_error_status_is_a_remote_error(server: LocalServer, status: int) -> None:
    server.routes["/image"] = respond(b"nope", status=status)
    with pytest.raises(RemoteFetchError) as caught:
        run(read_all(server.url("/image"), loopback_policy(server)))
    assert caught.value.status == status
    assert str(status) in caught.value.message
    assert server.url("/image") in caught.value.message


def test_a_refused_connection_is_a_remote_error(guard: Guard) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    policy = FetchPolicy(allowed_hosts=("127.0.0.1",), allowed_ports=(port,))
    with pytest.raises(RemoteFetchError, match="Could not connect") as caught:
        run(open_stream(f"http://127.0.0.1:{port}/image", policy))
    assert not isinstance(caught.value, BadRequest)
    assert guard.connections == [("127.0.0.1", port)]


def test_a_name_that_does_not_resolve_is_a_remote_error() -> None:
    with pytest.raises(RemoteFetchError, match="resolve"):
        run(open_stream("http://nowhere.invalid/", FetchPolicy()))


def test_a_truncated_body_is_a_remote_error(server: LocalServer) -> None:
    server.routes["/image"] = truncated
    with pytest.raises(RemoteFetchError):
        run(read_all(server.url("/image"), loopback_policy(server)))
