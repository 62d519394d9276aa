"""Rows as Neutron shows them: the response bodies of the v2.0 API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tricircle_lb.networking.models import (
    Network,
    Port,
    SecurityGroup,
    SecurityGroupRule,
    StandardAttrs,
    Subnet,
)

Body = dict[str, Any]


def timestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _standard(row: StandardAttrs) -> Body:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "tags": list(row.tags or []),
        "revision_number": row.revision_number,
        "created_at": timestamp(row.created_at),
        "updated_at": timestamp(row.updated_at),
    }


def network(row: Network, availability_zones: list[str] | None = None) -> Body:
    body = _standard(row)
    body.update({
        "admin_state_up": row.admin_state_up,
        "status": row.status,
        "shared": row.shared,
        "mtu": row.mtu,
        "port_security_enabled": row.port_security_enabled,
        "subnets": [s.id for s in row.subnets],
        "provider:network_type": row.network_type,
        "provider:physical_network": row.physical_network,
        "provider:segmentation_id": row.segmentation_id,
        "availability_zone_hints": list(row.availability_zone_hints or []),
        "availability_zones": list(availability_zones or []),
        "router:external": False,
        "is_default": False,
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "qos_policy_id": None,
        "l2_adjacency": True,
    })
    return body


def subnet(row: Subnet) -> Body:
    body = _standard(row)
    body.update({
        "network_id": row.network_id,
        "ip_version": row.ip_version,
        "cidr": row.cidr,
        "gateway_ip": row.gateway_ip,
        "enable_dhcp": row.enable_dhcp,
        "allocation_pools": [dict(p) for p in row.allocation_pools or []],
        "dns_nameservers": list(row.dns_nameservers or []),
        "host_routes": [dict(r) for r in row.host_routes or []],
        "ipv6_ra_mode": row.ipv6_ra_mode,
        "ipv6_address_mode": row.ipv6_address_mode,
        "subnetpool_id": None,
        "segment_id": None,
        "service_types": [],
    })
    return body


def port(row: Port) -> Body:
    body = _standard(row)
    body.update({
        "network_id": row.network_id,
        "admin_state_up": row.admin_state_up,
        "status": row.status,
        "mac_address": row.mac_address,
        "fixed_ips": [{"subnet_id": a.subnet_id, "ip_address": a.ip_address}
                      for a in row.fixed_ips],
        "device_id": row.device_id,
        "device_owner": row.device_owner,
        "binding:host_id": row.binding_host_id,
        "binding:vif_type": row.binding_vif_type,
        "binding:vnic_type": row.binding_vnic_type,
        "binding:profile": dict(row.binding_profile or {}),
        "binding:vif_details": {},
        "allowed_address_pairs": [dict(p) for p in row.allowed_address_pairs or []],
        "port_security_enabled": row.port_security_enabled,
        "security_groups": list(row.security_groups or []),
        "extra_dhcp_opts": [],
        "qos_policy_id": None,
    })
    return body


def security_group(row: SecurityGroup) -> Body:
    body = _standard(row)
    body["stateful"] = row.stateful
    body["security_group_rules"] = [security_group_rule(r) for r in row.rules]
    return body


def security_group_rule(row: SecurityGroupRule) -> Body:
    return {
        "id": row.id,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "security_group_id": row.security_group_id,
        "direction": row.direction,
        "ethertype": row.ethertype,
        "protocol": row.protocol,
        "port_range_min": row.port_range_min,
        "port_range_max": row.port_range_max,
        "remote_ip_prefix": row.remote_ip_prefix,
        "remote_group_id": row.remote_group_id,
        "remote_address_group_id": None,
        "normalized_cidr": row.remote_ip_prefix,
        "description": row.description,
        "revision_number": row.revision_number,
        "created_at": timestamp(row.created_at),
        "updated_at": timestamp(row.updated_at),
    }
