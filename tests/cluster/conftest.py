"""The cluster fixture: two `glimpse serve` nodes and two `glimpse worker`s, each in its own network namespace,
behind HAProxy, sharing the machine's PostgreSQL, a filesystem store (the default) and the machine's Swift
(scripts/swift-up; the store `swift`) (tests/cluster/cluster.py).

One cluster for the package (it takes a few seconds to start; torn down after the package's last test, so
it does not idle through the rest of the pass); the tests share it, so every test names its
images uniquely. Runs in the PostgreSQL pass only (several machines share a database server, not an SQLite
file) and needs root for the namespaces, as CI has: without root or the tools it fails, it never skips.
After the session, nothing of it is left on the machine: no namespace, no veth, no bridge, no HAProxy.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.cluster.cluster import Cluster, tools_missing

CLUSTER_KEY = pytest.StashKey[Cluster]()


@pytest.fixture(scope="package")
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    assert os.geteuid() == 0, "the cluster tests make network namespaces: they run as root (CI does)"
    assert not tools_missing(), f"missing {tools_missing()}: run `make system-deps`"
    with Cluster(tmp_path_factory.mktemp("cluster"), nodes=2, workers=2, swift=True) as running:
        request.config.stash[CLUSTER_KEY] = running
        try:
            yield running
        finally:
            del request.config.stash[CLUSTER_KEY]
    leftovers = running.network.leftovers()
    assert not leftovers, f"the cluster's teardown left {leftovers}"


@pytest.fixture(scope="package")
def glance(cluster: Cluster) -> Callable[[str], Any]:
    """``glance(user)`` -> a python-glanceclient v2 Client talking to HAProxy as that user."""
    import glanceclient  # type: ignore[import-untyped]

    def make(user: str) -> Any:
        return glanceclient.Client("2", endpoint=cluster.url, token=cluster.tokens[user])

    return make


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach every node's and worker's log tail to the report of a failing cluster test."""
    report: Any = yield
    running = item.config.stash.get(CLUSTER_KEY, None)
    if report.failed and running is not None:
        report.sections.append(("cluster logs (tails)", running.logs()))
    return report  # type: ignore[no-any-return]
