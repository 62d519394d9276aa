"""Tables of the compute database: servers and the ports plugged into them.

A server's network interfaces are kept here as the networking service last
answered for them (Nova's network info cache), so lists of servers need no
call to networking. ``created_port`` marks the ports compute created and
therefore deletes; ports a user gave are only unbound.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None)


class ComputeBase(DeclarativeBase):
    """Declarative base of the compute database (its own metadata)."""


class Server(ComputeBase):
    __tablename__ = "servers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    hostname: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    vm_state: Mapped[str] = mapped_column(String(32), default="building")
    task_state: Mapped[str | None] = mapped_column(String(32), nullable=True)
    power_state: Mapped[int] = mapped_column(Integer, default=0)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    flavor_id: Mapped[str] = mapped_column(String(36))
    image_id: Mapped[str] = mapped_column(String(36))
    user_data: Mapped[str | None] = mapped_column(Text, nullable=True)
    meta: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    key_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    security_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    config_drive: Mapped[str] = mapped_column(String(8), default="")
    fault: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    console_log: Mapped[str] = mapped_column(Text, default="")
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    cleanup_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    launched_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    interfaces: Mapped[list[Interface]] = relationship(
        back_populates="server", cascade="all, delete-orphan", order_by="Interface.position",
        lazy="selectin")


class Interface(ComputeBase):
    """A port plugged into a server (Nova's virtual interface + info cache entry)."""

    __tablename__ = "interfaces"

    port_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    server_id: Mapped[str] = mapped_column(ForeignKey("servers.id", ondelete="CASCADE"),
                                           index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    network_id: Mapped[str] = mapped_column(String(36), default="")
    network_name: Mapped[str] = mapped_column(String(255), default="")
    mac_address: Mapped[str] = mapped_column(String(32), default="")
    fixed_ips: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    port_state: Mapped[str] = mapped_column(String(16), default="DOWN")
    created_port: Mapped[bool] = mapped_column(Boolean, default=False)
    bound: Mapped[bool] = mapped_column(Boolean, default=False)

    server: Mapped[Server] = relationship(back_populates="interfaces")


class Quota(ComputeBase):
    """A project's limit of one resource, where an admin set one (else the default)."""

    __tablename__ = "quotas"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)
