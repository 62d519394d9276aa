"""Writing central's resources into a region's database as mirrors (same ids).

Each ``upsert_*`` takes central's response body and makes the local row say
the same, inserting or updating; running it twice changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from tricircle_lb.networking.models import (
    IPAllocation,
    NetBase,
    Network,
    Port,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)

Body = dict[str, Any]
MODELS: dict[str, type[NetBase]] = {"network": Network, "subnet": Subnet, "port": Port,
                                    "security_group": SecurityGroup}


def _time(text: str | None) -> datetime:
    if not text:
        return datetime.utcnow().replace(microsecond=0)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def _standard(body: Body) -> Body:
    return {"project_id": body.get("project_id") or body.get("tenant_id") or "",
            "name": body.get("name") or "", "description": body.get("description") or "",
            "tags": list(body.get("tags") or []),
            "revision_number": body.get("revision_number", 0),
            "created_at": _time(body.get("created_at")),
            "updated_at": _time(body.get("updated_at"))}


def _upsert(session: Session, model: type[NetBase], row_id: str, values: Body) -> Any:
    row = session.get(model, row_id)
    if row is None:
        row = model(id=row_id, **values)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    return row


def upsert_network(session: Session, body: Body) -> Network:
    values = _standard(body) | {
        "admin_state_up": body["admin_state_up"], "status": body["status"],
        "shared": body["shared"], "mtu": body["mtu"],
        "port_security_enabled": body.get("port_security_enabled", True),
        "network_type": body["provider:network_type"],
        "physical_network": body.get("provider:physical_network"),
        "segmentation_id": body.get("provider:segmentation_id"),
        "availability_zone_hints": list(body.get("availability_zone_hints") or [])}
    row: Network = _upsert(session, Network, body["id"], values)
    session.flush()
    return row


def upsert_subnet(session: Session, body: Body) -> Subnet:
    values = _standard(body) | {
        "network_id": body["network_id"], "ip_version": body["ip_version"],
        "cidr": body["cidr"], "gateway_ip": body.get("gateway_ip"),
        "enable_dhcp": body.get("enable_dhcp", True),
        "allocation_pools": body.get("allocation_pools") or [],
        "dns_nameservers": body.get("dns_nameservers") or [],
        "host_routes": body.get("host_routes") or [],
        "ipv6_ra_mode": body.get("ipv6_ra_mode"),
        "ipv6_address_mode": body.get("ipv6_address_mode")}
    row: Subnet = _upsert(session, Subnet, body["id"], values)
    session.flush()
    return row


def upsert_port(session: Session, body: Body) -> Port:
    values = _standard(body) | {
        "network_id": body["network_id"], "admin_state_up": body["admin_state_up"],
        "status": body["status"], "mac_address": body["mac_address"],
        "device_id": body.get("device_id") or "", "device_owner": body.get("device_owner") or "",
        "binding_host_id": body.get("binding:host_id") or "",
        "binding_vif_type": body.get("binding:vif_type") or "unbound",
        "binding_vnic_type": body.get("binding:vnic_type") or "normal",
        "binding_profile": body.get("binding:profile") or {},
        "allowed_address_pairs": body.get("allowed_address_pairs") or [],
        "port_security_enabled": body.get("port_security_enabled", True),
        "security_groups": body.get("security_groups") or []}
    row: Port = _upsert(session, Port, body["id"], values)
    session.flush()
    session.execute(delete(IPAllocation).where(IPAllocation.port_id == row.id))
    for position, ip in enumerate(body.get("fixed_ips") or []):
        # Central allocates addresses: if another port's copy still holds this one,
        # central freed it by a delete that has not reached this region yet.
        session.execute(delete(IPAllocation).where(
            IPAllocation.subnet_id == ip["subnet_id"],
            IPAllocation.ip_address == ip["ip_address"]))
        session.add(IPAllocation(port_id=row.id, subnet_id=ip["subnet_id"],
                                 ip_address=ip["ip_address"], network_id=row.network_id,
                                 position=position))
    session.flush()
    session.refresh(row)
    return row


def upsert_security_group(session: Session, body: Body) -> SecurityGroup:
    values = _standard(body) | {"stateful": body.get("stateful", True)}
    row: SecurityGroup = _upsert(session, SecurityGroup, body["id"], values)
    session.flush()
    session.execute(delete(SecurityGroupRule).where(SecurityGroupRule.security_group_id == row.id))
    for rule in body.get("security_group_rules") or []:
        session.add(SecurityGroupRule(
            id=rule["id"], project_id=rule.get("project_id") or values["project_id"],
            security_group_id=row.id, direction=rule["direction"],
            ethertype=rule["ethertype"], protocol=rule.get("protocol"),
            port_range_min=rule.get("port_range_min"),
            port_range_max=rule.get("port_range_max"),
            remote_ip_prefix=rule.get("remote_ip_prefix"),
            remote_group_id=rule.get("remote_group_id"),
            description=rule.get("description") or "",
            revision_number=rule.get("revision_number", 0),
            created_at=_time(rule.get("created_at")), updated_at=_time(rule.get("updated_at"))))
    session.flush()
    session.refresh(row)
    return row


UPSERT = {"network": upsert_network, "subnet": upsert_subnet, "port": upsert_port,
          "security_group": upsert_security_group}


def remove(session: Session, resource_type: str, resource_id: str) -> bool:
    row = session.get(MODELS[resource_type], resource_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
