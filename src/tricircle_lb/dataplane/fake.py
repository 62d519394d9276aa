"""An in-memory :class:`Dataplane` for tests without root (like pyroute2's ipmock).

Keeps the same contract as the real one: idempotent calls, veth pairs that
vanish together (and with either namespace), missing namespaces and devices
raising the same errors. ``calls`` records every mutating call made;
``changes`` only those that changed something, so a test can assert that a
second reconcile changed nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tricircle_lb.dataplane.errors import LinkNotFound, NamespaceNotFound, Unsupported
from tricircle_lb.dataplane.interface import Dataplane, FdbEntry, Link, Neighbour, Route
from tricircle_lb.dataplane.names import check_ifname


@dataclass
class _Namespace:
    links: dict[str, Link] = field(default_factory=dict)
    peers: dict[str, tuple[str, str]] = field(default_factory=dict)  # veth -> (ns, name)
    addresses: dict[str, set[str]] = field(default_factory=dict)
    routes: set[Route] = field(default_factory=set)
    fdb: dict[str, set[FdbEntry]] = field(default_factory=dict)
    neighbours: dict[str, set[Neighbour]] = field(default_factory=dict)
    next_index: int = 1


class FakeDataplane(Dataplane):
    def __init__(self) -> None:
        self._ns: dict[str, _Namespace] = {}
        self.vlan_supported = True  # False: behave like a kernel without 802.1Q
        self.calls: list[str] = []
        self.changes: list[str] = []
        self.ensure_namespace("")  # the caller's own namespace always exists

    # Helpers ----------------------------------------------------------------
    def _get(self, ns: str) -> _Namespace:
        try:
            return self._ns[ns]
        except KeyError:
            raise NamespaceNotFound(ns) from None

    def _link(self, ns: str, name: str) -> Link:
        try:
            return self._get(ns).links[name]
        except KeyError:
            raise LinkNotFound(ns, name) from None

    def _changed(self, what: str) -> None:
        self.changes.append(what)

    def _new_link(self, ns: str, name: str, kind: str, **attrs: object) -> Link:
        space = self._get(ns)
        check_ifname(name)
        index = space.next_index
        space.next_index += 1
        mac = attrs.pop("mac", None) or f"02:00:00:00:{index // 256:02x}:{index % 256:02x}"
        link = Link(name=name, kind=kind, mac=str(mac), mtu=1500, up=False, index=index,
                    **attrs)  # type: ignore[arg-type]
        space.links[name] = link
        space.addresses[name] = set()
        return link

    # Namespaces -------------------------------------------------------------
    def namespaces(self) -> list[str]:
        return sorted(n for n in self._ns if n)

    def namespace_identity(self, name: str) -> int | None:
        """Stands for the inode of ``/run/netns/<name>``: another one once made anew."""
        space = self._ns.get(name)
        return None if space is None else id(space)

    def ensure_namespace(self, name: str) -> None:
        if name:
            self.calls.append(f"ensure_namespace {name}")
        if name not in self._ns:
            self._ns[name] = _Namespace()
            self._new_link(name, "lo", "", mac="00:00:00:00:00:00")
            self._ns[name].links["lo"] = replace(self._ns[name].links["lo"], up=True)
            if name:
                self._changed(f"ensure_namespace {name}")

    def delete_namespace(self, name: str) -> None:
        self.calls.append(f"delete_namespace {name}")
        space = self._ns.get(name)
        if space is None:
            return
        for link_name in list(space.peers):
            self.delete_link(name, link_name)
        del self._ns[name]
        self._changed(f"delete_namespace {name}")

    # Devices ----------------------------------------------------------------
    def links(self, ns: str) -> list[Link]:
        return sorted(self._get(ns).links.values(), key=lambda lk: lk.index)

    def ensure_bridge(self, ns: str, name: str, mtu: int | None = None) -> None:
        self.calls.append(f"ensure_bridge {ns} {name}")
        existing = self._get(ns).links.get(name)
        if existing is not None and existing.kind != "bridge":
            self.delete_link(ns, name)
            existing = None
        if existing is None:
            self._new_link(ns, name, "bridge")
            self._changed(f"add bridge {ns} {name}")
        if mtu:
            self._set(ns, name, mtu=mtu)

    def ensure_vxlan(self, ns: str, name: str, vni: int, local_ip: str, underlay_dev: str,
                     mtu: int | None = None, *, group: str | None = None,
                     port: int = 4789) -> None:
        self.calls.append(f"ensure_vxlan {ns} {name}")
        existing = self._get(ns).links.get(name)
        if existing is not None and (existing.kind, existing.vni, existing.local_ip,
                                     existing.parent, existing.group) != (
                "vxlan", vni, local_ip, underlay_dev, group):
            self.delete_link(ns, name)
            existing = None
        if existing is None:
            self._link(ns, underlay_dev)
            self._new_link(ns, name, "vxlan", vni=vni, local_ip=local_ip, parent=underlay_dev,
                           group=group)
            self._get(ns).fdb[name] = set()
            self._get(ns).neighbours[name] = set()
            self._changed(f"add vxlan {ns} {name}")
        if mtu:
            self._set(ns, name, mtu=mtu)

    def ensure_vlan(self, ns: str, name: str, parent: str, vlan_id: int,
                    mtu: int | None = None) -> None:
        self.calls.append(f"ensure_vlan {ns} {name}")
        existing = self._get(ns).links.get(name)
        if existing is not None and (existing.kind, existing.vlan_id, existing.parent) != (
                "vlan", vlan_id, parent):
            self.delete_link(ns, name)
            existing = None
        if existing is None:
            self._link(ns, parent)
            if not self.vlan_supported:
                raise Unsupported("this kernel has no 802.1Q VLAN devices")
            self._new_link(ns, name, "vlan", vlan_id=vlan_id, parent=parent)
            self._changed(f"add vlan {ns} {name}")
        if mtu:
            self._set(ns, name, mtu=mtu)

    def ensure_veth(self, ns: str, name: str, peer_ns: str, peer_name: str,
                    peer_mac: str | None = None, mtu: int | None = None) -> None:
        self.calls.append(f"ensure_veth {ns} {name} {peer_ns} {peer_name}")
        space, peer_space = self._get(ns), self._get(peer_ns)
        check_ifname(peer_name)
        if space.peers.get(name) != (peer_ns, peer_name):
            if name in space.links:
                self.delete_link(ns, name)
            if peer_name in peer_space.links:
                self.delete_link(peer_ns, peer_name)
            local = self._new_link(ns, name, "veth")
            peer = self._new_link(peer_ns, peer_name, "veth", mac=peer_mac)
            space.links[name] = replace(local, link_index=peer.index)
            peer_space.links[peer_name] = replace(peer, link_index=local.index)
            space.peers[name] = (peer_ns, peer_name)
            peer_space.peers[peer_name] = (ns, name)
            self._changed(f"add veth {ns} {name} {peer_ns} {peer_name}")
        if mtu:
            self._set(ns, name, mtu=mtu)
        self._set(peer_ns, peer_name, mac=peer_mac, mtu=mtu)

    def _set(self, ns: str, name: str, **attrs: object) -> None:
        link = self._link(ns, name)
        wanted = {k: v for k, v in attrs.items() if v is not None}
        if any(getattr(link, k) != v for k, v in wanted.items()):
            self._get(ns).links[name] = replace(link, **wanted)  # type: ignore[arg-type]
            self._changed(f"set {ns} {name} {wanted}")

    def set_link(self, ns: str, name: str, *, up: bool | None = None,
                 master: str | None = None, mtu: int | None = None,
                 mac: str | None = None) -> None:
        self.calls.append(f"set_link {ns} {name}")
        if master is not None:
            self._link(ns, master)
        self._set(ns, name, up=up, master=master, mtu=mtu, mac=mac)

    def delete_link(self, ns: str, name: str) -> None:
        self.calls.append(f"delete_link {ns} {name}")
        space = self._get(ns)
        if name not in space.links:
            return
        del space.links[name]
        space.addresses.pop(name, None)
        space.fdb.pop(name, None)
        space.neighbours.pop(name, None)
        space.routes = {r for r in space.routes if r.dev != name}
        for other, link in list(space.links.items()):
            if link.master == name:
                space.links[other] = replace(link, master=None)
        self._changed(f"delete_link {ns} {name}")
        peer = space.peers.pop(name, None)
        if peer is not None and peer[0] in self._ns:
            self._ns[peer[0]].peers.pop(peer[1], None)
            self.delete_link(*peer)

    # Addresses and routes -----------------------------------------------------
    def addresses(self, ns: str, name: str) -> list[str]:
        self._link(ns, name)
        return sorted(self._get(ns).addresses[name])

    def add_address(self, ns: str, name: str, cidr: str) -> None:
        self.calls.append(f"add_address {ns} {name} {cidr}")
        self._link(ns, name)
        if cidr not in self._get(ns).addresses[name]:
            self._get(ns).addresses[name].add(cidr)
            self._changed(f"add_address {ns} {name} {cidr}")

    def delete_address(self, ns: str, name: str, cidr: str) -> None:
        self.calls.append(f"delete_address {ns} {name} {cidr}")
        addresses = self._get(ns).addresses.get(name, set())
        if cidr in addresses:
            addresses.discard(cidr)
            self._changed(f"delete_address {ns} {name} {cidr}")

    def routes(self, ns: str) -> list[Route]:
        return sorted(self._get(ns).routes)

    def add_route(self, ns: str, route: Route) -> None:
        self.calls.append(f"add_route {ns} {route}")
        space = self._get(ns)
        if route.dev:
            self._link(ns, route.dev)
        if not any(r.dst == route.dst for r in space.routes):
            space.routes.add(route)
            self._changed(f"add_route {ns} {route}")

    def delete_route(self, ns: str, route: Route) -> None:
        self.calls.append(f"delete_route {ns} {route}")
        space = self._get(ns)
        if route in space.routes:
            space.routes.discard(route)
            self._changed(f"delete_route {ns} {route}")

    # L2 population --------------------------------------------------------------
    def fdb_table(self, ns: str) -> dict[str, list[FdbEntry]]:
        return {dev: sorted(e) for dev, e in self._get(ns).fdb.items() if e}

    def fdb(self, ns: str, dev: str) -> list[FdbEntry]:
        self._link(ns, dev)
        return sorted(self._get(ns).fdb.get(dev, set()))

    def add_fdb(self, ns: str, dev: str, entry: FdbEntry) -> None:
        self.calls.append(f"add_fdb {ns} {dev} {entry}")
        self._link(ns, dev)
        entries = self._get(ns).fdb.setdefault(dev, set())
        if entry not in entries:
            entries.add(entry)
            self._changed(f"add_fdb {ns} {dev} {entry}")

    def delete_fdb(self, ns: str, dev: str, entry: FdbEntry) -> None:
        self.calls.append(f"delete_fdb {ns} {dev} {entry}")
        entries = self._get(ns).fdb.get(dev, set())
        if entry in entries:
            entries.discard(entry)
            self._changed(f"delete_fdb {ns} {dev} {entry}")

    def neighbour_table(self, ns: str) -> dict[str, list[Neighbour]]:
        return {dev: sorted(e) for dev, e in self._get(ns).neighbours.items() if e}

    def neighbours(self, ns: str, dev: str) -> list[Neighbour]:
        self._link(ns, dev)
        return sorted(self._get(ns).neighbours.get(dev, set()))

    def add_neighbour(self, ns: str, dev: str, entry: Neighbour) -> None:
        self.calls.append(f"add_neighbour {ns} {dev} {entry}")
        self._link(ns, dev)
        entries = self._get(ns).neighbours.setdefault(dev, set())
        if entry not in entries:
            entries -= {n for n in entries if n.ip == entry.ip}
            entries.add(entry)
            self._changed(f"add_neighbour {ns} {dev} {entry}")

    def delete_neighbour(self, ns: str, dev: str, entry: Neighbour) -> None:
        self.calls.append(f"delete_neighbour {ns} {dev} {entry}")
        entries = self._get(ns).neighbours.get(dev, set())
        if entry in entries:
            entries.discard(entry)
            self._changed(f"delete_neighbour {ns} {dev} {entry}")
