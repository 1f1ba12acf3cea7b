"""The image cache against real `glimpse serve` processes: python-glanceclient's cache-* commands,
openstacksdk's cache calls, and two API nodes on one database, each with its own cache directory.

Both nodes share the data directory (store, tokens) and the database, as two API nodes behind one load
balancer share their stores and database; only the cache directory and the node identity differ.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import GlanceCLI, GlimpseServer, create_tokens, parse_table
from tests.serverproc import free_port, new_database, server_env, spawn, stop, wait_for_root

pytestmark = pytest.mark.e2e
DEADLINE = 90.0


@dataclass
class Node:
    server: GlimpseServer
    cache_dir: Path
    name: str


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node]]:
    root = tmp_path_factory.mktemp("e2e-cache")
    data_dir, home = root / "data", root / "home"
    home.mkdir()
    with new_database(root, prefix="glimpse_cache") as url:
        base = server_env(data_dir, url, home)
        tokens = create_tokens(base, ("admin", "alpha"))
        started: list[Node] = []
        try:
            for label in ("a", "b"):
                port = free_port()
                name = f"http://127.0.0.1:{port}"
                env = {**base, "GLIMPSE_IMAGE_CACHE_DIR": str(root / f"cache-{label}"),
                       "GLIMPSE_WORKER_SELF_REFERENCE_URL": name, "GLIMPSE_IMAGE_CACHE_MIN_FREE": "0"}  # fmt: skip
                server = GlimpseServer(url=name, tokens=tokens, log_file=root / f"node-{label}.log", home=home)
                server.process = spawn(port, env, server.log_file)
                status = wait_for_root(server.process, port)
                assert status == 300, f"node {label} did not start:\n{server.log_tail()}"
                started.append(Node(server, root / f"cache-{label}", name))
            yield started[0], started[1]
        finally:
            for node in started:
                assert node.server.process is not None
                stop(node.server.process)


def glance(node: Node, user: str = "admin") -> GlanceCLI:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(HOME=str(node.server.home), XDG_CACHE_HOME=str(node.server.home / ".cache"), COLUMNS="250")
    return GlanceCLI(server=node.server, env=env)


def sdk(node: Node, user: str = "admin") -> Any:
    import openstack.connection

    return openstack.connection.Connection(
        auth_type="admin_token",
        auth={"endpoint": node.server.url, "token": node.server.tokens[user]},
        image_endpoint_override=node.server.url,
    )


def make_image(node: Node, tmp_path: Path, size: int = 3 * 1024 * 1024) -> tuple[str, bytes]:
    data = os.urandom(size)
    source = tmp_path / f"image-{time.monotonic_ns()}"
    source.write_bytes(data)
    created = glance(node).run("admin", "image-create", "--disk-format", "raw", "--container-format", "bare",
                               "--file", str(source))  # fmt: skip
    rows = {row[0]: row[1] for row in parse_table(created.stdout)[1:]}
    assert rows["status"] == "active"
    return rows["id"], data


def cache_rows(node: Node) -> dict[str, str]:
    """`glance cache-list`: image id -> state."""
    listed = glance(node).run("admin", "cache-list")
    return {row[0]: row[1] for row in parse_table(listed.stdout)[1:]}


def wait_until(condition: Any, what: str, within: float = DEADLINE) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        time.sleep(0.1)


def test_glanceclient_cache_commands(nodes: tuple[Node, Node], tmp_path: Path) -> None:
    node, _ = nodes
    cli = glance(node)
    image_id, data = make_image(node, tmp_path)
    cli.run("admin", "cache-queue", image_id)
    wait_until(lambda: cache_rows(node).get(image_id) == "cached", f"{image_id} cached")
    assert (node.cache_dir / "data" / image_id).read_bytes() == data

    target = tmp_path / "download"
    cli.run("admin", "image-download", "--file", str(target), image_id)  # served from the cache
    assert target.read_bytes() == data
    listed = parse_table(cli.run("admin", "cache-list").stdout)
    assert listed[0] == ["ID", "State", "Last Accessed (UTC)", "Last Modified (UTC)", "Size", "Hits"]
    row = next(r for r in listed[1:] if r[0] == image_id)
    assert row[4] == str(len(data))
    assert row[5] == "1"

    cli.run("admin", "cache-delete", image_id)
    assert image_id not in cache_rows(node)
    assert not (node.cache_dir / "data" / image_id).exists()

    cli.run("admin", "cache-queue", image_id)
    wait_until(lambda: cache_rows(node).get(image_id) == "cached", f"{image_id} cached again")
    cli.run("admin", "cache-clear", "--target", "queue")
    assert cache_rows(node).get(image_id) == "cached"
    cli.run("admin", "cache-clear")
    assert image_id not in cache_rows(node)

    cleaned = cli.run("admin", "cache-clean")
    assert cleaned.returncode == 0
    pruned = cli.run("admin", "cache-prune")
    assert "0" in pruned.stdout

    refused = glance(node).run("alpha", "cache-list", check=False)
    assert refused.returncode != 0
    assert "403" in refused.stderr or "not permitted" in refused.stderr.lower() or "forbidden" in refused.stderr.lower()


def test_openstacksdk_cache_calls(nodes: tuple[Node, Node], tmp_path: Path) -> None:
    node, _ = nodes
    conn = sdk(node)
    try:
        image_id, _ = make_image(node, tmp_path, size=1024 * 1024)
        conn.image.queue_image(image_id)
        wait_until(lambda: any(e["image_id"] == image_id for e in conn.image.get_image_cache().cached_images),
                   f"{image_id} cached")  # fmt: skip
        assert conn.image.cached_image_nodes(image_id) == [node.name]
        conn.image.cache_delete_image(image_id)
        assert all(e["image_id"] != image_id for e in conn.image.get_image_cache().cached_images)
        conn.image.queue_image(image_id)
        wait_until(lambda: any(e["image_id"] == image_id for e in conn.image.get_image_cache().cached_images),
                   f"{image_id} cached again")  # fmt: skip
        conn.image.clear_cache("cache")
        assert conn.image.get_image_cache().cached_images == []
        conn.image.clean_cache()
        pruned = conn.image.prune_cache()
        assert pruned is None or "total_files_pruned" in str(pruned) or pruned == {}
    finally:
        conn.close()


def test_nodes_name_the_node_holding_the_image(nodes: tuple[Node, Node], tmp_path: Path) -> None:
    node_a, node_b = nodes
    image_id, data = make_image(node_a, tmp_path)
    glance(node_b).run("admin", "cache-queue", image_id)  # node b caches it, node a does not
    wait_until(lambda: cache_rows(node_b).get(image_id) == "cached", f"{image_id} cached on node b")
    for asked in (node_a, node_b):
        listed = glance(asked).run("admin", "cache-nodes-list", image_id)
        assert node_b.name in listed.stdout
        assert node_a.name not in listed.stdout
    assert image_id not in cache_rows(node_a)
    assert not (node_a.cache_dir / "data" / image_id).exists()

    # a download through node a fills node a's cache as it streams; then both nodes hold it
    target = tmp_path / "through-a"
    glance(node_a).run("admin", "image-download", "--file", str(target), image_id)
    assert target.read_bytes() == data
    wait_until(lambda: cache_rows(node_a).get(image_id) == "cached", f"{image_id} cached on node a")
    listed = glance(node_b).run("admin", "cache-nodes-list", image_id).stdout
    assert node_a.name in listed
    assert node_b.name in listed

    # deleting the image through node a: node b refuses it at once (each request reads the image's status),
    # and each node's worker evicts its copy at its next poll, without a clean or a request
    glance(node_a).run("admin", "image-delete", image_id)
    refused = glance(node_b).run("admin", "image-download", "--file", str(tmp_path / "gone"), image_id, check=False)
    assert refused.returncode != 0
    assert "404" in refused.stderr or "not found" in refused.stderr.lower()
    for node in (node_a, node_b):
        wait_until(lambda n=node: not (n.cache_dir / "data" / image_id).exists(), f"{image_id} evicted", 10.0)
        assert image_id not in cache_rows(node)
    listed_after = glance(node_a).run("admin", "cache-nodes-list", image_id, check=False)
    assert "not found" in listed_after.stderr.lower()  # glanceclient prints the 404 (and exits 0)
    assert node_b.name not in listed_after.stdout


def test_a_deactivated_image_leaves_every_nodes_cache(nodes: tuple[Node, Node], tmp_path: Path) -> None:
    node_a, node_b = nodes
    image_id, data = make_image(node_a, tmp_path)
    glance(node_a).run("admin", "image-update", "--visibility", "public", image_id)
    glance(node_b).run("admin", "cache-queue", image_id)
    wait_until(lambda: cache_rows(node_b).get(image_id) == "cached", f"{image_id} cached on node b")

    glance(node_a).run("admin", "image-deactivate", image_id)
    # node b, asked at once: a member of another project is refused; no request reaches node b's cache
    refused = glance(node_b).run("alpha", "image-download", "--file", str(tmp_path / "refused"), image_id,
                                 check=False)  # fmt: skip
    assert refused.returncode != 0
    assert "403" in refused.stderr or "forbidden" in refused.stderr.lower() or "deactivated" in refused.stderr.lower()
    # node b's worker evicts its copy within seconds (no clean, no download through node b)
    wait_until(lambda: not (node_b.cache_dir / "data" / image_id).exists(), f"{image_id} evicted from b", 10.0)
    assert image_id not in cache_rows(node_b)
    assert node_b.name not in glance(node_a).run("admin", "cache-nodes-list", image_id).stdout

    # reactivated, the admin's download through node b comes from the store (and fills b's cache again)
    glance(node_a).run("admin", "image-reactivate", image_id)
    target = tmp_path / "again"
    glance(node_b).run("admin", "image-download", "--file", str(target), image_id)
    assert target.read_bytes() == data
    wait_until(lambda: cache_rows(node_b).get(image_id) == "cached", f"{image_id} cached on node b again")


def test_a_client_hanging_up_after_its_last_byte_still_fills_the_cache(
    nodes: tuple[Node, Node], tmp_path: Path
) -> None:
    node, _ = nodes
    image_id, data = make_image(node, tmp_path, size=32 * 1024 * 1024)
    target = tmp_path / "curl-download"
    # curl closes the connection as soon as it has Content-Length bytes
    token = f"X-Auth-Token: {node.server.tokens['admin']}"
    subprocess.run(["curl", "-sS", "--noproxy", "*", "-o", str(target), "-H", token,
                    f"{node.server.url}/v2/images/{image_id}/file"], check=True, timeout=120)  # fmt: skip
    assert target.read_bytes() == data
    wait_until(lambda: cache_rows(node).get(image_id) == "cached", f"{image_id} cached by the download")


def test_cached_reads_are_sent_whole_and_ranged_on_one_connection(nodes: tuple[Node, Node], tmp_path: Path) -> None:
    """Reads from the cache go out with sendfile (the server's zero-copy send): whole, ranged, one after another
    on one keep-alive connection, and a client hanging up half way leaves the connection's server fine."""
    import http.client
    import socket

    node, _ = nodes
    image_id, data = make_image(node, tmp_path, size=24 * 1024 * 1024 + 123)
    glance(node).run("admin", "cache-queue", image_id)
    wait_until(lambda: cache_rows(node).get(image_id) == "cached", f"{image_id} cached")
    host, port = node.server.url.removeprefix("http://").split(":")
    headers = {"X-Auth-Token": node.server.tokens["admin"]}
    path = f"/v2/images/{image_id}/file"
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        for wanted, status, expected in (
            (None, 200, data),
            ("bytes=0-0", 206, data[:1]),
            ("bytes=1000000-9999999", 206, data[1000000:10000000]),
            ("bytes=-77", 206, data[-77:]),
            (None, 200, data),
        ):
            conn.request("GET", path, headers=headers | ({"Range": wanted} if wanted else {}))
            response = conn.getresponse()
            body = response.read()
            assert (response.status, len(body)) == (status, len(expected))
            assert body == expected
    finally:
        conn.close()

    # a client that reads the head and a little of the body, then hangs up
    with socket.create_connection((host, int(port))) as sock:
        token = headers["X-Auth-Token"]
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {token}\r\n\r\n".encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    target = tmp_path / "after"
    glance(node).run("admin", "image-download", "--file", str(target), image_id)
    assert target.read_bytes() == data
