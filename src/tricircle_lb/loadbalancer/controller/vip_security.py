"""The security group of a load balancer's VIP, as Octavia's network driver keeps it.

One group per load balancer, ``lb-<lb id>``, in the service project: ingress
for each listener's protocol and port (from its ``allowed_cidrs``, else from
anywhere) and, for an ``ACTIVE_STANDBY`` pair, VRRP (IP protocol 112, and 51
for its authentication header) between the amphorae. It is the only group of
each amphora's VRRP port (where the VIP arrives; the VIP is that port's
allowed address pair) and of the VIP port this service made. Egress keeps
networking's default rules, so the amphorae reach their members; their
management ports keep ``lb-mgmt-sec-grp`` and their member-network ports the
service project's ``default`` group.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Iterable

from tricircle_lb.loadbalancer.drivers.network import IngressRule, NetworkDriver, NetworkRefused
from tricircle_lb.loadbalancer.models import LoadBalancer, ProvisioningStatus

LOG = logging.getLogger(__name__)
ACTIVE_STANDBY = "ACTIVE_STANDBY"
VRRP_PROTOCOL = "112"
AUTH_HEADER_PROTOCOL = "51"
_LISTENER_PROTOCOLS = {"UDP": "udp", "SCTP": "sctp"}  # every other listener is TCP
_GONE = (ProvisioningStatus.PENDING_DELETE.value, ProvisioningStatus.DELETED.value)


def group_name(lb_id: str) -> str:
    """Octavia's name of the VIP's group."""
    return f"lb-{lb_id}"


def _ethertype(address: str) -> str:
    return f"IPv{ipaddress.ip_network(address, strict=False).version}"


def rules(lb: LoadBalancer) -> tuple[IngressRule, ...]:
    """The ingress rules ``lb``'s VIP group should have (its listeners loaded)."""
    ethertype = _ethertype(str(lb.vip_address))
    wanted: set[IngressRule] = set()
    for listener in lb.listeners:
        if listener.provisioning_status in _GONE:
            continue
        protocol = _LISTENER_PROTOCOLS.get(listener.protocol, "tcp")
        cidrs: list[str | None] = [str(ipaddress.ip_network(c, strict=False))
                                   for c in listener.allowed_cidrs or ()]
        for cidr in cidrs or [None]:
            if cidr is None or _ethertype(cidr) == ethertype:
                wanted.add(IngressRule(protocol, ethertype, listener.protocol_port, cidr))
    if lb.topology == ACTIVE_STANDBY:
        wanted.add(IngressRule(VRRP_PROTOCOL, ethertype))
        wanted.add(IngressRule(AUTH_HEADER_PROTOCOL, ethertype))
    return tuple(sorted(wanted))


def ensure(network: NetworkDriver, lb_id: str, wanted: tuple[IngressRule, ...]) -> str:
    """The VIP group of ``lb_id`` with exactly ``wanted``; its id."""
    return network.ensure_security_group(group_name(lb_id), wanted)


def attach(network: NetworkDriver, group_id: str, vrrp_port_ids: Iterable[str],
           vip_port_id: str | None) -> None:
    """Make ``group_id`` the only group of the VRRP ports and of the VIP port."""
    for port_id in vrrp_port_ids:
        if network.get_port(port_id).security_groups != (group_id,):
            network.set_security_groups(port_id, (group_id,))
    if vip_port_id:
        # Unbound, so nothing filters it; kept as Octavia keeps it, for operators.
        with contextlib.suppress(NetworkRefused):
            if network.get_port(vip_port_id).security_groups != (group_id,):
                network.set_security_groups(vip_port_id, (group_id,))


def delete(network: NetworkDriver, lb_id: str) -> None:
    """Remove the VIP group once no port has it (after the amphorae and the VIP port)."""
    try:
        network.delete_security_group(group_name(lb_id))
    except NetworkRefused as exc:  # still in use by a port another flow left: next time
        LOG.warning("security group %s not deleted: %s", group_name(lb_id), exc)
