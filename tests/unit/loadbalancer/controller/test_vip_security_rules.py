"""The VIP group's ingress rules from a load balancer's rows (pure)."""

from __future__ import annotations

from tricircle_lb.loadbalancer.controller import vip_security
from tricircle_lb.loadbalancer.drivers.network import IngressRule
from tricircle_lb.loadbalancer.models import Listener, LoadBalancer


def _lb(vip: str, *listeners: Listener, topology: str = "SINGLE") -> LoadBalancer:
    return LoadBalancer(vip_address=vip, topology=topology, listeners=list(listeners))


def _listener(protocol: str, port: int, cidrs: list[str] | None = None,
              status: str = "ACTIVE") -> Listener:
    return Listener(protocol=protocol, protocol_port=port, allowed_cidrs=cidrs or [],
                    provisioning_status=status)


def test_listeners_vrrp_and_address_family() -> None:
    lb = _lb("10.0.10.5", _listener("HTTP", 80), _listener("UDP", 53),
             _listener("TCP", 8443, ["192.0.2.0/24", "2001:db8::/64"]),
             _listener("HTTPS", 443, status="PENDING_DELETE"), topology="ACTIVE_STANDBY")
    assert vip_security.rules(lb) == (
        IngressRule("112", "IPv4"), IngressRule("51", "IPv4"),
        IngressRule("tcp", "IPv4", 80), IngressRule("tcp", "IPv4", 8443, "192.0.2.0/24"),
        IngressRule("udp", "IPv4", 53))


def test_an_ipv6_vip_gets_ipv6_rules() -> None:
    lb = _lb("2001:db8::5", _listener("SCTP", 9000))
    assert vip_security.rules(lb) == (IngressRule("sctp", "IPv6", 9000),)
    assert vip_security.group_name("abc") == "lb-abc"
