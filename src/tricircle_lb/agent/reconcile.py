"""Make a host's kernel state match its :class:`~.desired.DesiredState`.

Everything is derived from what exists plus what is wanted; the agent keeps
no bookkeeping of its own, so a restarted (or ``kill -9``-ed) agent converges
to the same state without duplicating anything. Each step first reads what
exists and changes only what differs: a reconcile of a converged host makes
no mutating netlink call at all.

A failure on one port or network is logged and reported in the result; the
rest of the host is still reconciled.

Deliberately not touched: addresses inside a namespace that are not a
port's fixed IPs (a VIP that keepalived adds to an amphora belongs to it),
routes other than the default route of an instance's first port.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tricircle_lb.agent import firewall
from tricircle_lb.agent.desired import DesiredState, NetworkSpec, PortPlug
from tricircle_lb.agent.runtime_api import InstanceRuntime
from tricircle_lb.agent.wiring import HostWiring
from tricircle_lb.dataplane.errors import DataplaneError, Unsupported
from tricircle_lb.dataplane.interface import Dataplane, FdbEntry, Link, Neighbour, Route
from tricircle_lb.dataplane.names import bridge_name
from tricircle_lb.dataplane.packet_filter import PacketFilter

LOG = logging.getLogger(__name__)
VLAN_EMULATION_GROUP = "239.1.1."
VLAN_EMULATION_PORT = 4790
_VLAN_NAME = re.compile(r"^(?P<parent>.+)\.(?P<vid>\d+)$")


@dataclass
class ReconcileResult:
    plugged: set[str] = field(default_factory=set)  # port ids in place
    failed: dict[str, str] = field(default_factory=dict)  # port or network id -> error
    waiting: set[str] = field(default_factory=set)  # ports whose namespace does not exist yet
    removed_instances: list[str] = field(default_factory=list)
    fdb_entries: int = 0
    neighbour_entries: int = 0
    repaired: list[str] = field(default_factory=list)  # the host's own wiring, rebuilt
    underlay_reachable: bool | None = None  # None: not an embedded host
    firewall: str | None = None  # digest of the security-group tables in place


class Reconciler:
    def __init__(self, dataplane: Dataplane, *, host_namespace: str, tunnel_ip: str,
                 underlay_device: str, mappings: dict[str, str],
                 runtime: InstanceRuntime | None, wiring: HostWiring | None = None,
                 packet_filter: PacketFilter | None = None) -> None:
        self.dp = dataplane
        self.packet_filter = packet_filter
        self.wiring = wiring
        self.ns = host_namespace
        self.tunnel_ip = tunnel_ip
        self.underlay_device = underlay_device
        self.mappings = mappings
        self.runtime = runtime
        self._vlan_emulated = False  # learned from the kernel at the first VLAN network

    def apply(self, desired: DesiredState) -> ReconcileResult:
        result = ReconcileResult()
        links = self._host_links(result)
        # Before any port is plugged: a new port is filtered from its first frame.
        if self.packet_filter is not None and desired.firewall is not None:
            self._try(result, "firewall", self._firewall, self.packet_filter,
                      desired.firewall, result)
        wanted_taps = {p.tap for p in desired.plugs}
        for link in links.values():
            if link.name.startswith("tap") and link.kind == "veth" and (
                    link.name not in wanted_taps):
                LOG.info("removing stale port device %s", link.name)
                self._try(result, link.name, self.dp.delete_link, self.ns, link.name)

        ready_networks = set()
        changed: list[str] = []
        for net in desired.networks.values():
            if self._try(result, net.id, self._ensure_network, net, links, changed):
                ready_networks.add(net.id)
        if changed:
            links = {lk.name: lk for lk in self.dp.links(self.ns)}

        self._remove_stale_instances(desired, result)
        namespaces = set(self.dp.namespaces())
        peer_links: dict[str, dict[str, Link]] = {}
        for plug in desired.plugs:
            if plug.network_id not in ready_networks:
                continue
            done = self._try(result, plug.port_id, self._plug, plug, links, namespaces,
                             peer_links, result)
            if done and plug.port_id not in result.waiting:
                result.plugged.add(plug.port_id)

        vxlan = [n for n in desired.networks.values()
                 if n.network_type == "vxlan" and n.id in ready_networks]
        if vxlan:  # one dump of each table for the host, not one per network
            fdb, neighbours = self.dp.fdb_table(self.ns), self.dp.neighbour_table(self.ns)
            for net in vxlan:
                self._try(result, net.id, self._populate, net, desired, fdb, neighbours,
                          result)
        self._remove_stale_segments(desired, links, result)
        return result

    # Steps ------------------------------------------------------------------------
    def _host_links(self, result: ReconcileResult) -> dict[str, Link]:
        """The host's devices, after rebuilding an embedded host's namespace and cables
        if they are gone (a real host's missing namespace is an error)."""
        wiring = self.wiring
        if wiring is not None and self.ns not in self.dp.namespaces():
            LOG.warning("host namespace %s is gone: rebuilding it", self.ns)
            wiring.repair()
            result.repaired.append("host namespace")
        links = {lk.name: lk for lk in self.dp.links(self.ns)}
        if wiring is None:
            return links
        broken = wiring.broken(links)
        if broken and not result.repaired:
            LOG.warning("underlay links %s of %s are gone: rebuilding them",
                        ", ".join(broken), self.ns)
            wiring.repair()
            result.repaired.append("underlay link " + ", ".join(broken))
            links = {lk.name: lk for lk in self.dp.links(self.ns)}
        result.underlay_reachable = wiring.reachable(links)
        return links

    def _try(self, result: ReconcileResult, key: str, step: Callable[..., object],
             *args: object) -> bool:
        try:
            step(*args)
        except DataplaneError as exc:
            LOG.warning("reconcile of %s failed: %s", key, exc)
            result.failed[key] = str(exc)
            return False
        return True

    def _firewall(self, packet_filter: PacketFilter, spec: firewall.FirewallSpec,
                  result: ReconcileResult) -> None:
        """Security groups and anti-spoofing: the agent's tables replaced in one
        transaction when the ones in place were rendered from anything else."""
        digest, script = firewall.render(spec)
        have = packet_filter.digests(self.ns)
        if any(have.get((family, firewall.TABLE)) != digest for family in ("bridge", "inet")):
            LOG.info("loading security groups of %d ports (%s)", len(spec.ports), digest)
            packet_filter.load(self.ns, script)
        result.firewall = digest

    def _ensure_network(self, net: NetworkSpec, links: dict[str, Link],
                        changed: list[str]) -> None:
        """Bridge and segment device of ``net``; appends its id to ``changed`` on a change."""
        dp, ns = self.dp, self.ns
        bridge = links.get(net.bridge)
        if bridge is None or bridge.kind != "bridge" or bridge.mtu != net.mtu:
            changed.append(net.id)  # devices are created: the host's listing is stale
            dp.ensure_bridge(ns, net.bridge, mtu=net.mtu)
        if bridge is None or not bridge.up:
            dp.set_link(ns, net.bridge, up=True)
        device = net.segment_device(self.mappings)
        if device is None:
            if net.network_type in ("vlan", "flat"):
                raise DataplaneError(f"network {net.id}: no interface mapping for physical "
                                     f"network {net.physical_network!r}")
            return
        current = links.get(device)
        if net.network_type == "vxlan":
            assert net.segmentation_id is not None
            if current is None or (current.kind, current.vni, current.local_ip, current.parent,
                                   current.mtu) != ("vxlan", net.segmentation_id,
                                                    self.tunnel_ip, self.underlay_device,
                                                    net.mtu):
                changed.append(net.id)
                dp.ensure_vxlan(ns, device, net.segmentation_id, self.tunnel_ip,
                                self.underlay_device, mtu=net.mtu)
                current = None
        elif net.network_type == "vlan":
            parent = self.mappings[net.physical_network or ""]
            if links.get(parent) is not None and not links[parent].up:
                dp.set_link(ns, parent, up=True)
            if not self._vlan_in_place(net, device, parent, current):
                changed.append(net.id)
                self._ensure_vlan(net, device, parent)
                current = None
        if current is None or current.master != net.bridge or not current.up:
            dp.set_link(ns, device, master=net.bridge, up=True)

    def _emulation(self, net: NetworkSpec, parent: str) -> tuple[str, str, int]:
        """(local address on the physnet device, multicast group, UDP port) of an emulated VLAN."""
        local = next((c.split("/")[0] for c in self.dp.addresses(self.ns, parent)
                      if ":" not in c), None)
        if local is None:
            raise DataplaneError(f"{parent} has no IPv4 address to emulate VLAN "
                                 f"{net.segmentation_id} over (kernel without 802.1Q)")
        index = sorted(self.mappings).index(net.physical_network or "")
        return local, f"{VLAN_EMULATION_GROUP}{index + 1}", VLAN_EMULATION_PORT + index

    def _vlan_in_place(self, net: NetworkSpec, device: str, parent: str,
                       current: Link | None) -> bool:
        if current is None:
            return False
        if current.kind == "vlan":
            return (current.vlan_id, current.parent) == (net.segmentation_id, parent)
        if current.kind == "vxlan" and current.group is not None:
            local, group, _port = self._emulation(net, parent)
            return (current.vni, current.parent, current.local_ip, current.group) == (
                net.segmentation_id, parent, local, group)
        return False

    def _ensure_vlan(self, net: NetworkSpec, device: str, parent: str) -> None:
        """An 802.1Q sub-interface; on kernels without 802.1Q, a VXLAN segment on the physnet.

        The emulation floods over a multicast group on the physical network's
        link with learning, so it behaves like a VLAN on a trunk: every host on
        that physical network with the same VLAN id is on the segment.
        """
        assert net.segmentation_id is not None
        if not self._vlan_emulated:
            try:
                self.dp.ensure_vlan(self.ns, device, parent, net.segmentation_id)
                return
            except Unsupported:
                LOG.warning("kernel without 802.1Q: emulating VLAN networks with "
                            "multicast VXLAN over the physical network devices")
                self._vlan_emulated = True
        local, group, port = self._emulation(net, parent)
        self.dp.ensure_vxlan(self.ns, device, net.segmentation_id, local, parent,
                             mtu=net.mtu, group=group, port=port)

    def _plug(self, plug: PortPlug, links: dict[str, Link], namespaces: set[str],
              peer_links: dict[str, dict[str, Link]], result: ReconcileResult) -> None:
        dp = self.dp
        target = plug.namespace
        if plug.instance_id is not None:
            if self.runtime is None:
                result.waiting.add(plug.port_id)
                return
            if target not in namespaces:
                target = self.runtime.ensure_namespace(plug.instance_id)
                namespaces.add(target)
        elif target not in namespaces:
            result.waiting.add(plug.port_id)  # the probe/controller has not made it yet
            return
        if target not in peer_links:
            peer_links[target] = {lk.name: lk for lk in dp.links(target)}
            lo = peer_links[target].get("lo")
            if lo is not None and not lo.up:
                dp.set_link(target, "lo", up=True)
        inside = peer_links[target]
        tap = links.get(plug.tap)
        peer = inside.get(plug.ifname)
        paired = (tap is not None and peer is not None and tap.kind == peer.kind == "veth"
                  and tap.link_index == peer.index and peer.link_index == tap.index
                  and peer.mac.lower() == plug.mac.lower() and tap.mtu == plug.mtu
                  and peer.mtu == plug.mtu)
        if not paired:
            dp.ensure_veth(self.ns, plug.tap, target, plug.ifname, peer_mac=plug.mac,
                           mtu=plug.mtu)
            tap = peer = None
        bridge = bridge_name(plug.network_id)
        if tap is None or tap.master != bridge or not tap.up:
            dp.set_link(self.ns, plug.tap, master=bridge, up=True)
        if peer is None or not peer.up:
            dp.set_link(target, plug.ifname, up=True)
        have = set(dp.addresses(target, plug.ifname)) if paired else set()
        for cidr in plug.addresses:
            if cidr not in have:
                dp.add_address(target, plug.ifname, cidr)
        if plug.gateway:
            default = [r for r in dp.routes(target) if r.dst == "default"]
            want = Route("default", plug.gateway)
            if not any(r.gateway == plug.gateway for r in default):
                for r in default:
                    dp.delete_route(target, r)
                dp.add_route(target, want)

    def _populate(self, net: NetworkSpec, desired: DesiredState,
                  fdb: dict[str, list[FdbEntry]], neighbours: dict[str, list[Neighbour]],
                  result: ReconcileResult) -> None:
        device = net.segment_device(self.mappings)
        assert device is not None
        want_fdb = desired.fdb.get(net.id, set())
        have_fdb = set(fdb.get(device, []))
        for entry in sorted(have_fdb - want_fdb):
            self.dp.delete_fdb(self.ns, device, entry)
        for entry in sorted(want_fdb - have_fdb):
            self.dp.add_fdb(self.ns, device, entry)
        want_neigh = desired.neighbours.get(net.id, set())
        have_neigh = set(neighbours.get(device, []))
        for neigh in sorted(have_neigh - want_neigh):
            self.dp.delete_neighbour(self.ns, device, neigh)
        for neigh in sorted(want_neigh - have_neigh):
            self.dp.add_neighbour(self.ns, device, neigh)
        result.fdb_entries += len(want_fdb)
        result.neighbour_entries += len(want_neigh)

    def _remove_stale_segments(self, desired: DesiredState, links: dict[str, Link],
                               result: ReconcileResult) -> None:
        bridges = {n.bridge for n in desired.networks.values()}
        devices = {n.segment_device(self.mappings) for n in desired.networks.values()}
        physical = set(self.mappings.values())
        for link in links.values():
            stale = False
            if link.name.startswith("brq") and link.kind == "bridge":
                stale = link.name not in bridges
            elif link.name.startswith("vxlan-") and link.kind == "vxlan":
                stale = link.name not in devices
            elif link.kind in ("vlan", "vxlan"):
                match = _VLAN_NAME.match(link.name)
                stale = bool(match and match["parent"] in physical and link.name not in devices)
            if stale:
                LOG.info("removing stale device %s", link.name)
                self._try(result, link.name, self.dp.delete_link, self.ns, link.name)

    def _remove_stale_instances(self, desired: DesiredState, result: ReconcileResult) -> None:
        if self.runtime is None or not desired.manage_instances:
            return
        for instance_id in self.runtime.known():
            if instance_id not in desired.instances:
                LOG.info("removing instance %s: no longer placed on this host", instance_id)
                try:
                    self.runtime.remove(instance_id)
                    result.removed_instances.append(instance_id)
                except Exception as exc:
                    LOG.warning("removing instance %s failed: %s", instance_id, exc)
