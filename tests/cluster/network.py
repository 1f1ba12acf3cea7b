"""Network namespaces for the cluster tests: one per node, each wired to a bridge on the host.

A ``Network`` owns a bridge ``glb<pid>`` holding ``10.X.Y.1/24`` (X.Y chosen at random among the /24s no route
of the machine covers) and, for each namespace it makes (``glimpse-<pid>-<name>``), a veth pair whose host end
is on the bridge and whose other end, inside the namespace, holds ``10.X.Y.<10+i>/24``. Names carry the pid
of the process that made them, so two runs side by side never meet, and a run that was killed before its
teardown is swept by the next one (`sweep_stale`). Needs root (CI runs as root); `ip` is iproute2's.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import re
import signal
import subprocess
from dataclasses import dataclass, field

PREFIX = "glimpse-"
NAMESPACE = re.compile(rf"^{PREFIX}(\d+)-")
BRIDGE = re.compile(r"^glb(\d+)$")


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def namespaces() -> list[str]:
    """The names of the machine's network namespaces."""
    return [line.split()[0] for line in ip("netns", "list").stdout.splitlines() if line.strip()]


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


def _kill_inside(namespace: str) -> None:
    """SIGKILL whatever still runs in ``namespace`` (a namespace outlives its name while processes use it)."""
    for pid in ip("netns", "pids", namespace, check=False).stdout.split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def sweep_stale() -> list[str]:
    """Remove the namespaces and bridges of runs whose process is gone (killed before their teardown)."""
    swept = []
    for name in namespaces():
        match = NAMESPACE.match(name)
        if match and not _alive(int(match.group(1))):
            _kill_inside(name)
            ip("netns", "del", name, check=False)
            swept.append(name)
    for line in ip("-o", "link", "show", "type", "bridge").stdout.splitlines():
        link = line.split(":")[1].strip()
        match = BRIDGE.match(link)
        if match and not _alive(int(match.group(1))):
            ip("link", "del", link, check=False)
            swept.append(link)
    return swept


def free_subnet() -> ipaddress.IPv4Network:
    """A 10.X.Y.0/24 that no route of the machine overlaps."""
    routes = []
    for line in ip("-4", "route", "show", "table", "all").stdout.splitlines():
        word = line.split()[0] if line.split() else ""
        if word in ("local", "broadcast", "unreachable", "blackhole", "prohibit"):
            word = line.split()[1]
        if word == "default":
            continue
        try:
            routes.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            continue
    for _ in range(100):
        subnet = ipaddress.ip_network(f"10.{random.randint(200, 249)}.{random.randint(0, 255)}.0/24")
        if not any(subnet.overlaps(route) for route in routes):
            return subnet
    raise RuntimeError("no free 10.x.y.0/24 found among the machine's routes")


@dataclass
class Network:
    """A bridge on the host and the namespaces behind it; ``close()`` removes them all."""

    subnet: ipaddress.IPv4Network = field(default_factory=free_subnet)
    tag: str = field(default_factory=lambda: str(os.getpid()))
    members: dict[str, str] = field(default_factory=dict)  # namespace -> its address

    @property
    def bridge(self) -> str:
        return f"glb{self.tag}"

    @property
    def host_address(self) -> str:
        """The host's address on the bridge: what the namespaces reach the host's services at."""
        return str(self.subnet.network_address + 1)

    def open(self) -> Network:
        sweep_stale()
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.host_address}/{self.subnet.prefixlen}", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        return self

    def add(self, name: str) -> tuple[str, str]:
        """A new namespace ``glimpse-<pid>-<name>`` on the bridge: (its name, its address)."""
        index = len(self.members) + 1
        namespace = f"{PREFIX}{self.tag}-{name}"
        address = str(self.subnet.network_address + 10 + index)
        host_end, inner_end = f"glv{self.tag}h{index}", f"glv{self.tag}n{index}"
        ip("netns", "add", namespace)
        self.members[namespace] = address
        ip("link", "add", host_end, "type", "veth", "peer", "name", inner_end)
        ip("link", "set", host_end, "master", self.bridge)
        ip("link", "set", host_end, "up")
        ip("link", "set", inner_end, "netns", namespace)
        inside = ("-n", namespace)
        ip(*inside, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", inner_end)
        ip(*inside, "link", "set", inner_end, "up")
        ip(*inside, "link", "set", "lo", "up")
        return namespace, address

    def close(self) -> None:
        """Kill what still runs inside, delete every veth pair (now: a namespace's deletion takes its end away
        only when the kernel gets round to it), every namespace, then the bridge."""
        for index, namespace in enumerate(list(self.members), start=1):
            _kill_inside(namespace)
            ip("link", "del", f"glv{self.tag}h{index}", check=False)
            ip("netns", "del", namespace, check=False)
            del self.members[namespace]
        ip("link", "del", self.bridge, check=False)

    def leftovers(self) -> list[str]:
        """What of this network is still on the machine (empty after ``close()``)."""
        links = ip("-o", "link", "show").stdout
        found = [name for name in namespaces() if name.startswith(f"{PREFIX}{self.tag}-")]
        found += [word for word in re.findall(rf"\b(glb{self.tag}|glv{self.tag}[hn]\d+)\b", links)]
        return found
