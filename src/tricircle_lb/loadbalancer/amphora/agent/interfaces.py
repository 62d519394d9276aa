"""The amphora's own interfaces: find a plugged port by MAC, hold the VIP, announce it.

The host agent plugs ports into the amphora (``eth0``, ``eth1``, …) with their
fixed IPs; the amphora agent only waits for them and adds the VIP, which the
host agent never removes (it is an allowed address pair of the VRRP port).
In ACTIVE_STANDBY keepalived adds and removes the VIP instead.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

ETH_P_ARP = 0x0806
GARP_REPEATS = 3
GARP_SPACING = 0.05
IFA_F_NODAD = 0x02
EEXIST = 17


class InterfaceTimeout(Exception):
    """The port with that MAC did not show up (plugged and up) in time."""


@dataclass(frozen=True)
class Interface:
    name: str
    index: int
    mac: str
    up: bool
    addresses: tuple[str, ...]  # CIDRs


def _interfaces(ipr: IPRoute) -> list[Interface]:
    addrs: dict[int, list[str]] = {}
    for msg in ipr.get_addr():
        addrs.setdefault(msg["index"], []).append(
            f"{msg.get_attr('IFA_ADDRESS')}/{msg['prefixlen']}")
    found = []
    for link in ipr.get_links():
        mac = link.get_attr("IFLA_ADDRESS")
        if not mac:
            continue
        found.append(Interface(
            name=str(link.get_attr("IFLA_IFNAME")), index=int(link["index"]),
            mac=str(mac).lower(), up=bool(link["flags"] & 1),
            addresses=tuple(addrs.get(link["index"], ()))))
    return found


def wait_for(mac: str, timeout: float, *, with_addresses: bool = False) -> Interface:
    """The interface with ``mac``, once it is up (and has an address, if asked)."""
    mac = mac.lower()
    deadline = time.monotonic() + timeout
    with IPRoute() as ipr:
        while True:
            for iface in _interfaces(ipr):
                if iface.mac == mac and iface.up and (iface.addresses or not with_addresses):
                    return iface
            if time.monotonic() > deadline:
                raise InterfaceTimeout(f"no interface with MAC {mac} is up after {timeout} s")
            time.sleep(0.1)


def add_vip(iface: Interface, vip: str, prefixlen: int) -> None:
    """Add ``vip/prefixlen`` to ``iface`` (already there: nothing to do)."""
    ip = ipaddress.ip_interface(f"{vip}/{prefixlen}")
    if any(ipaddress.ip_interface(a).ip == ip.ip for a in iface.addresses):
        return
    # No duplicate address detection for an IPv6 VIP: it moves between amphorae.
    flags = IFA_F_NODAD if ip.version == 6 else 0
    with IPRoute() as ipr:
        try:
            ipr.addr("add", index=iface.index, address=str(ip.ip), prefixlen=prefixlen,
                     flags=flags)
        except NetlinkError as exc:
            if exc.code != EEXIST:
                raise


def allow_nonlocal_bind() -> None:
    """Let HAProxy bind a VIP this amphora does not hold (an ACTIVE_STANDBY BACKUP).

    The sysctls are per network namespace: writing them from inside the
    amphora changes the amphora only. IPv6 may be disabled (no file)."""
    Path("/proc/sys/net/ipv4/ip_nonlocal_bind").write_text("1\n")
    with contextlib.suppress(FileNotFoundError):
        Path("/proc/sys/net/ipv6/ip_nonlocal_bind").write_text("1\n")


def gratuitous_arp(iface: Interface, vip: str) -> None:
    """Broadcast ARP requests for ``vip`` from ``iface`` so peers update their caches.

    IPv6 VIPs are not announced here (the kernel sends no unsolicited neighbour
    advertisement for a NODAD address; peers re-resolve on their own timeout).
    """
    ip = ipaddress.ip_address(vip)
    if ip.version != 4:
        return
    mac = bytes.fromhex(iface.mac.replace(":", ""))
    broadcast = b"\xff" * 6
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, ip.packed,
                      b"\x00" * 6, ip.packed)
    frame = broadcast + mac + struct.pack("!H", ETH_P_ARP) + arp
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as sock:
        sock.bind((iface.name, ETH_P_ARP))
        for n in range(GARP_REPEATS):
            if n:
                time.sleep(GARP_SPACING)
            with contextlib.suppress(OSError):  # a full queue: the next repeat may pass
                sock.send(frame)
