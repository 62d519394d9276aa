"""The load-balancer service's view of networking (Octavia's network driver).

Look-ups go through the region's own networking, so a subnet the region does
not hold yet is mirrored on demand and a ``local`` network of another region
is refused there with ``network not located in current region``, exactly as
for any other caller. VIP ports are created at central (the
allowed-address-pairs model: central allocates the address once, for every
region); ports that plug an amphora are created through the region, which
binds them to the amphora's host.

Contract: every call may be retried. ``create_*`` calls take a ``name`` that
identifies what they create, and :meth:`NetworkDriver.find_port` finds a port
by that name, so a flow that crashed after the port was made finds it again
instead of making a second one. ``delete_port`` of a port that is gone
succeeds.

Errors (all :class:`NetworkError`)::

    NetworkError
    ├── NetworkNotFound     the subnet, network or port does not exist (404)
    ├── NetworkRefused      networking refused the request (400/409): its message
    │                       (e.g. "network not located in current region") is kept
    └── NetworkUnavailable  networking could not be reached, or failed (retry)
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from tricircle_lb.common.errors import ApiError, NotFound, ServiceUnavailable
from tricircle_lb.common.http import ServiceSession
from tricircle_lb.networking.client import NeutronClient, seg

VIP_DEVICE_OWNER = "Octavia"


class NetworkError(Exception):
    """Networking could not do what the load-balancer service asked."""


class NetworkNotFound(NetworkError):
    pass


class NetworkRefused(NetworkError):
    pass


class NetworkUnavailable(NetworkError):
    pass


@dataclass(frozen=True)
class Subnet:
    id: str
    network_id: str
    project_id: str
    cidr: str
    ip_version: int
    gateway_ip: str | None


@dataclass(frozen=True)
class Network:
    id: str
    name: str
    project_id: str
    network_type: str
    subnet_ids: tuple[str, ...]


@dataclass(frozen=True)
class FixedIp:
    subnet_id: str
    ip_address: str


@dataclass(frozen=True)
class Port:
    id: str
    name: str
    network_id: str
    mac_address: str
    fixed_ips: tuple[FixedIp, ...]
    device_id: str = ""
    device_owner: str = ""
    allowed_address_pairs: tuple[str, ...] = field(default=())
    security_groups: tuple[str, ...] = field(default=())

    @property
    def ip_address(self) -> str:
        """The first fixed address (ports this service makes have one)."""
        return self.fixed_ips[0].ip_address if self.fixed_ips else ""


@dataclass(frozen=True, order=True)
class IngressRule:
    """An ingress rule of a group this service owns (a listener's port, VRRP)."""

    protocol: str  # tcp, udp, sctp, or a number (112: VRRP)
    ethertype: str = "IPv4"
    port: int | None = None
    remote_ip_prefix: str | None = None


class NetworkDriver(Protocol):
    """Look-ups take the caller's ``token`` when they resolve an id the caller passed
    (a VIP subnet, network or port, a member's subnet): the caller's visibility, not
    the service's, decides what exists (as Octavia's validations pass the user's
    context). Without a token they act as the service."""

    def get_subnet(self, subnet_id: str, token: str | None = None) -> Subnet:
        """The subnet as the region sees it (mirrored on demand, locality enforced)."""

    def get_network(self, network_id: str, token: str | None = None) -> Network:
        """The network as the region sees it (mirrored on demand, locality enforced)."""

    def get_port(self, port_id: str, token: str | None = None) -> Port:
        """A port, from central (it knows every port)."""

    def find_port(self, name: str) -> Port | None:
        """The port this service created under ``name``, if any (from central)."""

    def create_vip_port(self, *, name: str, project_id: str, network_id: str,
                        subnet_id: str | None, ip_address: str | None) -> Port:
        """The VIP port at central: owner ``Octavia``, not bound anywhere."""

    def create_port(self, *, name: str, project_id: str, network_id: str,
                    subnet_id: str | None = None, security_groups: tuple[str, ...] = (),
                    allowed_address_pairs: tuple[str, ...] = ()) -> Port:
        """A port through the region, to be attached to an amphora by compute."""

    def set_allowed_address_pairs(self, port_id: str, addresses: tuple[str, ...]) -> Port:
        """Replace the port's allowed address pairs (the VIP on a VRRP port)."""

    def delete_port(self, port_id: str) -> None:
        """Delete the port at central (gone already: fine)."""

    def find_security_group(self, name: str) -> str | None:
        """The id of the service project's security group called ``name``."""

    def ensure_security_group(self, name: str, rules: tuple[IngressRule, ...]) -> str:
        """The service project's group ``name`` (made if missing, with networking's
        default egress rules) whose ingress rules are exactly ``rules``; its id."""

    def delete_security_group(self, name: str) -> None:
        """Delete the service project's group ``name`` (gone already: fine)."""

    def set_security_groups(self, port_id: str, groups: tuple[str, ...]) -> Port:
        """Replace the port's security groups."""

    def find_network(self, name: str) -> str | None:
        """The id of the network called ``name`` (the management network), from central."""


class NeutronNetworkDriver:
    """:class:`NetworkDriver` over the region's and central's Neutron APIs."""

    def __init__(self, session: ServiceSession, region: str, central_region: str) -> None:
        self.local = NeutronClient(session, region)
        self.central = NeutronClient(session, central_region)

    def get_subnet(self, subnet_id: str, token: str | None = None) -> Subnet:
        body = _call(self.local, "GET", f"/v2.0/subnets/{seg(subnet_id)}",
                     token=token)["subnet"]
        return Subnet(id=str(body["id"]), network_id=str(body["network_id"]),
                      project_id=str(body.get("project_id") or body.get("tenant_id") or ""),
                      cidr=str(body["cidr"]), ip_version=int(body["ip_version"]),
                      gateway_ip=body.get("gateway_ip"))

    def get_network(self, network_id: str, token: str | None = None) -> Network:
        body = _call(self.local, "GET", f"/v2.0/networks/{seg(network_id)}",
                     token=token)["network"]
        return Network(id=str(body["id"]), name=str(body.get("name") or ""),
                       project_id=str(body.get("project_id") or body.get("tenant_id") or ""),
                       network_type=str(body.get("provider:network_type") or ""),
                       subnet_ids=tuple(str(s) for s in body.get("subnets") or ()))

    def get_port(self, port_id: str, token: str | None = None) -> Port:
        return _port(_call(self.central, "GET", f"/v2.0/ports/{seg(port_id)}",
                           token=token)["port"])

    def find_port(self, name: str) -> Port | None:
        ports = _call(self.central, "GET", "/v2.0/ports", params={"name": name})["ports"]
        return _port(ports[0]) if ports else None

    def create_vip_port(self, *, name: str, project_id: str, network_id: str,
                        subnet_id: str | None, ip_address: str | None) -> Port:
        existing = self.find_port(name)
        if existing is not None:
            return existing
        fixed: dict[str, str] = {}
        if subnet_id:
            fixed["subnet_id"] = subnet_id
        if ip_address:
            fixed["ip_address"] = ip_address
        body: dict[str, Any] = {"name": name, "network_id": network_id,
                                "project_id": project_id, "device_owner": VIP_DEVICE_OWNER,
                                "admin_state_up": False}
        if fixed:
            body["fixed_ips"] = [fixed]
        return _port(_call(self.central, "POST", "/v2.0/ports", body={"port": body})["port"])

    def create_port(self, *, name: str, project_id: str, network_id: str,
                    subnet_id: str | None = None, security_groups: tuple[str, ...] = (),
                    allowed_address_pairs: tuple[str, ...] = ()) -> Port:
        existing = self.find_port(name)
        if existing is not None:
            return existing
        body: dict[str, Any] = {"name": name, "network_id": network_id}
        if project_id:  # else the service's own project, as Octavia's amphora ports
            body["project_id"] = project_id
        if subnet_id:
            body["fixed_ips"] = [{"subnet_id": subnet_id}]
        if security_groups:
            body["security_groups"] = list(security_groups)
        if allowed_address_pairs:
            body["allowed_address_pairs"] = [{"ip_address": a} for a in allowed_address_pairs]
        return _port(_call(self.local, "POST", "/v2.0/ports", body={"port": body})["port"])

    def set_allowed_address_pairs(self, port_id: str, addresses: tuple[str, ...]) -> Port:
        body = {"port": {"allowed_address_pairs": [{"ip_address": a} for a in addresses]}}
        return _port(_call(self.central, "PUT", f"/v2.0/ports/{seg(port_id)}", body=body)["port"])

    def delete_port(self, port_id: str) -> None:
        with contextlib.suppress(NetworkNotFound):
            _call(self.central, "DELETE", f"/v2.0/ports/{seg(port_id)}")

    def find_security_group(self, name: str) -> str | None:
        groups = _call(self.central, "GET", "/v2.0/security-groups",
                       params={"name": name})["security_groups"]
        return str(groups[0]["id"]) if groups else None

    def ensure_security_group(self, name: str, rules: tuple[IngressRule, ...]) -> str:
        group_id = self.find_security_group(name)
        if group_id is None:
            group_id = str(_call(self.central, "POST", "/v2.0/security-groups", body={
                "security_group": {"name": name, "description": "Load balancer VIP"}},
            )["security_group"]["id"])
        have = _call(self.central, "GET", "/v2.0/security-group-rules",
                     params={"security_group_id": group_id})["security_group_rules"]
        existing: dict[IngressRule, str] = {}
        for rule in have:
            if rule.get("security_group_id") != group_id or rule.get("direction") != "ingress":
                continue
            existing[IngressRule(
                protocol=str(rule.get("protocol") or ""), ethertype=str(rule["ethertype"]),
                port=rule.get("port_range_min"),
                remote_ip_prefix=rule.get("remote_ip_prefix"))] = str(rule["id"])
        for rule, rule_id in sorted(existing.items()):
            if rule not in rules:
                with contextlib.suppress(NetworkNotFound):
                    _call(self.central, "DELETE", f"/v2.0/security-group-rules/{seg(rule_id)}")
        for rule in sorted(set(rules) - set(existing)):
            _call(self.central, "POST", "/v2.0/security-group-rules", body={
                "security_group_rule": {
                    "security_group_id": group_id, "direction": "ingress",
                    "ethertype": rule.ethertype, "protocol": rule.protocol,
                    "port_range_min": rule.port, "port_range_max": rule.port,
                    "remote_ip_prefix": rule.remote_ip_prefix}})
        return group_id

    def delete_security_group(self, name: str) -> None:
        group_id = self.find_security_group(name)
        if group_id is not None:
            with contextlib.suppress(NetworkNotFound):
                _call(self.central, "DELETE", f"/v2.0/security-groups/{seg(group_id)}")

    def set_security_groups(self, port_id: str, groups: tuple[str, ...]) -> Port:
        body = {"port": {"security_groups": list(groups)}}
        return _port(_call(self.central, "PUT", f"/v2.0/ports/{seg(port_id)}", body=body)["port"])

    def find_network(self, name: str) -> str | None:
        networks = _call(self.central, "GET", "/v2.0/networks",
                         params={"name": name})["networks"]
        return str(networks[0]["id"]) if networks else None


def _call(client: NeutronClient, method: str, path: str, body: dict[str, Any] | None = None,
          params: dict[str, str] | None = None, token: str | None = None) -> dict[str, Any]:
    try:
        return client.request(method, path, token=token or None, body=body, params=params)
    except NotFound as exc:
        raise NetworkNotFound(exc.message) from exc
    except ServiceUnavailable as exc:
        raise NetworkUnavailable(exc.message) from exc
    except ApiError as exc:
        if exc.status_code >= 500:
            raise NetworkUnavailable(exc.message) from exc
        raise NetworkRefused(exc.message) from exc


def _port(body: dict[str, Any]) -> Port:
    return Port(
        id=str(body["id"]), name=str(body.get("name") or ""),
        network_id=str(body["network_id"]), mac_address=str(body.get("mac_address") or ""),
        fixed_ips=tuple(FixedIp(str(ip["subnet_id"]), str(ip["ip_address"]))
                        for ip in body.get("fixed_ips") or ()),
        device_id=str(body.get("device_id") or ""),
        device_owner=str(body.get("device_owner") or ""),
        allowed_address_pairs=tuple(str(p["ip_address"])
                                    for p in body.get("allowed_address_pairs") or ()),
        security_groups=tuple(str(g) for g in body.get("security_groups") or ()),
    )
