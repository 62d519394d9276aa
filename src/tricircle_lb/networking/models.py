"""Tables of the networking database (the same schema in both roles).

In a region, rows are mirrors of central's resources with the same ids. List
valued attributes that are never queried on their own (allocation pools,
allowed address pairs, tags …) are JSON columns; fixed IPs get their own
table because its unique key is what makes IP allocation race free.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tricircle_lb.jobs import JobMixin


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None)


class NetBase(DeclarativeBase):
    """Declarative base of the networking database (its own metadata)."""


class StandardAttrs:
    """What Neutron's standard attributes give every resource."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    revision_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Network(StandardAttrs, NetBase):
    __tablename__ = "networks"
    __table_args__ = (UniqueConstraint("network_type", "physical_network", "segmentation_id",
                                       name="uniq_networks_segment"),)

    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    mtu: Mapped[int] = mapped_column(Integer, default=1500)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    network_type: Mapped[str] = mapped_column(String(16))
    physical_network: Mapped[str | None] = mapped_column(String(64), nullable=True)
    segmentation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    availability_zone_hints: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The region a `local` network belongs to (from its hint, or its first use).
    home_region: Mapped[str | None] = mapped_column(String(64), nullable=True)

    subnets: Mapped[list[Subnet]] = relationship(
        back_populates="network", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Subnet.created_at")


class Subnet(StandardAttrs, NetBase):
    __tablename__ = "subnets"

    network_id: Mapped[str] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True)
    ip_version: Mapped[int] = mapped_column(Integer)
    cidr: Mapped[str] = mapped_column(String(64))
    gateway_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True)
    allocation_pools: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    dns_nameservers: Mapped[list[str]] = mapped_column(JSON, default=list)
    host_routes: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    ipv6_ra_mode: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ipv6_address_mode: Mapped[str | None] = mapped_column(String(32), nullable=True)

    network: Mapped[Network] = relationship(back_populates="subnets")


class Port(StandardAttrs, NetBase):
    __tablename__ = "ports"
    __table_args__ = (UniqueConstraint("network_id", "mac_address", name="uniq_ports_mac"),)

    network_id: Mapped[str] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    mac_address: Mapped[str] = mapped_column(String(32))
    device_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    device_owner: Mapped[str] = mapped_column(String(255), default="")
    binding_host_id: Mapped[str] = mapped_column(String(255), default="")
    binding_vif_type: Mapped[str] = mapped_column(String(32), default="unbound")
    binding_vnic_type: Mapped[str] = mapped_column(String(32), default="normal")
    binding_profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    allowed_address_pairs: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    security_groups: Mapped[list[str]] = mapped_column(JSON, default=list)

    fixed_ips: Mapped[list[IPAllocation]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="IPAllocation.position")


class IPAllocation(NetBase):
    __tablename__ = "ip_allocations"
    __table_args__ = (UniqueConstraint("subnet_id", "ip_address", name="uniq_ip_per_subnet"),)

    port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True)
    subnet_id: Mapped[str] = mapped_column(ForeignKey("subnets.id"), primary_key=True)
    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    network_id: Mapped[str] = mapped_column(String(36), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class SecurityGroup(StandardAttrs, NetBase):
    __tablename__ = "security_groups"

    stateful: Mapped[bool] = mapped_column(Boolean, default=True)
    rules: Mapped[list[SecurityGroupRule]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True,
        order_by="SecurityGroupRule.created_at",
        foreign_keys="SecurityGroupRule.security_group_id")


class SecurityGroupRule(NetBase):
    __tablename__ = "security_group_rules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("security_groups.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(8))
    ethertype: Mapped[str] = mapped_column(String(8))
    protocol: Mapped[str | None] = mapped_column(String(40), nullable=True)
    port_range_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_range_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(64), nullable=True)
    remote_group_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    revision_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Quota(NetBase):
    __tablename__ = "quotas"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    limit: Mapped[int] = mapped_column(Integer)


class Pod(NetBase):
    """A region known to central (Tricircle's pod)."""

    __tablename__ = "pods"

    pod_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    region_name: Mapped[str] = mapped_column(String(255), unique=True)
    pod_az_name: Mapped[str] = mapped_column(String(255), default="")
    dc_name: Mapped[str] = mapped_column(String(255), default="")
    az_name: Mapped[str] = mapped_column(String(255), default="")


class Routing(NetBase):
    """Which region holds a mirror of which central resource (Tricircle's routing)."""

    __tablename__ = "routings"
    __table_args__ = (UniqueConstraint("top_id", "pod_id", "resource_type",
                                       name="uniq_routing"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    top_id: Mapped[str] = mapped_column(String(127), index=True)
    bottom_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    pod_id: Mapped[str] = mapped_column(ForeignKey("pods.pod_id"), index=True)
    project_id: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Job(JobMixin, NetBase):
    """Durable work, e.g. pushing a change of a central resource to the regions."""

    __tablename__ = "jobs"


class Agent(NetBase):
    """A host agent of this region (Neutron's agents): the host's VTEP lives here."""

    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), unique=True)
    agent_type: Mapped[str] = mapped_column(String(255))
    binary: Mapped[str] = mapped_column(String(255))
    tunnel_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    configurations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
