"""glimpse.services.fetch.client: downloading from the checked address, redirects hop by hop, https with the
name kept, size and time limits, remote failures; against real servers on 127.0.0.1.
"""

from __future__ import annotations

import base64
import socket
import time
from pathlib import Path

import pytest

from glimpse.errors import BadRequest, StoreError, TooLarge
from glimpse.services.fetch import FetchPolicy, FetchTimeout, FetchTooLarge, RemoteFetchError, open_stream, redact
from tests.tls import Certificates, make_certificates
from tests.unit.services.fetch.support import (
    PAYLOAD,
    FakeResolver,
    Guard,
    LocalServer,
    MiB,
    flood,
    loopback_policy,
    read_all,
    redirect,
    refused,
    respond,
    run,
    stall_after_headers,
    stall_before_headers,
    trickle,
    truncated,
)

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
