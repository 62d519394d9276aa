"""Fakes for agent tests: a region API answering from in-memory lists, an instance runtime.

Desired-state fixtures are built with :class:`Region`: ``network()``,
``subnet()``, ``port()``, ``server()`` return the bodies the real APIs
return (only the fields the agent reads), and the fake API filters them the
way Neutron and Nova do.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tricircle_lb.agent.api import ApiUnavailable
from tricircle_lb.agent.config import AgentConfig
from tricircle_lb.dataplane.fake import FakeDataplane
from tricircle_lb.guest.cgroups import Limits

Body = dict[str, Any]
HOST = "RegionOne-host1"
VTEP = "198.18.0.1"
HOST_NS = "tcl-h-RegionOne-host1"
_counter = itertools.count(1)


def uid(prefix: str) -> str:
    n = next(_counter)
    return f"{prefix}{n:07x}-0000-4000-8000-{n:012x}"


def mac(n: int) -> str:
    return f"fa:16:3e:00:{n // 256:02x}:{n % 256:02x}"


@dataclass
class Region:
    """The fake region: its resources and every call the agent made."""

    ports: list[Body] = field(default_factory=list)
    networks_: list[Body] = field(default_factory=list)
    subnets_: list[Body] = field(default_factory=list)
    servers: list[Body] | None = field(default_factory=list)
    groups: list[Body] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    writes: list[tuple[str, str, Body]] = field(default_factory=list)
    fail: bool = False

    # Building fixtures ----------------------------------------------------------
    def network(self, network_type: str = "vxlan", segmentation_id: int | None = 1001,
                physical_network: str | None = None, mtu: int | None = None) -> Body:
        body = {"id": uid("a"), "provider:network_type": network_type,
                "provider:segmentation_id": segmentation_id,
                "provider:physical_network": physical_network,
                "mtu": mtu or (1450 if network_type == "vxlan" else 1500)}
        self.networks_.append(body)
        return body

    def subnet(self, network: Body, cidr: str = "10.0.10.0/24",
               gateway_ip: str | None = None) -> Body:
        body = {"id": uid("b"), "network_id": network["id"], "cidr": cidr,
                "gateway_ip": gateway_ip}
        self.subnets_.append(body)
        return body

    def port(self, network: Body, subnet: Body, ip: str, *, host: str = HOST,
             vtep: str = VTEP, device_owner: str = "compute:nova", device_id: str = "",
             netns: str | None = None, status: str = "DOWN", region: str = "RegionOne",
             created_at: str | None = None) -> Body:
        n = next(_counter)
        profile: Body = {"region": region, "host": host, "tunnel_ip": vtep}
        if netns:
            profile["netns"] = netns
        body = {"id": uid("c"), "network_id": network["id"], "mac_address": mac(n),
                "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": ip}],
                "device_owner": device_owner, "device_id": device_id,
                "binding:host_id": host if device_owner != "compute:shadow" else "",
                "binding:profile": profile, "status": status,
                "created_at": created_at or f"2024-01-01T00:00:{n % 60:02d}Z"}
        self.ports.append(body)
        for server in self.servers or []:
            if server["id"] == device_id and device_owner.startswith("compute:"):
                self.attach(server, body)
        return body

    def attach(self, server: Body, port: Body) -> None:
        """Compute attached ``port`` to ``server``: it shows in the server's addresses."""
        server.setdefault("addresses", {}).setdefault("net", []).append({
            "addr": port["fixed_ips"][0]["ip_address"],
            "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]})

    def group(self, *rules: Body, stateful: bool = True) -> Body:
        """A security group with ``rules`` (bodies without ids, as in a create)."""
        body: Body = {"id": uid("e"), "stateful": stateful, "security_group_rules": []}
        for rule in rules:
            body["security_group_rules"].append(
                {"id": uid("f"), "security_group_id": body["id"], "protocol": None,
                 "port_range_min": None, "port_range_max": None, "remote_ip_prefix": None,
                 "remote_group_id": None} | rule)
        self.groups.append(body)
        return body

    def server(self, name: str = "vm", host: str = HOST, status: str = "BUILD",
               user_data: bytes | None = b"#!/bin/sh\necho hi\n") -> Body:
        assert self.servers is not None
        body = {"id": uid("d"), "name": name, "status": status,
                "OS-EXT-SRV-ATTR:host": host, "OS-EXT-STS:task_state": None,
                "OS-EXT-STS:power_state": 0,
                "OS-EXT-SRV-ATTR:user_data":
                    base64.b64encode(user_data).decode() if user_data else None}
        self.servers.append(body)
        return body

    def remove(self, body: Body) -> None:
        for collection in (self.ports, self.networks_, self.subnets_, self.servers or []):
            if body in collection:
                collection.remove(body)

    # RegionApi ----------------------------------------------------------------------
    def _read(self, what: str) -> None:
        if self.fail:
            raise ApiUnavailable("region down (test)")
        self.reads.append(what)

    def ports_on_host(self, host: str) -> list[Body]:
        self._read("ports?binding:host_id")
        return [dict(p) for p in self.ports if p["binding:host_id"] == host]

    def ports_of_networks(self, network_ids: Sequence[str]) -> list[Body]:
        self._read("ports?network_id")
        return [dict(p) for p in self.ports if p["network_id"] in network_ids]

    def networks(self, network_ids: Sequence[str]) -> list[Body]:
        self._read("networks?id")
        return [dict(n) for n in self.networks_ if n["id"] in network_ids]

    def subnets(self, subnet_ids: Sequence[str]) -> list[Body]:
        self._read("subnets?id")
        return [dict(s) for s in self.subnets_ if s["id"] in subnet_ids]

    def security_groups(self, group_ids: Sequence[str]) -> list[Body]:
        self._read("security-groups?id")
        return [dict(g) for g in self.groups if g["id"] in group_ids]

    def servers_on_host(self, host: str) -> list[Body] | None:
        self._read("servers/detail?host")
        if self.servers is None:
            return None
        return [dict(s) for s in self.servers if s["OS-EXT-SRV-ATTR:host"] == host]

    def report_agent(self, host: str, agent: Body) -> None:
        self.writes.append(("agent", host, agent))

    def set_port_status(self, port_id: str, status: str) -> None:
        self.writes.append(("port", port_id, {"status": status}))
        for p in self.ports:
            if p["id"] == port_id:
                p["status"] = status

    def update_server(self, server_id: str, server: Body) -> None:
        self.writes.append(("server", server_id, server))
        for s in self.servers or []:
            if s["id"] == server_id:
                if "status" in server:
                    s["status"] = server["status"]
                if "power_state" in server:
                    s["OS-EXT-STS:power_state"] = server["power_state"]


class FakeRuntime:
    """:class:`~tricircle_lb.agent.runtime_api.InstanceRuntime` over a fake dataplane."""

    def __init__(self, dataplane: FakeDataplane, fail_start: bool = False) -> None:
        self.dp = dataplane
        self.running: set[str] = set()
        self.started: list[str] = []
        self.removed: list[str] = []
        self.fail_start = fail_start
        self.started_in: dict[str, object] = {}
        self.booted_as: dict[str, tuple[Limits | None, bool]] = {}  # id -> (limits, service)
        self._ids: dict[str, str] = {}

    def namespace(self, instance_id: str) -> str:
        name = "tcl-i-" + instance_id.replace("-", "")[:12]
        self._ids[name] = instance_id
        return name

    def ensure_namespace(self, instance_id: str) -> str:
        name = self.namespace(instance_id)
        self.dp.ensure_namespace(name)
        return name

    def is_running(self, instance_id: str) -> bool:
        return instance_id in self.running

    def _identity(self, instance_id: str) -> object:
        return self.dp.namespace_identity(self.namespace(instance_id))

    def lost(self, instance_id: str) -> bool:
        """Started, and its namespace is gone or made anew since (a test deleted it)."""
        return instance_id in self.started_in and (
            self.started_in[instance_id] != self._identity(instance_id))

    def start(self, instance_id: str, hostname: str, user_data: bytes | None,
              limits: Limits | None = None, service: bool = False) -> None:
        if self.fail_start:
            raise RuntimeError("no such image command")
        self.booted_as[instance_id] = (limits, service)
        self.started.append(instance_id)
        self.running.add(instance_id)
        self.started_in[instance_id] = self._identity(instance_id)

    def remove(self, instance_id: str) -> None:
        self.removed.append(instance_id)
        self.running.discard(instance_id)
        self.dp.delete_namespace(self.namespace(instance_id))

    def known(self) -> list[str]:
        return [self._ids[n] for n in self.dp.namespaces() if n in self._ids]

    def console(self, instance_id: str) -> str:
        return f"console of {instance_id}\n" if instance_id in self.running else ""


def agent_config(tmp: Path, **overrides: Any) -> AgentConfig:
    values: dict[str, Any] = {
        "host": HOST, "region_name": "RegionOne", "tunnel_ip": VTEP, "state_dir": tmp,
        "underlay_device": "ul0",
        "physical_interface_mappings": {"physnet1": "pn0", "physnet2": "pn1"},
        "host_namespace": HOST_NS,
    }
    values.update(overrides)
    return AgentConfig(**values)


def host_dataplane() -> FakeDataplane:
    """A fake kernel with the host namespace the underlay would have made."""
    dp = FakeDataplane()
    dp.ensure_namespace(HOST_NS)
    for dev in ("ul0", "pn0", "pn1"):
        dp.ensure_veth(HOST_NS, dev, "", "x" + dev)
        dp.set_link(HOST_NS, dev, up=True)
    dp.changes.clear()
    dp.calls.clear()
    return dp
