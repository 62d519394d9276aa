"""Tables of a region's load-balancer database (Octavia's v2 object model).

The API writes objects in a ``PENDING_*`` state and hands off to the
controller (``controller/handoff.py``); the controller makes them ``ACTIVE``
and deletes ``PENDING_DELETE`` rows. Values that are never queried on their
own (tags, insert headers, allowed CIDRs, session persistence) are JSON.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tricircle_lb.jobs import JobMixin
from tricircle_lb.loadbalancer.keys import new_agent_key, new_vrrp_password


def utcnow() -> datetime:
    """Now in UTC, stored naive (SQLite keeps no zone); views add the zone back."""
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None)


def new_id() -> str:
    return str(uuid.uuid4())


class ProvisioningStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PENDING_CREATE = "PENDING_CREATE"
    PENDING_UPDATE = "PENDING_UPDATE"
    PENDING_DELETE = "PENDING_DELETE"
    DELETED = "DELETED"
    ERROR = "ERROR"


class OperatingStatus(StrEnum):
    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"
    DEGRADED = "DEGRADED"
    ERROR = "ERROR"
    NO_MONITOR = "NO_MONITOR"
    DRAINING = "DRAINING"


class AmphoraStatus(StrEnum):
    BOOTING = "BOOTING"
    ALLOCATED = "ALLOCATED"
    READY = "READY"
    ERROR = "ERROR"
    PENDING_DELETE = "PENDING_DELETE"
    DELETED = "DELETED"


class AmphoraRole(StrEnum):
    STANDALONE = "STANDALONE"
    MASTER = "MASTER"
    BACKUP = "BACKUP"


class LbBase(DeclarativeBase):
    """Declarative base of the load-balancer database (its own metadata)."""


class _Timestamps:
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class _Resource(_Timestamps):
    """What every user-visible object of the v2 API carries."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    provisioning_status: Mapped[str] = mapped_column(
        String(16), default=ProvisioningStatus.PENDING_CREATE.value)
    operating_status: Mapped[str] = mapped_column(String(16), default=OperatingStatus.OFFLINE.value)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)


class LoadBalancer(_Resource, LbBase):
    __tablename__ = "load_balancers"

    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    vip_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    vip_port_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    vip_subnet_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    vip_network_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    vip_qos_policy_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # False when the user brought the VIP port (vip_port_id): deleting the load
    # balancer must then leave the port alone (Octavia's ``octavia_owned``).
    vip_port_owned: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Octavia's extra VIPs: [{"subnet_id": …, "ip_address": …, "port_id"…}] (decision 081).
    additional_vips: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, server_default=text("'[]'"))
    provider: Mapped[str] = mapped_column(String(64), default="amphora")
    flavor_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    topology: Mapped[str] = mapped_column(String(16), default="SINGLE")
    # keepalived's PASS of both amphorae of a pair (keys.py; NULL: made before it existed).
    vrrp_auth_pass: Mapped[str | None] = mapped_column(String(8), nullable=True,
                                                       default=new_vrrp_password)

    listeners: Mapped[list[Listener]] = relationship(
        back_populates="loadbalancer", cascade="all, delete-orphan", order_by="Listener.created_at")
    pools: Mapped[list[Pool]] = relationship(
        back_populates="loadbalancer", cascade="all, delete-orphan", order_by="Pool.created_at")
    amphorae: Mapped[list[Amphora]] = relationship(
        back_populates="loadbalancer", order_by="Amphora.created_at")


