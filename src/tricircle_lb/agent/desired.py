"""Desired state of one host, computed from the region's answers (pure, no I/O).

A reconcile reads the region with a constant number of calls
(:meth:`tricircle_lb.agent.api.RegionApi`), and :func:`build` turns the
answers into typed values the reconciler diffs against the kernel.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tricircle_lb.agent.firewall import FirewallSpec, filtered
from tricircle_lb.agent.firewall import build as build_firewall
from tricircle_lb.agent.instances import amphora_boot
from tricircle_lb.compute.catalog import image_id_of
from tricircle_lb.dataplane.interface import FdbEntry, Neighbour
from tricircle_lb.dataplane.names import bridge_name, tap_name, vlan_name, vxlan_name
from tricircle_lb.guest.cgroups import Limits

LOG = logging.getLogger(__name__)
Body = dict[str, Any]

SHADOW_OWNER = "compute:shadow"
AMPHORA_IMAGE = "amphora-x64-haproxy"
DEFAULT_MTU = 1500


@dataclass(frozen=True)
class NetworkSpec:
    id: str
    network_type: str  # vxlan, vlan, flat, local
    segmentation_id: int | None
    physical_network: str | None
    mtu: int

    @property
    def bridge(self) -> str:
        return bridge_name(self.id)

    def segment_device(self, mappings: dict[str, str]) -> str | None:
        """The device to enslave to the bridge (``None``: local-only network)."""
        if self.network_type == "vxlan" and self.segmentation_id is not None:
            return vxlan_name(self.segmentation_id)
        device = mappings.get(self.physical_network or "")
        if device is None:
            return None
        if self.network_type == "vlan" and self.segmentation_id is not None:
            return vlan_name(device, self.segmentation_id)
        if self.network_type == "flat":
            return device
        return None


@dataclass(frozen=True)
class PortPlug:
    """Plug port ``port_id`` into namespace ``namespace`` as interface ``ifname``."""

    port_id: str
    network_id: str
    mac: str
    mtu: int
    namespace: str
    ifname: str
    addresses: tuple[str, ...]  # CIDRs: 10.0.10.5/24
    gateway: str | None  # default route via this, if set
    status: str
    instance_id: str | None = None

    @property
    def tap(self) -> str:
        return tap_name(self.port_id)


@dataclass(frozen=True)
class Instance:
    id: str
    name: str
    status: str
    power_state: int | None
    user_data: bytes | None
    fault: str | None
    # Compute's task: ``scheduling``/``networking`` while it still binds ports,
    # ``spawning`` once every port is bound to this host (then it may start).
    task_state: str | None = None
    image_id: str | None = None
    # MACs of the ports compute attached to it (its ``addresses``): the only ports
    # the agent plugs into it, whatever device_id another project writes on a port.
    macs: frozenset[str] = frozenset()
    # Its flavor's RAM and vCPUs (the server's ``flavor`` since microversion 2.47).
    limits: Limits | None = None
    service: bool = False  # an amphora: the operator's service guest

    @property
    def ports_bound(self) -> bool:
        return self.task_state not in ("scheduling", "networking")


@dataclass
class DesiredState:
    networks: dict[str, NetworkSpec] = field(default_factory=dict)
    plugs: list[PortPlug] = field(default_factory=list)
    fdb: dict[str, set[FdbEntry]] = field(default_factory=dict)  # network id -> entries
    neighbours: dict[str, set[Neighbour]] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    manage_instances: bool = True  # False when the region has no compute service
    # Security groups of the plugged ports; None: the agent does not filter.
    firewall: FirewallSpec | None = None


def security_group_ids(local_ports: Iterable[Body]) -> list[str]:
    """The groups whose rules the firewall needs: those of filtered ports."""
    return sorted({str(g) for p in local_ports if filtered(p)
                   for g in p.get("security_groups") or []})


def network_ids(local_ports: Iterable[Body]) -> list[str]:
    return sorted({str(p["network_id"]) for p in local_ports if p.get("network_id")})


def subnet_ids(local_ports: Iterable[Body]) -> list[str]:
    return sorted({str(ip["subnet_id"]) for p in local_ports
                   for ip in p.get("fixed_ips") or [] if ip.get("subnet_id")})


def _network(body: Body) -> NetworkSpec:
    seg = body.get("provider:segmentation_id")
    return NetworkSpec(
        id=str(body["id"]),
        network_type=str(body.get("provider:network_type") or "local"),
        segmentation_id=int(seg) if seg is not None else None,
        physical_network=body.get("provider:physical_network"),
        mtu=int(body.get("mtu") or DEFAULT_MTU),
    )


def _instance(body: Body, amphora_image: str | None) -> Instance:
    raw = body.get("OS-EXT-SRV-ATTR:user_data")
    user_data = None
    if raw:
        try:
            user_data = base64.b64decode(raw)
        except (binascii.Error, ValueError):
            LOG.warning("server %s: user_data is not base64", body.get("id"))
    image = body.get("image")
    image_id = str(image["id"]) if isinstance(image, dict) and image.get("id") else None
    service = amphora_image is not None and image_id == amphora_image
    if service:
        # The amphora image carries the agent; its user-data is the agent's config.
        user_data = amphora_boot(user_data)
    fault = body.get("fault")
    macs = frozenset(str(entry.get("OS-EXT-IPS-MAC:mac_addr") or "").lower()
                     for entries in (body.get("addresses") or {}).values()
                     for entry in entries if isinstance(entry, dict))
    return Instance(
        id=str(body["id"]),
        name=str(body.get("name") or body["id"]),
        status=str(body.get("status") or ""),
        power_state=body.get("OS-EXT-STS:power_state"),
        user_data=user_data,
        fault=str(fault.get("message")) if isinstance(fault, dict) else None,
        task_state=body.get("OS-EXT-STS:task_state"),
        image_id=image_id,
        macs=macs,
        limits=_limits(body.get("flavor")),
        service=service,
    )


def _limits(flavor: object) -> Limits | None:
    if not isinstance(flavor, dict):
        return None
    try:
        return Limits(memory_mb=int(flavor["ram"]), vcpus=int(flavor["vcpus"]))
    except (KeyError, TypeError, ValueError):
        return None  # before 2.47 the flavor is only a link


def _addresses(port: Body, subnets: dict[str, Body]) -> tuple[tuple[str, ...], str | None]:
    cidrs = []
    gateway = None
    for ip in port.get("fixed_ips") or []:
        subnet = subnets.get(str(ip.get("subnet_id")))
        if subnet is None or not ip.get("ip_address"):
            continue
        prefix = ipaddress.ip_network(subnet["cidr"]).prefixlen
        cidrs.append(f"{ip['ip_address']}/{prefix}")
        if gateway is None and subnet.get("gateway_ip"):
            gateway = str(subnet["gateway_ip"])
    return tuple(cidrs), gateway


def _creation_key(port: Body) -> tuple[str, str]:
    return (str(port.get("created_at") or ""), str(port["id"]))


def build(*, host: str, tunnel_ip: str, local_ports: list[Body], network_ports: list[Body],
          networks: list[Body], subnets: list[Body], servers: list[Body] | None,
          instance_namespace: Callable[[str], str], region: str | None = None,
          security_groups: list[Body] | None = None) -> DesiredState:
    """What this host should look like.

    - compute ports (not ``compute:shadow``) of instances placed here go into
      the instance's namespace as ``eth<N>`` (N by port creation order);
    - other ports go into ``binding:profile["netns"]`` if given (the probe or
      controller owns that namespace), as ``binding:profile["ifname"]`` or
      ``ns-<port id[:11]>``; ports without either are not plugged;
    - ports on the same networks bound to another VTEP become FDB entries
      (plus the all-zeros flood entry per VTEP) and neighbour entries;
    - an instance booted from ``region``'s amphora image runs the amphora agent
      with its user-data as configuration (:func:`~.instances.amphora_boot`);
    - with ``security_groups`` (those of the ports), the plugged ports' firewall
      (:func:`~.firewall.build`).
    """
    state = DesiredState(manage_instances=servers is not None)
    amphora_image = image_id_of(region, AMPHORA_IMAGE) if region else None
    nets = {n.id: n for n in map(_network, networks)}
    subnet_by_id = {str(s["id"]): s for s in subnets}
    if servers is not None:
        for body in servers:
            if (body.get("OS-EXT-SRV-ATTR:host") in (host, None)
                    and body.get("OS-EXT-STS:task_state") != "deleting"
                    and body.get("status") != "DELETED"):
                inst = _instance(body, amphora_image)
                state.instances[inst.id] = inst

    by_instance: dict[str, list[Body]] = defaultdict(list)
    plugs: list[PortPlug] = []
    for port in sorted(local_ports, key=_creation_key):
        network = nets.get(str(port.get("network_id")))
        if network is None:
            continue
        owner = str(port.get("device_owner") or "")
        if owner.startswith("compute:") and owner != SHADOW_OWNER:
            owner_instance = state.instances.get(str(port.get("device_id")))
            if owner_instance is None:
                continue
            if str(port.get("mac_address") or "").lower() in owner_instance.macs:
                by_instance[owner_instance.id].append(port)
            else:
                LOG.debug("port %s names instance %s, which compute did not attach it to",
                          port.get("id"), owner_instance.id)
            continue
        profile = port.get("binding:profile") or {}
        namespace = profile.get("netns") if isinstance(profile, dict) else None
        if not namespace or owner == SHADOW_OWNER:
            continue
        cidrs, _gateway = _addresses(port, subnet_by_id)
        plugs.append(PortPlug(
            port_id=str(port["id"]), network_id=network.id, mac=str(port["mac_address"]),
            mtu=network.mtu, namespace=str(namespace),
            ifname=str(profile.get("ifname") or "ns-" + str(port["id"])[:11]),
            addresses=cidrs, gateway=None, status=str(port.get("status") or "")))

    for instance_id, ports in by_instance.items():
        for n, port in enumerate(ports):
            network = nets[str(port["network_id"])]
            cidrs, gateway = _addresses(port, subnet_by_id)
            plugs.append(PortPlug(
                port_id=str(port["id"]), network_id=network.id, mac=str(port["mac_address"]),
                mtu=network.mtu, namespace=instance_namespace(instance_id), ifname=f"eth{n}",
                addresses=cidrs, gateway=gateway if n == 0 else None,
                status=str(port.get("status") or ""), instance_id=instance_id))
    state.plugs = sorted(plugs, key=lambda p: (p.namespace, p.ifname))

    if security_groups is not None:
        state.firewall = build_firewall(
            plugged=[(p.port_id, p.network_id) for p in state.plugs],
            ports=[*network_ports, *local_ports], groups=security_groups)
    wanted_networks = {p.network_id for p in state.plugs}
    state.networks = {i: nets[i] for i in sorted(wanted_networks)}
    for port in network_ports:
        network = state.networks.get(str(port.get("network_id")))
        if network is None or network.network_type != "vxlan":
            continue
        profile = port.get("binding:profile") or {}
        vtep = profile.get("tunnel_ip") if isinstance(profile, dict) else None
        if not vtep or vtep == tunnel_ip or not port.get("mac_address"):
            continue
        mac = str(port["mac_address"]).lower()
        entries = state.fdb.setdefault(network.id, set())
        entries.add(FdbEntry(mac, str(vtep)))
        entries.add(FdbEntry("00:00:00:00:00:00", str(vtep)))
        for ip in port.get("fixed_ips") or []:
            if ip.get("ip_address"):
                state.neighbours.setdefault(network.id, set()).add(
                    Neighbour(str(ip["ip_address"]), mac))
    return state
