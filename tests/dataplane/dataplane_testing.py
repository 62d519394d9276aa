"""A lab of real namespaces for data plane tests: underlay, hosts, agents, instances.

Everything is named ``tcl-t<token>…`` (a token per test session, a lab id per
test) so the session sweep removes exactly what this run made. Agents are
the real :class:`~tricircle_lb.agent.service.Agent` with the real netlink
data plane, driven by the fake region of the unit tests (``agent_testing``).
"""

from __future__ import annotations

import itertools
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "agent"))

from agent_testing import Region

from tricircle_lb.agent.config import AgentConfig
from tricircle_lb.agent.service import Agent
from tricircle_lb.dataplane import (
    NetlinkDataplane,
    Underlay,
    UnderlaySpec,
)

Body = dict[str, Any]
SESSION_PREFIX = f"tcl-t{secrets.token_hex(2)}-"
_labs = itertools.count()


def sh(*args: str, check: bool = True, timeout: float = 15) -> str:
    return subprocess.run(args, check=check, capture_output=True, text=True,
                          timeout=timeout).stdout


def in_ns(ns: str, *args: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", ns, *args], capture_output=True, text=True,
                          timeout=timeout)


def eventually(check: Any, timeout: float = 8.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def pings(ns: str, ip: str, timeout: float = 8.0) -> bool:
    return eventually(lambda: in_ns(ns, "ping", "-c1", "-W1", ip).returncode == 0, timeout)


class LabRuntime:
    """An :class:`InstanceRuntime` over real namespaces; "running" is remembered in memory."""

    def __init__(self, dp: NetlinkDataplane, prefix: str) -> None:
        self.dp = dp
        self.prefix = prefix
        self.running: set[str] = set()
        self.started_in: dict[str, object] = {}
        self._ids: dict[str, str] = {}

    def namespace(self, instance_id: str) -> str:
        name = self.prefix + instance_id.replace("-", "")[:8]
        self._ids[name] = instance_id
        return name

    def ensure_namespace(self, instance_id: str) -> str:
        name = self.namespace(instance_id)
        self.dp.ensure_namespace(name)
        return name

    def is_running(self, instance_id: str) -> bool:
        return instance_id in self.running

    def _identity(self, instance_id: str) -> object:
        """The inode of the instance's namespace (None: gone)."""
        try:
            return os.stat(f"/run/netns/{self.namespace(instance_id)}").st_ino
        except OSError:
            return None

    def lost(self, instance_id: str) -> bool:
        """Started, and its namespace is gone or made anew since (a test deleted it)."""
        return instance_id in self.started_in and (
            self.started_in[instance_id] != self._identity(instance_id))

    def start(self, instance_id: str, hostname: str, user_data: bytes | None) -> None:
        self.running.add(instance_id)
        self.started_in[instance_id] = self._identity(instance_id)

    def remove(self, instance_id: str) -> None:
        self.running.discard(instance_id)
        self.dp.delete_namespace(self.namespace(instance_id))

    def known(self) -> list[str]:
        return [self._ids[n] for n in self.dp.namespaces() if n in self._ids]

    def console(self, instance_id: str) -> str:
        return ""


@dataclass
class Lab:
    """Hosts of two regions on one underlay; a fake region API per region."""

    hosts: dict[str, str]  # host -> region
    prefix: str = field(default_factory=lambda: f"{SESSION_PREFIX}{next(_labs)}-")
    dp: NetlinkDataplane = field(default_factory=NetlinkDataplane)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.spec = UnderlaySpec.plan(list(self.hosts), physical_networks=["physnet1",
                                                                           "physnet2"],
                                      namespace=self.prefix + "ul",
                                      host_prefix=self.prefix + "h-")
        self.regions = {r: Region() for r in sorted(set(self.hosts.values()))}
        self.runtimes = {h: LabRuntime(self.dp, f"{self.prefix}i{n}-")
                         for n, h in enumerate(self.hosts)}
        self.underlay = Underlay(self.spec, self.dp)

    def ns(self, host: str) -> str:
        return self.spec.host(host).namespace

    def config(self, host: str, tmp: Path) -> AgentConfig:
        h = self.spec.host(host)
        return AgentConfig(host=host, region_name=self.hosts[host], tunnel_ip=h.tunnel_ip,
                           state_dir=tmp, physical_interface_mappings=self.spec.
                           interface_mappings(), host_namespace=h.namespace,
                           poll_interval=0.2)

    def agent(self, host: str, tmp: Path) -> Agent:
        return Agent(self.config(host, tmp), self.regions[self.hosts[host]], self.dp,
                     runtime=self.runtimes[host])

    def network(self, network_type: str = "vxlan", segmentation_id: int | None = 1001,
                physical_network: str | None = None, cidr: str = "10.0.10.0/24"
                ) -> tuple[Body, Body]:
        first = next(iter(self.regions.values()))
        net = first.network(network_type, segmentation_id, physical_network)
        sub = first.subnet(net, cidr)
        for region in self.regions.values():
            if region is not first:
                region.networks_.append(net)
                region.subnets_.append(sub)
        return net, sub

    def instance(self, host: str, net: Body, sub: Body, ip: str) -> tuple[Body, Body]:
        """A server on ``host`` with a port; other regions get the port as a shadow port."""
        region_name = self.hosts[host]
        region = self.regions[region_name]
        vtep = self.spec.host(host).tunnel_ip
        server = region.server(host=host, status="BUILD")
        port = region.port(net, sub, ip, host=host, vtep=vtep, device_id=server["id"],
                           region=region_name)
        for _name, other in self.regions.items():
            if other is not region:
                other.ports.append({**port, "device_owner": "compute:shadow",
                                    "device_id": "", "binding:host_id": "",
                                    "status": "DOWN"})
        return server, port

    def instance_ns(self, host: str, server: Body) -> str:
        return self.runtimes[host].namespace(str(server["id"]))

    def serve_http(self, ns: str, ip: str, text: str, tmp: Path) -> None:
        root = tmp / f"www-{ns}"
        root.mkdir(exist_ok=True)
        (root / "index.html").write_text(text)
        self.processes.append(subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "http.server", "--bind", ip,
             "--directory", str(root), "8000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def curl(self, ns: str, ip: str) -> str:
        result = in_ns(ns, "curl", "-s", "--max-time", "2", f"http://{ip}:8000/")
        return result.stdout if result.returncode == 0 else ""

    def close(self) -> None:
        for proc in self.processes:
            proc.kill()
            proc.wait(timeout=5)
        self.dp.close()
