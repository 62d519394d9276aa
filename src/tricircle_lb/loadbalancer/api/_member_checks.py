"""Member address rules that need no database.

Octavia refuses the addresses of ``[networking] reserved_ips`` (by default
the metadata address 169.254.169.254) as ``<ip> is not a valid option for
member address``. Here that list is the metadata address plus every address
of an amphora management network (``reserved_member_cidrs``): from there a
tenant's HAProxy and health checks would reach the amphorae's agents
(docs/security.md). Monitor addresses get the management rule too.

Nothing else: Octavia has no rule between a member's address family and the
VIP's. Its amphora driver refuses to mix them in UDP/SCTP pools (501) because
LVS cannot translate a family; our UDP proxy, nginx's stream module, can, so
only SCTP keeps that 501 (docs/decisions/089-dual-stack-data-plane.md).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from tricircle_lb.common.errors import BadRequest
from tricircle_lb.loadbalancer.errors import not_a_valid_option, unsupported_option

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Octavia's [networking] reserved_ips default.
RESERVED_IPS = (ipaddress.ip_address("169.254.169.254"),)


def _in(ip: IpAddress, networks: Sequence[IpNetwork]) -> bool:
    return any(ip.version == n.version and ip in n for n in networks)


def parse_address(address: str, field: str = "address") -> IpAddress:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        raise BadRequest(f"Invalid input for field/attribute {field}. Value: '{address}'. "
                         "Value should be IPv4 or IPv6 format") from None


def check_member_address(address: str, management: Sequence[IpNetwork] = ()) -> str:
    """The address as given (Octavia keeps a member's text: ``2001:db8:0:0:0:0:0:1``
    stays so), or Octavia's 400."""
    ip = parse_address(address)
    if ip in RESERVED_IPS or _in(ip, management):
        raise not_a_valid_option(ip.exploded.upper(), "member address")
    return address


def check_monitor_address(address: str | None,
                          management: Sequence[IpNetwork] = ()) -> str | None:
    """The monitor address as given (or ``None``)."""
    if address is None:
        return None
    ip = parse_address(address, "monitor_address")
    if _in(ip, management):
        raise not_a_valid_option(ip.exploded.upper(), "monitor_address")
    return address


def check_lvs_family(address: str, pool_protocol: str, vip_addresses: Sequence[str]) -> None:
    """Octavia's amphora driver: an SCTP pool's members need a VIP of their family (LVS
    cannot translate one; nginx, which serves UDP here, can, so UDP may mix them)."""
    if pool_protocol != "SCTP":
        return
    version = ipaddress.ip_address(address).version
    if not any(ipaddress.ip_address(v).version == version for v in vip_addresses if v):
        raise unsupported_option(f"This provider doesn't support mixing IPv4 and IPv6 "
                                 f"addresses for its VIP and members in {pool_protocol} load "
                                 f"balancers.")


def check_subnet_family(address: str, subnet_id: str, ip_version: int) -> None:
    if ipaddress.ip_address(address).version != ip_version:
        raise BadRequest(f"Validation failure: Member address {address} is not an "
                         f"IPv{ip_version} address like subnet {subnet_id}.")
