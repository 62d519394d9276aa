"""Per-project quotas (central): limits, usage, and the ``/v2.0/quotas`` answers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select

from tricircle_lb.common.context import Context
from tricircle_lb.db import Database
from tricircle_lb.networking import policy
from tricircle_lb.networking.models import (
    NetBase,
    Network,
    Port,
    Quota,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)

Body = dict[str, Any]
COUNTED: dict[str, type[NetBase]] = {"network": Network, "subnet": Subnet, "port": Port,
                                     "security_group": SecurityGroup,
                                     "security_group_rule": SecurityGroupRule}


class Quotas:
    def __init__(self, db: Database, defaults: dict[str, int]) -> None:
        self.db = db
        self.defaults = defaults

    def limits(self, project_id: str) -> dict[str, int]:
        with self.db.read() as session:
            rows = session.execute(select(Quota.resource, Quota.limit)
                                   .where(Quota.project_id == project_id))
            return dict(self.defaults) | {r: limit for r, limit in rows}

    def _check_reader(self, ctx: Context, project_id: str) -> None:
        if project_id != ctx.project_id:
            policy.enforce_admin(ctx, "get_quota")

    def show(self, ctx: Context, project_id: str) -> Body:
        self._check_reader(ctx, project_id)
        return {"quota": self.limits(project_id)}

    def default(self, ctx: Context, project_id: str) -> Body:
        self._check_reader(ctx, project_id)
        return {"quota": dict(self.defaults)}

    def details(self, ctx: Context, project_id: str) -> Body:
        self._check_reader(ctx, project_id)
        limits = self.limits(project_id)
        used: dict[str, int] = {}
        with self.db.read() as session:
            for name, model in COUNTED.items():
                used[name] = session.scalar(select(func.count()).select_from(model).where(
                    model.__table__.c.project_id == project_id)) or 0
        return {"quota": {name: {"limit": limit, "used": used.get(name, 0), "reserved": 0}
                          for name, limit in limits.items()}}

    def list(self, ctx: Context) -> Body:
        policy.enforce_admin(ctx, "get_quota")
        with self.db.read() as session:
            projects = sorted(set(session.scalars(select(Quota.project_id))))
        return {"quotas": [self.limits(p) | {"project_id": p, "tenant_id": p}
                           for p in projects]}

    def update(self, ctx: Context, project_id: str, changes: dict[str, int]) -> Body:
        policy.enforce_admin(ctx, "update_quota")
        with self.db.write() as session:
            for resource, limit in changes.items():
                row = session.get(Quota, (project_id, resource))
                if row is None:
                    session.add(Quota(project_id=project_id, resource=resource, limit=limit))
                else:
                    row.limit = limit
        return {"quota": self.limits(project_id)}

    def reset(self, ctx: Context, project_id: str) -> None:
        policy.enforce_admin(ctx, "delete_quota")
        with self.db.write() as session:
            session.execute(delete(Quota).where(Quota.project_id == project_id))
