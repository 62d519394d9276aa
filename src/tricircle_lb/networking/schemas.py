"""Request bodies of the v2.0 API, validated as Neutron validates them.

Unknown attributes are refused (``Unrecognized attribute(s)``), as Neutron
refuses them. Attribute names with a colon (``provider:network_type``) are
aliases. Checks that need the database (CIDR overlaps, segments in use …)
happen in the plugins.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Name = Annotated[str, Field(max_length=255)]
Description = Annotated[str, Field(max_length=255)]
ProjectId = Annotated[str, Field(max_length=64)]
Uuid = Annotated[str, Field(max_length=36)]
Tag = Annotated[str, Field(min_length=1, max_length=255)]
# What the database's INTEGER holds (Neutron: DB_INTEGER_MAX_VALUE).
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
Mtu = Annotated[int, Field(ge=68, le=65535)]
QuotaLimit = Annotated[int, Field(ge=-1, le=2**31 - 1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False)


class Update(Strict):
    """An update body: attributes left out keep their value; ``null`` is refused.

    ``None`` is the default only to tell "not given" apart; an explicit
    ``null`` is accepted only for the attributes Neutron lets clear that way
    (``NULLABLE``, by wire name).
    """

    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _no_null(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if value is None and key not in cls.NULLABLE:
                    raise ValueError(f"'{key}' may not be null")
        return data


class NetworkCreate(Strict):
    name: Name = ""
    description: Description = ""
    admin_state_up: bool = True
    shared: bool = False
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    provider_network_type: Literal["vxlan", "vlan", "flat", "local"] | None = Field(
        None, alias="provider:network_type")
    provider_physical_network: Annotated[str, Field(max_length=64)] | None = Field(
        None, alias="provider:physical_network")
    provider_segmentation_id: Int32 | None = Field(None, alias="provider:segmentation_id")
    availability_zone_hints: list[Annotated[str, Field(max_length=255)]] = []
    mtu: Mtu | None = None
    port_security_enabled: bool = True
    router_external: Literal[False] = Field(False, alias="router:external")
    tags: list[Tag] = []


class NetworkUpdate(Update):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: bool | None = None
    shared: bool | None = None
    mtu: Mtu | None = None
    port_security_enabled: bool | None = None


class AllocationPool(Strict):
    start: Annotated[str, Field(max_length=64)]
    end: Annotated[str, Field(max_length=64)]


class HostRoute(Strict):
    destination: Annotated[str, Field(max_length=64)]
    nexthop: Annotated[str, Field(max_length=64)]


Ipv6Mode = Literal["slaac", "dhcpv6-stateful", "dhcpv6-stateless"]


class SubnetCreate(Strict):
    network_id: Uuid
    cidr: Annotated[str, Field(max_length=64)]
    ip_version: Literal[4, 6] = 4
    name: Name = ""
    description: Description = ""
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    # Absent: the first address of the CIDR; null (``--gateway none``): no gateway.
    gateway_ip: Annotated[str, Field(max_length=64)] | None = None
    enable_dhcp: bool = True
    allocation_pools: list[AllocationPool] | None = None
    dns_nameservers: list[Annotated[str, Field(max_length=64)]] = []
    host_routes: list[HostRoute] = []
    ipv6_ra_mode: Ipv6Mode | None = None
    ipv6_address_mode: Ipv6Mode | None = None
    subnetpool_id: None = None
    segment_id: None = None
    service_types: list[Any] = Field([], max_length=0)
    tags: list[Tag] = []


class SubnetUpdate(Update):
    NULLABLE = frozenset({"gateway_ip", "dns_nameservers", "host_routes", "allocation_pools"})
    name: Name | None = None
    description: Description | None = None
    gateway_ip: Annotated[str, Field(max_length=64)] | None = None
    enable_dhcp: bool | None = None
    allocation_pools: list[AllocationPool] | None = None
    dns_nameservers: list[Annotated[str, Field(max_length=64)]] | None = None
    host_routes: list[HostRoute] | None = None


class FixedIp(Strict):
    subnet_id: Uuid | None = None
    ip_address: Annotated[str, Field(max_length=64)] | None = None


class AddressPair(Strict):
    ip_address: Annotated[str, Field(max_length=64)]
    mac_address: Annotated[str, Field(max_length=32)] | None = None


VnicType = Literal["normal", "direct", "macvtap", "baremetal", "direct-physical",
                   "virtio-forwarder", "smart-nic", "remote-managed"]


class PortCreate(Strict):
    network_id: Uuid
    name: Name = ""
    description: Description = ""
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    admin_state_up: bool = True
    mac_address: Annotated[str, Field(max_length=32)] | None = None
    fixed_ips: list[FixedIp] | None = None
    device_id: Annotated[str, Field(max_length=255)] = ""
    device_owner: Annotated[str, Field(max_length=255)] = ""
    binding_host_id: Annotated[str, Field(max_length=255)] = Field("", alias="binding:host_id")
    binding_profile: dict[str, Any] = Field({}, alias="binding:profile")
    binding_vnic_type: VnicType = Field("normal", alias="binding:vnic_type")
    allowed_address_pairs: list[AddressPair] = []
    security_groups: list[Uuid] | None = None
    port_security_enabled: bool | None = None
    tags: list[Tag] = []


class PortUpdate(Update):
    NULLABLE = frozenset({"security_groups", "allowed_address_pairs", "binding:host_id",
                          "binding:profile", "device_id", "device_owner"})
    name: Name | None = None
    description: Description | None = None
    admin_state_up: bool | None = None
    mac_address: Annotated[str, Field(max_length=32)] | None = None
    fixed_ips: list[FixedIp] | None = None
    device_id: Annotated[str, Field(max_length=255)] | None = None
    device_owner: Annotated[str, Field(max_length=255)] | None = None
    binding_host_id: Annotated[str, Field(max_length=255)] | None = Field(
        None, alias="binding:host_id")
    binding_profile: dict[str, Any] | None = Field(None, alias="binding:profile")
    binding_vnic_type: VnicType | None = Field(None, alias="binding:vnic_type")
    allowed_address_pairs: list[AddressPair] | None = None
    security_groups: list[Uuid] | None = None
    port_security_enabled: bool | None = None


class SecurityGroupCreate(Strict):
    name: Name = ""
    description: Description = ""
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    stateful: bool = True
    tags: list[Tag] = []


class SecurityGroupUpdate(Update):
    name: Name | None = None
    description: Description | None = None
    stateful: bool | None = None


class SecurityGroupRuleCreate(Strict):
    security_group_id: Uuid
    direction: Literal["ingress", "egress"]
    ethertype: Literal["IPv4", "IPv6"] = "IPv4"
    protocol: Annotated[str, Field(max_length=40)] | int | None = None
    port_range_min: Int32 | None = None
    port_range_max: Int32 | None = None
    remote_ip_prefix: Annotated[str, Field(max_length=64)] | None = None
    remote_group_id: Uuid | None = None
    remote_address_group_id: None = None
    description: Description = ""
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None


# Envelopes: Neutron wraps every body in the resource's name.
class NetworkCreateBody(Strict):
    network: NetworkCreate


class NetworkUpdateBody(Strict):
    network: NetworkUpdate


class SubnetCreateBody(Strict):
    subnet: SubnetCreate


class SubnetUpdateBody(Strict):
    subnet: SubnetUpdate


class PortCreateBody(Strict):
    port: PortCreate


class PortUpdateBody(Strict):
    port: PortUpdate


class SecurityGroupCreateBody(Strict):
    security_group: SecurityGroupCreate


class SecurityGroupUpdateBody(Strict):
    security_group: SecurityGroupUpdate


class SecurityGroupRuleCreateBody(Strict):
    security_group_rule: SecurityGroupRuleCreate


class QuotaUpdate(Strict):
    network: QuotaLimit | None = None
    subnet: QuotaLimit | None = None
    port: QuotaLimit | None = None
    security_group: QuotaLimit | None = None
    security_group_rule: QuotaLimit | None = None
    router: QuotaLimit | None = None
    floatingip: QuotaLimit | None = None
    rbac_policy: QuotaLimit | None = None
    subnetpool: QuotaLimit | None = None


class QuotaUpdateBody(Strict):
    quota: QuotaUpdate


class TagsBody(Strict):
    tags: list[Tag]


class PodCreate(Strict):
    region_name: Annotated[str, Field(min_length=1, max_length=255)]
    az_name: Annotated[str, Field(max_length=255)] = ""
    pod_az_name: Annotated[str, Field(max_length=255)] = ""
    dc_name: Annotated[str, Field(max_length=255)] = ""


class PodCreateBody(Strict):
    pod: PodCreate


class RoutingCreate(Strict):
    top_id: Annotated[str, Field(min_length=1, max_length=127)]
    bottom_id: Uuid | None = None
    pod_id: Uuid
    project_id: ProjectId
    resource_type: Literal["network", "subnet", "port", "security_group", "shadow_port"]


class RoutingCreateBody(Strict):
    routing: RoutingCreate


class PortStatusBody(Strict):
    """What a host agent reports once a port is plugged (or lost)."""

    status: Literal["ACTIVE", "DOWN", "BUILD", "ERROR"]


class AgentReport(Strict):
    agent_type: Annotated[str, Field(min_length=1, max_length=255)]
    binary: Annotated[str, Field(min_length=1, max_length=255)]
    tunnel_ip: Annotated[str, Field(max_length=64)] | None = None
    region: Annotated[str, Field(max_length=255)] | None = None
    configurations: dict[str, Any] = {}


class AgentReportBody(Strict):
    agent: AgentReport
