"""The real data plane: pyroute2 over netlink, one cached socket per namespace.

Like Octavia's ``amphorae/backends/utils/interface.py``: transient netlink
errors are retried, "already exists" on add and "not found" on delete are
success, anything else becomes a :class:`~.errors.DataplaneError`.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import secrets
import socket
from typing import Any

from pyroute2 import netns

from tricircle_lb.dataplane.errors import (
    DataplaneError,
    LinkNotFound,
    NetlinkFailure,
    Unsupported,
)
from tricircle_lb.dataplane.interface import (
    VXLAN_PORT,
    ZERO_MAC,
    Dataplane,
    FdbEntry,
    Neighbour,
    Route,
)
from tricircle_lb.dataplane.names import check_ifname
from tricircle_lb.dataplane.sockets import GONE, NETNS_DIR, NetlinkSockets

__all__ = ["NETNS_DIR", "NetlinkDataplane"]

LOG = logging.getLogger(__name__)

NUD_PERMANENT = 0x80
NUD_NOARP = 0x40
NTF_SELF = 0x02
MAIN_TABLE = 254


def _family(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _bridge_mac() -> str:
    """A random locally administered unicast MAC for a new bridge (decision 090)."""
    octets = bytearray(secrets.token_bytes(6))
    octets[0] = (octets[0] & 0xFC) | 0x02
    return ":".join(f"{o:02x}" for o in octets)


class NetlinkDataplane(NetlinkSockets, Dataplane):
    """:class:`Dataplane` on the running kernel. Needs ``CAP_NET_ADMIN`` (root)."""

    # Namespaces ---------------------------------------------------------------
    def namespaces(self) -> list[str]:
        try:
            return sorted(os.listdir(NETNS_DIR))
        except FileNotFoundError:
            return []

    def ensure_namespace(self, name: str) -> None:
        if name not in self.namespaces():
            try:
                netns.create(name)
            except OSError as exc:
                if exc.errno != errno.EEXIST:
                    raise DataplaneError(f"creating namespace {name}: {exc}") from exc
        self.set_link(name, "lo", up=True)

    def delete_namespace(self, name: str) -> None:
        self._drop(name)
        if name not in self.namespaces():
            return
        try:
            netns.remove(name)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.EINVAL):
                raise DataplaneError(f"removing namespace {name}: {exc}") from exc

    # Devices ------------------------------------------------------------------
    def _add(self, ns: str, name: str, **spec: Any) -> None:
        ipr = self._ipr(ns)
        self._indexes.pop(ns, None)
        if spec.get("peer", {}).get("net_ns_fd"):
            self._indexes.pop(spec["peer"]["net_ns_fd"], None)
        check_ifname(name)
        self._call(f"add {spec.get('kind')} {name} in {ns or '(own)'}",
                   lambda: ipr.link("add", ifname=name, **spec),
                   tolerate=frozenset({errno.EEXIST}))

    def ensure_bridge(self, ns: str, name: str, mtu: int | None = None) -> None:
        existing = self._link_named(ns, name)
        if existing is not None and existing.kind != "bridge":
            self.delete_link(ns, name)
            existing = None
        if existing is None:
            # An address of its own: without one the kernel gives the bridge its
            # lowest port's MAC and changes it, unannounced, when that port goes.
            self._add(ns, name, kind="bridge", address=_bridge_mac(),
                      **({"mtu": mtu} if mtu else {}))
        elif mtu and existing.mtu != mtu:
            self.set_link(ns, name, mtu=mtu)

    def ensure_vxlan(self, ns: str, name: str, vni: int, local_ip: str, underlay_dev: str,
                     mtu: int | None = None, *, group: str | None = None,
                     port: int = VXLAN_PORT) -> None:
        existing = self._link_named(ns, name)
        if existing is not None and (existing.kind, existing.vni, existing.local_ip,
                                     existing.parent, existing.group) != (
                "vxlan", vni, local_ip, underlay_dev, group):
            self.delete_link(ns, name)
            existing = None
        if existing is None:
            spec: dict[str, Any] = {
                "kind": "vxlan", "vxlan_id": vni, "vxlan_local": local_ip,
                "vxlan_link": self._need(ns, underlay_dev), "vxlan_port": port,
            }
            if group:
                spec.update(vxlan_group=group, vxlan_learning=1)
            else:
                # No ARP proxy: it drops requests it has no entry for, and a
                # VIP (an allowed address pair) moves between ports (051).
                spec.update(vxlan_learning=0)
            if mtu:
                spec["mtu"] = mtu
            self._add(ns, name, **spec)
        elif mtu and existing.mtu != mtu:
            self.set_link(ns, name, mtu=mtu)

    def ensure_vlan(self, ns: str, name: str, parent: str, vlan_id: int,
                    mtu: int | None = None) -> None:
        existing = self._link_named(ns, name)
        if existing is not None and (existing.kind, existing.vlan_id, existing.parent) != (
                "vlan", vlan_id, parent):
            self.delete_link(ns, name)
            existing = None
        if existing is None:
            spec: dict[str, Any] = {"kind": "vlan", "link": self._need(ns, parent),
                                    "vlan_id": vlan_id}
            if mtu:
                spec["mtu"] = mtu
            try:
                self._add(ns, name, **spec)
            except NetlinkFailure as exc:
                if exc.errno == errno.EOPNOTSUPP:
                    raise Unsupported("this kernel has no 802.1Q VLAN devices") from exc
                raise
        elif mtu and existing.mtu != mtu:
            self.set_link(ns, name, mtu=mtu)

    def ensure_veth(self, ns: str, name: str, peer_ns: str, peer_name: str,
                    peer_mac: str | None = None, mtu: int | None = None) -> None:
        check_ifname(peer_name)
        local = self._link_named(ns, name)
        peer = self._link_named(peer_ns, peer_name)
        paired = (local is not None and peer is not None and local.kind == peer.kind == "veth"
                  and local.link_index == peer.index and peer.link_index == local.index)
        if paired and local is not None and peer is not None:
            if mtu and local.mtu != mtu:
                self.set_link(ns, name, mtu=mtu)
            if (peer_mac and peer.mac != peer_mac.lower()) or (mtu and peer.mtu != mtu):
                self.set_link(peer_ns, peer_name, mac=peer_mac, mtu=mtu)
            return
        if local is not None:
            self.delete_link(ns, name)
        if peer is not None:
            self.delete_link(peer_ns, peer_name)
        peer_spec: dict[str, Any] = {"ifname": peer_name}
        if peer_ns != ns:
            self._ipr(peer_ns)  # NamespaceNotFound before a half-made pair
            peer_spec["net_ns_fd"] = peer_ns
        if peer_mac:
            peer_spec["address"] = peer_mac
        spec: dict[str, Any] = {"kind": "veth", "peer": peer_spec}
        if mtu:
            spec["mtu"] = mtu
            peer_spec["mtu"] = mtu
        self._add(ns, name, **spec)

    def set_link(self, ns: str, name: str, *, up: bool | None = None,
                 master: str | None = None, mtu: int | None = None,
                 mac: str | None = None) -> None:
        ipr = self._ipr(ns)
        index = self._need(ns, name)
        spec: dict[str, Any] = {}
        if master is not None:
            spec["master"] = self._need(ns, master)
        if mtu is not None:
            spec["mtu"] = mtu
        if mac is not None:
            spec["address"] = mac
        if up is not None:
            spec["state"] = "up" if up else "down"
        if spec:
            self._call(f"set {name} {spec}", lambda: ipr.link("set", index=index, **spec))

    def delete_link(self, ns: str, name: str) -> None:
        ipr = self._ipr(ns)
        index = self._index(ns, name)
        if index is not None:
            self._indexes.clear()  # a veth's peer goes too, in whatever namespace
            self._call(f"delete {name}", lambda: ipr.link("del", index=index), tolerate=GONE)

    # Addresses and routes -------------------------------------------------------
    def addresses(self, ns: str, name: str) -> list[str]:
        ipr = self._ipr(ns)
        index = self._need(ns, name)
        msgs = self._call("dump addresses", lambda: list(ipr.get_addr(index=index))) or []
        result = []
        for m in msgs:
            address = m.get_attr("IFA_ADDRESS")
            ip = ipaddress.ip_address(address) if address else None
            if ip is not None and not (ip.version == 6 and ip.is_link_local):
                result.append(f"{address}/{m['prefixlen']}")
        return result

    def add_address(self, ns: str, name: str, cidr: str) -> None:
        ipr = self._ipr(ns)
        index = self._need(ns, name)
        iface = ipaddress.ip_interface(cidr)
        self._call(f"add address {cidr} to {name}",
                   lambda: ipr.addr("add", index=index, address=str(iface.ip),
                                    prefixlen=iface.network.prefixlen),
                   tolerate=frozenset({errno.EEXIST}))

    def delete_address(self, ns: str, name: str, cidr: str) -> None:
        ipr = self._ipr(ns)
        index = self._index(ns, name)
        if index is None:
            return
        iface = ipaddress.ip_interface(cidr)
        self._call(f"delete address {cidr} from {name}",
                   lambda: ipr.addr("del", index=index, address=str(iface.ip),
                                    prefixlen=iface.network.prefixlen), tolerate=GONE)

    def routes(self, ns: str) -> list[Route]:
        ipr = self._ipr(ns)
        names = {lk.index: lk.name for lk in self.links(ns)}
        result = []
        for family in (socket.AF_INET, socket.AF_INET6):
            msgs = self._call("dump routes", lambda f=family: list(  # type: ignore[misc]
                ipr.get_routes(family=f, table=MAIN_TABLE))) or []
            for m in msgs:
                gateway = m.get_attr("RTA_GATEWAY")
                if not gateway:
                    continue
                dst = m.get_attr("RTA_DST")
                oif = m.get_attr("RTA_OIF")
                result.append(Route(dst=f"{dst}/{m['dst_len']}" if dst else "default",
                                    gateway=gateway, dev=names.get(oif) if oif else None))
        return result

    def _route_spec(self, ns: str, route: Route) -> dict[str, Any]:
        probe = route.gateway or (route.dst if route.dst != "default" else "0.0.0.0")
        spec: dict[str, Any] = {"dst": route.dst, "family": _family(probe.split("/")[0])}
        if route.gateway:
            spec["gateway"] = route.gateway
        if route.dev:
            spec["oif"] = self._need(ns, route.dev)
        return spec

    def add_route(self, ns: str, route: Route) -> None:
        ipr = self._ipr(ns)
        spec = self._route_spec(ns, route)
        self._call(f"add route {route}", lambda: ipr.route("add", **spec),
                   tolerate=frozenset({errno.EEXIST}))

    def delete_route(self, ns: str, route: Route) -> None:
        ipr = self._ipr(ns)
        try:
            spec = self._route_spec(ns, route)
        except LinkNotFound:
            return  # the device is gone and the route with it
        self._call(f"delete route {route}", lambda: ipr.route("del", **spec), tolerate=GONE)

    # L2 population --------------------------------------------------------------
    def fdb_table(self, ns: str) -> dict[str, list[FdbEntry]]:
        ipr = self._ipr(ns)
        names = self._names(ns)
        msgs = self._call("dump fdb", lambda: list(ipr.fdb("dump"))) or []
        table: dict[str, set[FdbEntry]] = {}
        for m in msgs:
            dst, dev = m.get_attr("NDA_DST"), names.get(m["ifindex"])
            if dst and dev:
                table.setdefault(dev, set()).add(FdbEntry(str(m.get_attr("NDA_LLADDR")),
                                                          str(dst)))
        return {dev: sorted(entries) for dev, entries in table.items()}

    def add_fdb(self, ns: str, dev: str, entry: FdbEntry) -> None:
        ipr = self._ipr(ns)
        index = self._need(ns, dev)
        # Several VTEPs share the all-zeros entry (head-end replication); one VTEP per MAC.
        command = "append" if entry.mac == ZERO_MAC else "replace"
        # pyroute2 fills in state/flags for add/append/del only: be explicit (``self`` is
        # the VXLAN device's own table, not the bridge's).
        self._call(f"fdb {command} {entry}", lambda: ipr.fdb(
            command, ifindex=index, lladdr=entry.mac, dst=entry.dst,
            state=NUD_PERMANENT | NUD_NOARP, flags=NTF_SELF),
            tolerate=frozenset({errno.EEXIST}))

    def delete_fdb(self, ns: str, dev: str, entry: FdbEntry) -> None:
        ipr = self._ipr(ns)
        index = self._index(ns, dev)
        if index is None:
            return
        self._call(f"fdb del {entry}", lambda: ipr.fdb(
            "del", ifindex=index, lladdr=entry.mac, dst=entry.dst,
            state=NUD_PERMANENT | NUD_NOARP, flags=NTF_SELF), tolerate=GONE)

    def neighbour_table(self, ns: str) -> dict[str, list[Neighbour]]:
        ipr = self._ipr(ns)
        names = self._names(ns)
        msgs = self._call("dump neighbours", lambda: list(ipr.get_neighbours())) or []
        table: dict[str, set[Neighbour]] = {}
        for m in msgs:
            dev, mac = names.get(m["ifindex"]), m.get_attr("NDA_LLADDR")
            if dev and mac and m["state"] & NUD_PERMANENT:
                table.setdefault(dev, set()).add(Neighbour(str(m.get_attr("NDA_DST")),
                                                           str(mac)))
        return {dev: sorted(entries) for dev, entries in table.items()}

    def add_neighbour(self, ns: str, dev: str, entry: Neighbour) -> None:
        ipr = self._ipr(ns)
        index = self._need(ns, dev)
        self._call(f"neigh replace {entry}", lambda: ipr.neigh(
            "replace", dst=entry.ip, lladdr=entry.mac, ifindex=index, state=NUD_PERMANENT,
            family=_family(entry.ip)))

    def delete_neighbour(self, ns: str, dev: str, entry: Neighbour) -> None:
        ipr = self._ipr(ns)
        index = self._index(ns, dev)
        if index is None:
            return
        self._call(f"neigh del {entry}", lambda: ipr.neigh(
            "del", dst=entry.ip, lladdr=entry.mac, ifindex=index, family=_family(entry.ip)),
            tolerate=GONE)

