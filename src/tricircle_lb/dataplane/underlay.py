"""The embedded underlay: hosts as namespaces on a "physical switch" namespace.

::

    tcl-underlay                         tcl-h-RegionOne-host1
    +------------------------------+     +-------------------------+
    | ul-br  (IP underlay switch)  |-----| ul0  198.18.0.1/15 VTEP |
    |   u<hash>  u<hash>  ...      |     | pn0  (physnet1 trunk)   |
    | pn-physnet1 (VLAN trunk)     |-----| pn1  (physnet2 trunk)   |
    | pn-physnet2                  |     +-------------------------+
    +------------------------------+     tcl-h-RegionTwo-host1 ...

Hosts reach each other's VTEP over ``ul-br``; VLAN and flat networks ride
the ``pn-<physnet>`` bridges (no VLAN filtering: tagged frames pass as on a
trunk). Nothing is routed or addressed in the root namespace.

The deploy code builds it with::

    spec = UnderlaySpec.plan(["RegionOne-host1", "RegionTwo-host1"],
                             physical_networks=["physnet1", "physnet2"])
    Underlay(spec).ensure()          # idempotent; again after a crash is fine
    spec.host("RegionOne-host1").namespace, .tunnel_ip, spec.interface_mappings()
    Underlay(spec).teardown()        # or dataplane.teardown_all() for everything
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from tricircle_lb.dataplane.errors import DataplaneError
from tricircle_lb.dataplane.interface import Dataplane
from tricircle_lb.dataplane.names import (
    HOST_NAMESPACE_PREFIX,
    UNDERLAY_NAMESPACE,
    host_namespace,
    physnet_bridge,
    short_hash,
)
from tricircle_lb.dataplane.netlink import NetlinkDataplane
from tricircle_lb.dataplane.teardown import kill_processes

DEFAULT_CIDR = "198.18.0.0/15"
UNDERLAY_BRIDGE = "ul-br"
UNDERLAY_DEVICE = "ul0"
# Physical network links carry full 1500-byte tenant frames even when VLANs are
# emulated by encapsulation (kernels without 802.1Q): room for the VXLAN header.
PHYSNET_HEADROOM = 50
PHYSNET_TRANSPORT_NET = "169.254"  # link-local, per physnet device: 169.254.<100+i>.<host>/24


@dataclass(frozen=True)
class UnderlayHost:
    name: str
    tunnel_ip: str
    namespace: str
    # Position in the deployment's host list, from 1: the host's address on the
    # physical network links (VLAN emulation). 0: its position in the spec.
    number: int = 0


@dataclass(frozen=True)
class UnderlaySpec:
    """What to build: hosts with their VTEP addresses and the physical networks."""

    hosts: tuple[UnderlayHost, ...]
    physical_networks: tuple[str, ...] = ()
    cidr: str = DEFAULT_CIDR
    namespace: str = UNDERLAY_NAMESPACE
    mtu: int = 1500
    _by_name: dict[str, UnderlayHost] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        network = ipaddress.ip_network(self.cidr)
        seen: set[str] = set()
        for h in self.hosts:
            if ipaddress.ip_address(h.tunnel_ip) not in network:
                raise DataplaneError(f"tunnel ip {h.tunnel_ip} of {h.name} not in {self.cidr}")
            if h.tunnel_ip in seen or h.name in self._by_name:
                raise DataplaneError(f"duplicate host or tunnel ip: {h.name} {h.tunnel_ip}")
            seen.add(h.tunnel_ip)
            self._by_name[h.name] = h
        object.__setattr__(self, "physical_networks", tuple(sorted(set(self.physical_networks))))

    @classmethod
    def plan(cls, hosts: Iterable[str], *, cidr: str = DEFAULT_CIDR,
             physical_networks: Iterable[str] = (), namespace: str = UNDERLAY_NAMESPACE,
             host_prefix: str = HOST_NAMESPACE_PREFIX,
             tunnel_ips: dict[str, str] | None = None) -> UnderlaySpec:
        """Hosts in the given order get the first addresses of ``cidr`` unless given."""
        pool = ipaddress.ip_network(cidr).hosts()
        given = dict(tunnel_ips or {})
        taken = set(given.values())
        planned: list[UnderlayHost] = []
        for name in hosts:
            ip = given.get(name)
            while ip is None:
                candidate = str(next(pool))
                if candidate not in taken:
                    ip = candidate
            planned.append(UnderlayHost(name, ip, host_namespace(name, host_prefix),
                                        len(planned) + 1))
        return cls(tuple(planned), tuple(physical_networks), cidr, namespace)

    def host(self, name: str) -> UnderlayHost:
        try:
            return self._by_name[name]
        except KeyError:
            raise DataplaneError(f"host {name!r} is not part of the underlay") from None

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.cidr).prefixlen

    def interface_mappings(self) -> dict[str, str]:
        """physnet → host-side device (``pn0``, ``pn1`` … in sorted physnet order)."""
        return {p: f"pn{i}" for i, p in enumerate(self.physical_networks)}


class Underlay:
    def __init__(self, spec: UnderlaySpec, dataplane: Dataplane | None = None) -> None:
        self.spec = spec
        self._dataplane = dataplane

    def _dp(self) -> Dataplane:
        if self._dataplane is None:
            self._dataplane = NetlinkDataplane()
        return self._dataplane

    def ensure(self) -> None:
        """Build whatever is missing; everything already there is left as is."""
        self.ensure_switch()
        for host in self.spec.hosts:
            self.ensure_host(host)

    def ensure_switch(self) -> None:
        """The switch namespace with its IP and physical network bridges."""
        dp, spec = self._dp(), self.spec
        dp.ensure_namespace(spec.namespace)
        dp.ensure_bridge(spec.namespace, UNDERLAY_BRIDGE, mtu=spec.mtu)
        dp.set_link(spec.namespace, UNDERLAY_BRIDGE, up=True)
        for bridge in map(physnet_bridge, spec.physical_networks):
            dp.ensure_bridge(spec.namespace, bridge, mtu=spec.mtu + PHYSNET_HEADROOM)
            dp.set_link(spec.namespace, bridge, up=True)

    def switch_present(self) -> bool:
        return self.spec.namespace in self._dp().namespaces()

    @staticmethod
    def host_devices(spec: UnderlaySpec) -> tuple[str, ...]:
        """The devices that wire a host to the switch: ``ul0`` and one per physnet."""
        return (UNDERLAY_DEVICE, *spec.interface_mappings().values())

    def ensure_host(self, host: UnderlayHost) -> None:
        dp, spec = self._dp(), self.spec
        dp.ensure_namespace(host.namespace)
        wires = [(UNDERLAY_DEVICE, f"u{short_hash(host.name, 10)}", UNDERLAY_BRIDGE)]
        for physnet, device in spec.interface_mappings().items():
            wires.append((device, f"p{device[2:]}-{short_hash(host.name)}",
                          physnet_bridge(physnet)))
        for device, switch_port, bridge in wires:
            mtu = spec.mtu if device == UNDERLAY_DEVICE else spec.mtu + PHYSNET_HEADROOM
            dp.ensure_veth(host.namespace, device, spec.namespace, switch_port, mtu=mtu)
            dp.set_link(spec.namespace, switch_port, master=bridge, up=True)
            dp.set_link(host.namespace, device, up=True)
        wanted = {UNDERLAY_DEVICE: f"{host.tunnel_ip}/{spec.prefixlen}"}
        number = host.number or spec.hosts.index(host) + 1
        for i, device in enumerate(spec.interface_mappings().values()):
            # Only used where the kernel has no 802.1Q (VLANs emulated, see the agent).
            wanted[device] = f"{PHYSNET_TRANSPORT_NET}.{100 + i}.{number}/24"
        for device, address in wanted.items():
            have = dp.addresses(host.namespace, device)
            for cidr in have:
                if cidr != address:
                    dp.delete_address(host.namespace, device, cidr)
            if address not in have:
                dp.add_address(host.namespace, device, address)

    def teardown(self) -> list[str]:
        """Remove the host namespaces and the switch namespace (and processes in them)."""
        names = [h.namespace for h in self.spec.hosts] + [self.spec.namespace]
        dp = self._dp()
        existing = [n for n in names if n in dp.namespaces()]
        if isinstance(dp, NetlinkDataplane):
            kill_processes(existing)
        for name in existing:
            dp.delete_namespace(name)
        return [f"namespace {n}" for n in existing]

    def close(self) -> None:
        if self._dataplane is not None:
            self._dataplane.close()