class Listener(_Resource, LbBase):
    __tablename__ = "listeners"
    # As Octavia's: a UDP and a TCP listener may share a port (the API refuses two of
    # one L4 protocol on a port, listeners.py).
    __table_args__ = (UniqueConstraint("loadbalancer_id", "protocol", "protocol_port",
                                       name="uniq_listeners_lb_protocol_port"),)

    loadbalancer_id: Mapped[str] = mapped_column(
        ForeignKey("load_balancers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    protocol: Mapped[str] = mapped_column(String(16))
    protocol_port: Mapped[int] = mapped_column(Integer)
    connection_limit: Mapped[int] = mapped_column(Integer, default=-1)
    default_pool_id: Mapped[str | None] = mapped_column(
        ForeignKey("pools.id", ondelete="SET NULL"), nullable=True, index=True)
    timeout_client_data: Mapped[int] = mapped_column(Integer, default=50000)
    timeout_member_connect: Mapped[int] = mapped_column(Integer, default=5000)
    timeout_member_data: Mapped[int] = mapped_column(Integer, default=50000)
    timeout_tcp_inspect: Mapped[int] = mapped_column(Integer, default=0)
    insert_headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    allowed_cidrs: Mapped[list[str]] = mapped_column(JSON, default=list)
    # TLS termination (TERMINATED_HTTPS, or PROMETHEUS with a certificate), Octavia's
    # API names. The API fills tls_versions, tls_ciphers and alpn_protocols with
    # Octavia's defaults on TLS listeners; NULL on the others.
    default_tls_container_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    sni_container_refs: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=text("'[]'"))
    client_authentication: Mapped[str] = mapped_column(
        String(16), default="NONE", server_default="NONE")
    client_ca_tls_container_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    client_crl_container_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    tls_versions: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    tls_ciphers: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    alpn_protocols: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    hsts_max_age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    hsts_include_subdomains: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false())
    hsts_preload: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    loadbalancer: Mapped[LoadBalancer] = relationship(back_populates="listeners")
    default_pool: Mapped[Pool | None] = relationship(
        back_populates="listeners", foreign_keys=[default_pool_id])
    l7policies: Mapped[list[L7Policy]] = relationship(
        back_populates="listener", cascade="all, delete-orphan", order_by="L7Policy.position")


class Pool(_Resource, LbBase):
    __tablename__ = "pools"

    loadbalancer_id: Mapped[str] = mapped_column(
        ForeignKey("load_balancers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    protocol: Mapped[str] = mapped_column(String(16))
    lb_algorithm: Mapped[str] = mapped_column(String(32))
    # {type, cookie_name, persistence_timeout, persistence_granularity}
    session_persistence: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Re-encryption to members, Octavia's API names (defaults filled by the API when
    # tls_enabled, as Octavia does).
    tls_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    tls_container_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    ca_tls_container_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    crl_container_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    tls_versions: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    tls_ciphers: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    alpn_protocols: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)

    loadbalancer: Mapped[LoadBalancer] = relationship(back_populates="pools")
    # Octavia's view field: the listeners whose default pool this is.
    listeners: Mapped[list[Listener]] = relationship(
        back_populates="default_pool", foreign_keys="Listener.default_pool_id")
    members: Mapped[list[Member]] = relationship(
        back_populates="pool", cascade="all, delete-orphan", order_by="Member.created_at")
    healthmonitor: Mapped[HealthMonitor | None] = relationship(
        back_populates="pool", cascade="all, delete-orphan", uselist=False)


class Member(_Resource, LbBase):
    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("pool_id", "address", "protocol_port",
                                       name="uniq_members_pool_address_port"),)

    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    address: Mapped[str] = mapped_column(String(64))
    protocol_port: Mapped[int] = mapped_column(Integer)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    backup: Mapped[bool] = mapped_column(Boolean, default=False)
    subnet_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    monitor_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    monitor_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    operating_status: Mapped[str] = mapped_column(
        String(16), default=OperatingStatus.NO_MONITOR.value)

    pool: Mapped[Pool] = relationship(back_populates="members")


