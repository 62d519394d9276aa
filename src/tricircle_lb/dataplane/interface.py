"""The data plane interface: what the agent and the underlay builder may ask of the kernel.

Contract of every method of :class:`Dataplane`:

- **Idempotent.** ``ensure_*``/``add_*`` succeed when the object already
  exists as asked; ``delete_*`` succeed when it is already gone. Calling any
  method twice leaves the same state as calling it once, so a caller that
  crashed half way simply runs again.
- **Retried.** Transient netlink errors (busy, no buffer space, interrupted)
  are retried a few times before :class:`~.errors.NetlinkFailure` is raised.
- **Namespaces by name.** ``ns`` names a network namespace under
  ``/run/netns``; ``""`` means the caller's own namespace (a real host in
  production). A method never creates a namespace it was not asked to
  create: a missing ``ns`` raises :class:`~.errors.NamespaceNotFound`.
- **What a failure leaves.** At most the one object the call was creating,
  in a state the next ``ensure_*`` call repairs or replaces.

Listing methods (:meth:`Dataplane.links`, :meth:`Dataplane.fdb` …) return
plain frozen values so a reconcile can diff desired against actual.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

ZERO_MAC = "00:00:00:00:00:00"
VXLAN_PORT = 4789


@dataclass(frozen=True)
class Link:
    """A network device as the kernel reports it."""

    name: str
    kind: str  # "bridge", "vxlan", "veth", "vlan", "" for plain devices (lo)
    mac: str
    mtu: int
    up: bool
    master: str | None = None
    vni: int | None = None  # vxlan
    local_ip: str | None = None  # vxlan
    group: str | None = None  # vxlan multicast group (VLAN emulation only)
    vlan_id: int | None = None  # vlan
    parent: str | None = None  # vlan's lower device, vxlan's underlay device
    index: int = 0  # ifindex, unique within the namespace
    link_index: int | None = None  # a veth's peer ifindex (in the peer's namespace)
    carrier: bool = True  # a veth has carrier only while its peer exists and is up


@dataclass(frozen=True, order=True)
class FdbEntry:
    """A static forwarding entry on a VXLAN device: frames to ``mac`` go to VTEP ``dst``.

    ``mac == ZERO_MAC`` is the broadcast/unknown/multicast (BUM) entry: such
    frames are copied to every VTEP that has one.
    """

    mac: str
    dst: str


@dataclass(frozen=True, order=True)
class Neighbour:
    """A permanent neighbour entry (the VXLAN device's ARP/ND proxy table)."""

    ip: str
    mac: str


@dataclass(frozen=True, order=True)
class Route:
    """A route of the main table; ``dst`` is ``"default"`` or a CIDR."""

    dst: str
    gateway: str | None = None
    dev: str | None = None


class Dataplane(abc.ABC):
    """Network namespaces, devices, addresses, routes, FDB and neighbour entries."""

    # Namespaces -----------------------------------------------------------
    @abc.abstractmethod
    def namespaces(self) -> list[str]:
        """Names of every network namespace under /run/netns."""

    @abc.abstractmethod
    def ensure_namespace(self, name: str) -> None:
        """Create namespace ``name`` (its ``lo`` up) unless it exists."""

    @abc.abstractmethod
    def delete_namespace(self, name: str) -> None:
        """Remove namespace ``name``; its devices go with it (veth peers too)."""

    # Devices --------------------------------------------------------------
    @abc.abstractmethod
    def links(self, ns: str) -> list[Link]:
        """Every device of ``ns``."""

    @abc.abstractmethod
    def ensure_bridge(self, ns: str, name: str, mtu: int | None = None) -> None:
        """A Linux bridge ``name`` (not brought up) with a MAC address of its own, which
        ports coming and going never change (decision 090)."""

    @abc.abstractmethod
    def ensure_vxlan(self, ns: str, name: str, vni: int, local_ip: str, underlay_dev: str,
                     mtu: int | None = None, *, group: str | None = None,
                     port: int = VXLAN_PORT) -> None:
        """``vxlan id VNI local IP dev DEV dstport 4789 nolearning``.

        With ``group``: ``vxlan id VNI local IP group GROUP dev DEV dstport PORT``
        with learning (a flooding L2 segment, how VLANs are emulated on kernels
        without 802.1Q). An existing device with the same name but another
        VNI, local address, group or underlay device is replaced.
        """

    @abc.abstractmethod
    def ensure_vlan(self, ns: str, name: str, parent: str, vlan_id: int,
                    mtu: int | None = None) -> None:
        """A VLAN sub-interface ``name`` of ``parent`` (replaced if it differs)."""

    @abc.abstractmethod
    def ensure_veth(self, ns: str, name: str, peer_ns: str, peer_name: str,
                    peer_mac: str | None = None, mtu: int | None = None) -> None:
        """A veth pair: ``name`` in ``ns``, its peer ``peer_name`` in ``peer_ns``.

        The peer gets ``peer_mac`` and both ends ``mtu``. A pair that exists
        with its peer elsewhere, or a stale ``peer_name`` in ``peer_ns``, is
        replaced.
        """

    @abc.abstractmethod
    def set_link(self, ns: str, name: str, *, up: bool | None = None,
                 master: str | None = None, mtu: int | None = None,
                 mac: str | None = None) -> None:
        """Change what is given; ``None`` leaves an attribute alone."""

    @abc.abstractmethod
    def delete_link(self, ns: str, name: str) -> None:
        """Remove device ``name`` (for a veth, both ends)."""

    # Addresses and routes ---------------------------------------------------
    @abc.abstractmethod
    def addresses(self, ns: str, name: str) -> list[str]:
        """Addresses of device ``name`` as CIDRs (``10.0.0.3/24``), IPv6 link-local excluded."""

    @abc.abstractmethod
    def add_address(self, ns: str, name: str, cidr: str) -> None: ...

    @abc.abstractmethod
    def delete_address(self, ns: str, name: str, cidr: str) -> None: ...

    @abc.abstractmethod
    def routes(self, ns: str) -> list[Route]:
        """Routes of the main table that have a gateway (connected routes are the kernel's)."""

    @abc.abstractmethod
    def add_route(self, ns: str, route: Route) -> None: ...

    @abc.abstractmethod
    def delete_route(self, ns: str, route: Route) -> None: ...

    # L2 population ----------------------------------------------------------
    @abc.abstractmethod
    def fdb_table(self, ns: str) -> dict[str, list[FdbEntry]]:
        """Entries that point at a remote VTEP, per device, for the whole namespace (one dump)."""

    def fdb(self, ns: str, dev: str) -> list[FdbEntry]:
        """Static entries of VXLAN device ``dev`` that point at a remote VTEP."""
        return self.fdb_table(ns).get(dev, [])

    @abc.abstractmethod
    def add_fdb(self, ns: str, dev: str, entry: FdbEntry) -> None: ...

    @abc.abstractmethod
    def delete_fdb(self, ns: str, dev: str, entry: FdbEntry) -> None: ...

    @abc.abstractmethod
    def neighbour_table(self, ns: str) -> dict[str, list[Neighbour]]:
        """Permanent neighbour entries per device for the whole namespace (one dump)."""

    def neighbours(self, ns: str, dev: str) -> list[Neighbour]:
        """Permanent neighbour entries of ``dev``."""
        return self.neighbour_table(ns).get(dev, [])

    @abc.abstractmethod
    def add_neighbour(self, ns: str, dev: str, entry: Neighbour) -> None:
        """Add or replace the entry for ``entry.ip``."""

    @abc.abstractmethod
    def delete_neighbour(self, ns: str, dev: str, entry: Neighbour) -> None: ...

    # Lifetime ---------------------------------------------------------------
    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release netlink sockets (the kernel state stays)."""

    def __enter__(self) -> Dataplane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
