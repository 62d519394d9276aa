"""The region's host agents: heartbeats, VTEPs, and Neutron's ``/v2.0/agents`` view.

A port bound to a host gets the host's VTEP in its ``binding:profile``
(``tunnel_ip``), which is how every other host, in this region or another,
learns where to send that port's frames.
"""

from __future__ import annotations

import ipaddress
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from tricircle_lb.common.context import Context
from tricircle_lb.db import Database
from tricircle_lb.networking import policy, schemas
from tricircle_lb.networking.errors import invalid, not_found
from tricircle_lb.networking.models import Agent, utcnow
from tricircle_lb.networking.views import timestamp

Body = dict[str, Any]
AGENT_DOWN_TIME = timedelta(seconds=75)  # Neutron's agent_down_time default


class Agents:
    def __init__(self, db: Database, region: str, availability_zone: str) -> None:
        self.db = db
        self.region = region
        self.availability_zone = availability_zone

    def report(self, ctx: Context, host: str, report: schemas.AgentReport) -> tuple[Body, bool]:
        """Record a heartbeat; the agent's view and whether its VTEP is new or changed."""
        policy.enforce_admin(ctx, "report_agent_state")
        if report.tunnel_ip is not None:
            try:
                ipaddress.ip_address(report.tunnel_ip)
            except ValueError as exc:
                raise invalid(f"'{report.tunnel_ip}' is not a valid tunnel_ip") from exc
        with self.db.write() as session:
            row = session.scalar(select(Agent).where(Agent.host == host))
            if row is None:
                row = Agent(id=str(uuid.uuid4()), host=host, created_at=utcnow())
                session.add(row)
            changed = row.tunnel_ip != report.tunnel_ip
            row.agent_type, row.binary = report.agent_type, report.binary
            row.tunnel_ip = report.tunnel_ip
            row.configurations = dict(report.configurations)
            row.heartbeat_at = utcnow()
            session.flush()
            return self.view(row), changed

    def tunnel_ip(self, host: str) -> str | None:
        with self.db.read() as session:
            return session.scalar(select(Agent.tunnel_ip).where(Agent.host == host))

    def list(self, ctx: Context) -> list[Body]:
        policy.enforce_admin(ctx, "get_agent")
        with self.db.read() as session:
            return [self.view(a) for a in session.scalars(select(Agent).order_by(Agent.host))]

    def get(self, ctx: Context, agent_id: str) -> Body:
        policy.enforce_admin(ctx, "get_agent")
        with self.db.read() as session:
            row = session.get(Agent, agent_id)
            if row is None:
                raise not_found("agent", agent_id)
            return self.view(row)

    def view(self, row: Agent) -> Body:
        return {
            "id": row.id, "agent_type": row.agent_type, "binary": row.binary,
            "host": row.host, "topic": "N/A", "availability_zone": self.availability_zone,
            "alive": utcnow() - row.heartbeat_at < AGENT_DOWN_TIME,
            "admin_state_up": row.admin_state_up, "description": None,
            "heartbeat_timestamp": timestamp(row.heartbeat_at),
            "created_at": timestamp(row.created_at), "started_at": timestamp(row.created_at),
            "configurations": dict(row.configurations), "resources_synced": None,
        }
