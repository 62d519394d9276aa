"""IP address management (central only): subnet checks and address allocation.

Allocation is race free because ``ip_allocations`` has a unique key on
(subnet, address): a concurrent double allocation fails at commit instead of
handing one address to two ports.
"""

from __future__ import annotations

import ipaddress
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tricircle_lb.common.errors import BadRequest, Conflict
from tricircle_lb.networking.errors import invalid
from tricircle_lb.networking.models import IPAllocation, Port, Subnet

# Any, not IPv4Address | IPv6Address: mypy refuses to order a union with itself,
# and every comparison here is between addresses of one version (checked first).
IPAddress = Any
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class SubnetPlan:
    cidr: str
    gateway_ip: str | None
    allocation_pools: list[dict[str, str]]


def parse_ip(text: str, what: str = "ip_address") -> IPAddress:
    try:
        return ipaddress.ip_address(text)
    except ValueError as exc:
        raise invalid(f"'{text}' is not a valid IP address for {what}") from exc


def parse_cidr(text: str, ip_version: int) -> IPNetwork:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise invalid(f"'{text}' is not a valid IP subnet") from exc
    if net.version != ip_version:
        raise invalid(f"Cidr {text} does not match ip_version {ip_version}")
    if net.network_address != ipaddress.ip_interface(text).ip:
        raise invalid(f"'{text}' isn't a recommended CIDR, '{net}' is recommended")
    if net.prefixlen > (30 if ip_version == 4 else 126):
        raise invalid(f"{text} is too small a subnet: no room for addresses")
    return net


def _usable_bounds(net: IPNetwork) -> tuple[IPAddress, IPAddress]:
    first = net.network_address + 1
    last = net.broadcast_address - 1 if net.version == 4 else net.broadcast_address
    return first, last


def plan_subnet(cidr: str, ip_version: int, gateway: str | None, gateway_given: bool,
                pools: list[dict[str, str]] | None) -> SubnetPlan:
    net = parse_cidr(cidr, ip_version)
    first, last = _usable_bounds(net)
    gateway_ip: IPAddress | None = None
    if not gateway_given:
        gateway_ip = first
    elif gateway is not None:
        gateway_ip = parse_ip(gateway, "gateway_ip")
        if gateway_ip.version != ip_version or gateway_ip not in net:
            raise invalid(f"Gateway IP {gateway} conflicts with subnet {cidr}")
        if net.version == 4 and gateway_ip in (net.network_address, net.broadcast_address):
            raise invalid(f"Gateway is not valid on subnet: {gateway} is the network or "
                          "broadcast address")
    if pools is None:
        ranges = _default_ranges(first, last, gateway_ip)
    else:
        ranges = _check_pools(net, first, last, pools, gateway_ip)
    return SubnetPlan(str(net), str(gateway_ip) if gateway_ip else None,
                      [{"start": str(a), "end": str(b)} for a, b in ranges])


def _default_ranges(first: IPAddress, last: IPAddress,
                    gateway: IPAddress | None) -> list[tuple[IPAddress, IPAddress]]:
    if gateway is None or not first <= gateway <= last:
        return [(first, last)]
    ranges = []
    if gateway > first:
        ranges.append((first, gateway - 1))
    if gateway < last:
        ranges.append((gateway + 1, last))
    return ranges


def _check_pools(net: IPNetwork, first: IPAddress, last: IPAddress, pools: list[dict[str, str]],
                 gateway: IPAddress | None) -> list[tuple[IPAddress, IPAddress]]:
    ranges = []
    for pool in pools:
        start, end = parse_ip(pool["start"], "start"), parse_ip(pool["end"], "end")
        if start.version != net.version or end.version != net.version or start > end:
            raise BadRequest(f"The allocation pool {start}-{end} spans beyond the subnet "
                             f"cidr {net}.", kind="InvalidAllocationPool")
        if not (first <= start and end <= last):
            raise BadRequest(f"The allocation pool {start}-{end} spans beyond the subnet "
                             f"cidr {net}.", kind="OutOfBoundsAllocationPool")
        if gateway is not None and start <= gateway <= end:
            raise Conflict(f"Gateway ip {gateway} conflicts with allocation pool "
                           f"{start}-{end}.", kind="GatewayConflictWithAllocationPools")
        ranges.append((start, end))
    ranges.sort()
    for (_, prev_end), (start, end) in itertools.pairwise(ranges):
        if start <= prev_end:
            raise Conflict(f"Found overlapping allocation pools: {start}-{end} and an "
                           "earlier pool", kind="OverlappingAllocationPools")
    return ranges


def check_no_overlap(session: Session, network_id: str, cidr: str) -> None:
    new = ipaddress.ip_network(cidr)
    for other in session.scalars(select(Subnet).where(Subnet.network_id == network_id)):
        existing = ipaddress.ip_network(other.cidr)
        if existing.version == new.version and existing.overlaps(new):
            raise invalid(f"Requested subnet with cidr: {cidr} for network: {network_id} "
                          f"overlaps with another subnet")


def _pool_addresses(subnet: Subnet) -> Iterator[IPAddress]:
    for pool in subnet.allocation_pools:
        address: IPAddress = ipaddress.ip_address(pool["start"])
        end: IPAddress = ipaddress.ip_address(pool["end"])
        while address <= end:
            yield address
            address += 1


def allocate(session: Session, subnet: Subnet, requested: str | None) -> str:
    """An address of ``subnet`` for a new port: ``requested`` if free, else the first free."""
    used = set(session.scalars(
        select(IPAllocation.ip_address).where(IPAllocation.subnet_id == subnet.id)))
    if requested is not None:
        address = parse_ip(requested)
        net = ipaddress.ip_network(subnet.cidr)
        first, last = _usable_bounds(net)
        if address.version != net.version or not first <= address <= last:
            raise BadRequest(f"IP address {requested} is not a valid IP for the specified "
                             f"subnet.", kind="InvalidIpForSubnet")
        if str(address) in used:
            raise Conflict(f"IP address {address} already allocated in subnet {subnet.id}",
                           kind="IpAddressAlreadyAllocated")
        return str(address)
    for address in _pool_addresses(subnet):
        if str(address) not in used:
            return str(address)
    raise Conflict(f"No more IP addresses available for subnet {subnet.id}.",
                   kind="IpAddressGenerationFailure")


def random_mac(session: Session, network_id: str) -> str:
    """A ``fa:16:3e`` MAC (OpenStack's base) not yet used on the network."""
    used = set(session.scalars(select(Port.mac_address).where(Port.network_id == network_id)))
    rng = random.SystemRandom()
    for _ in range(64):
        mac = "fa:16:3e:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(3))
        if mac not in used:
            return mac
    raise Conflict("Unable to generate a unique MAC address", kind="MacAddressGenerationFailure")


def normalize_mac(text: str) -> str:
    parts = text.replace("-", ":").lower().split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p)
                                  for p in parts):
        raise invalid(f"'{text}' is not a valid MAC address")
    if int(parts[0], 16) & 1:
        raise invalid(f"'{text}' is a multicast MAC address")
    if text.strip(":0-") == "":
        raise invalid(f"'{text}' is not a valid MAC address")
    return ":".join(parts)
