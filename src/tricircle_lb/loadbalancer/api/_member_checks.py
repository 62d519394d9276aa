"""Member address rules that need no database.

Octavia refuses the addresses in ``[networking] reserved_ips`` (by default
the metadata address 169.254.169.254). Here the set is fixed and wider,
because none of these can be a real backend behind an amphora: the
unspecified address (0.0.0.0, ::), loopback (127.0.0.0/8, ::1), link-local
(169.254.0.0/16, fe80::/10, which holds the metadata address), multicast,
and IPv4's reserved 240.0.0.0/4 and broadcast. The load balancer's own VIP
is refused too (HAProxy would send to itself), and so is any address of an
amphora management network (``reserved_member_cidrs``): from there a
tenant's HAProxy and health checks would reach the amphorae's agents.

Address families are not mixed: an amphora here has one address family on
its VIP, so an IPv6 member behind an IPv4 VIP (or the reverse) is refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from tricircle_lb.loadbalancer.errors import invalid_option

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _in(ip: IpAddress, networks: Sequence[IpNetwork]) -> bool:
    return any(ip.version == n.version and ip in n for n in networks)


def parse_address(address: str, field: str = "address") -> IpAddress:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        raise invalid_option(f"{field} {address!r} is not a valid IP address.") from None


def check_member_address(address: str, vip_address: str | None,
                         management: Sequence[IpNetwork] = ()) -> str:
    """The address in canonical form, or 400."""
    ip = parse_address(address)
    # IPv4's is_reserved is 240.0.0.0/4, broadcast included.
    reserved = (ip.is_unspecified or ip.is_loopback or ip.is_link_local or ip.is_multicast
                or (ip.version == 4 and ip.is_reserved) or _in(ip, management))
    if reserved:
        raise invalid_option(f"{ip} is not a valid option for member address.")
    if vip_address:
        vip = ipaddress.ip_address(vip_address)
        if ip == vip:
            raise invalid_option(f"Member address {ip} is the load balancer's VIP address.")
        if ip.version != vip.version:
            raise invalid_option(f"IPv{ip.version} members are not supported with an "
                                 f"IPv{vip.version} VIP.")
    return str(ip)


def check_monitor_address(address: str | None, member_address: str,
                          management: Sequence[IpNetwork] = ()) -> str | None:
    """The monitor address, canonical, of the member's family (or ``None``)."""
    if address is None:
        return None
    ip = parse_address(address, "monitor_address")
    if ip.version != ipaddress.ip_address(member_address).version:
        raise invalid_option("monitor_address must be of the member address's IP version.")
    if ip.is_unspecified or ip.is_multicast or _in(ip, management):
        raise invalid_option(f"{ip} is not a valid option for monitor_address.")
    return str(ip)


def check_subnet_family(address: str, subnet_id: str, ip_version: int) -> None:
    if ipaddress.ip_address(address).version != ip_version:
        raise invalid_option(f"Member address {address} is not an IPv{ip_version} address "
                             f"like subnet {subnet_id}.")