class HealthMonitor(_Resource, LbBase):
    __tablename__ = "health_monitors"

    pool_id: Mapped[str] = mapped_column(
        ForeignKey("pools.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    type: Mapped[str] = mapped_column(String(16))
    delay: Mapped[int] = mapped_column(Integer)
    timeout: Mapped[int] = mapped_column(Integer)
    max_retries: Mapped[int] = mapped_column(Integer)
    max_retries_down: Mapped[int] = mapped_column(Integer, default=3)
    http_method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    url_path: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    expected_codes: Mapped[str | None] = mapped_column(String(64), nullable=True)
    http_version: Mapped[float | None] = mapped_column(nullable=True)
    domain_name: Mapped[str | None] = mapped_column(String(255), nullable=True)

    pool: Mapped[Pool] = relationship(back_populates="healthmonitor")


class L7Policy(_Resource, LbBase):
    __tablename__ = "l7policies"

    listener_id: Mapped[str] = mapped_column(
        ForeignKey("listeners.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    action: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer, default=1)
    redirect_pool_id: Mapped[str | None] = mapped_column(
        ForeignKey("pools.id", ondelete="SET NULL"), nullable=True, index=True)
    redirect_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    redirect_prefix: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    redirect_http_code: Mapped[int | None] = mapped_column(Integer, nullable=True)

    listener: Mapped[Listener] = relationship(back_populates="l7policies")
    redirect_pool: Mapped[Pool | None] = relationship(foreign_keys=[redirect_pool_id])
    rules: Mapped[list[L7Rule]] = relationship(
        back_populates="l7policy", cascade="all, delete-orphan", order_by="L7Rule.created_at")


class L7Rule(_Resource, LbBase):
    __tablename__ = "l7rules"

    l7policy_id: Mapped[str] = mapped_column(
        ForeignKey("l7policies.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    compare_type: Mapped[str] = mapped_column(String(32))
    key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    value: Mapped[str] = mapped_column(String(255))
    invert: Mapped[bool] = mapped_column(Boolean, default=False)

    l7policy: Mapped[L7Policy] = relationship(back_populates="rules")


class Amphora(_Timestamps, LbBase):
    """A service VM (or namespace) running HAProxy for one load balancer."""

    __tablename__ = "amphorae"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    loadbalancer_id: Mapped[str | None] = mapped_column(
        ForeignKey("load_balancers.id", ondelete="SET NULL"), nullable=True, index=True)
    compute_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=AmphoraStatus.BOOTING.value)
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    lb_network_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    vrrp_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ha_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    vrrp_port_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    ha_port_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    mgmt_port_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    vrrp_interface: Mapped[str | None] = mapped_column(String(16), nullable=True)
    vrrp_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    vrrp_priority: Mapped[int | None] = mapped_column(Integer, nullable=True)
    compute_flavor: Mapped[str | None] = mapped_column(String(255), nullable=True)
    image_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    cached_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    cert_expiration: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    cert_busy: Mapped[bool] = mapped_column(Boolean, default=False)
    # {network_id: port_id}: member-network ports the controller attached.
    plugged_networks: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    last_heartbeat: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Signs the controller's calls to this amphora's agent and its heartbeats (keys.py;
    # NULL: booted before keys per amphora, with the deployment's heartbeat key).
    agent_key: Mapped[str | None] = mapped_column(String(64), nullable=True,
                                                  default=new_agent_key)

    loadbalancer: Mapped[LoadBalancer | None] = relationship(back_populates="amphorae")


class ListenerStatistics(LbBase):
    """Counters of one listener as one amphora last reported them."""

    __tablename__ = "listener_statistics"

    listener_id: Mapped[str] = mapped_column(
        ForeignKey("listeners.id", ondelete="CASCADE"), primary_key=True)
    amphora_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)
    active_connections: Mapped[int] = mapped_column(BigInteger, default=0)
    total_connections: Mapped[int] = mapped_column(BigInteger, default=0)
    request_errors: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class FlavorProfile(LbBase):
    """Provider settings an operator names once (Octavia's flavor profile).

    ``flavor_data`` keeps the JSON text exactly as given, as Octavia shows it.
    """

    __tablename__ = "flavor_profiles"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    provider_name: Mapped[str] = mapped_column(String(255))
    flavor_data: Mapped[str] = mapped_column(String(4096))


class Flavor(LbBase):
    """What users pick at ``loadbalancer create --flavor``: a named, enabled
    or disabled, pointer to a flavor profile."""

    __tablename__ = "flavors"
    __table_args__ = (UniqueConstraint("name", name="uniq_flavors_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(255), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    flavor_profile_id: Mapped[str] = mapped_column(
        ForeignKey("flavor_profiles.id"), index=True)

    flavor_profile: Mapped[FlavorProfile] = relationship()


class AvailabilityZoneProfile(LbBase):
    """Provider settings of availability zones (Octavia's), JSON text kept as given."""

    __tablename__ = "availability_zone_profiles"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    provider_name: Mapped[str] = mapped_column(String(255))
    availability_zone_data: Mapped[str] = mapped_column(String(4096))


class AvailabilityZone(LbBase):
    """A named, enabled or disabled, pointer to an availability zone profile."""

    __tablename__ = "availability_zones"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    availability_zone_profile_id: Mapped[str] = mapped_column(
        ForeignKey("availability_zone_profiles.id"), index=True)


class Quota(LbBase):
    """A project's limits; ``None`` means the configured default, -1 unlimited."""

    __tablename__ = "quotas"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    loadbalancer: Mapped[int | None] = mapped_column(Integer, nullable=True)
    listener: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pool: Mapped[int | None] = mapped_column(Integer, nullable=True)
    healthmonitor: Mapped[int | None] = mapped_column(Integer, nullable=True)
    member: Mapped[int | None] = mapped_column(Integer, nullable=True)
    l7policy: Mapped[int | None] = mapped_column(Integer, nullable=True)
    l7rule: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Job(JobMixin, LbBase):
    """Durable controller work (``controller/handoff.py``)."""

    __tablename__ = "jobs"
