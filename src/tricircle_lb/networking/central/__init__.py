"""Central networking: the plugin that owns every networking resource."""

from __future__ import annotations

from sqlalchemy import select

from tricircle_lb.common.context import Context
from tricircle_lb.db import Database
from tricircle_lb.networking import policy
from tricircle_lb.networking.central.admin import AdminOps
from tricircle_lb.networking.central.base import Body, bump
from tricircle_lb.networking.central.mirrors import MirrorSync
from tricircle_lb.networking.central.networks import NetworkOps
from tricircle_lb.networking.central.ports import PortOps
from tricircle_lb.networking.central.security_groups import SecurityGroupOps
from tricircle_lb.networking.central.subnets import SubnetOps
from tricircle_lb.networking.config import NetworkingConfig
from tricircle_lb.networking.errors import not_found
from tricircle_lb.networking.models import (
    Network,
    Pod,
    Port,
    SecurityGroup,
    StandardAttrs,
    Subnet,
)

TAGGABLE: dict[str, tuple[type[StandardAttrs], str]] = {
    "networks": (Network, "network"), "subnets": (Subnet, "subnet"), "ports": (Port, "port"),
    "security-groups": (SecurityGroup, "security_group")}


class CentralPlugin(NetworkOps, SubnetOps, PortOps, SecurityGroupOps, AdminOps):
    def __init__(self, db: Database, cfg: NetworkingConfig, mirrors: MirrorSync) -> None:
        super().__init__(db, cfg)
        self.mirrors = mirrors

    def set_tags(self, ctx: Context, collection: str, resource_id: str,
                 tags: list[str]) -> list[str]:
        policy.enforce_write(ctx, "update_tags")
        model, resource = TAGGABLE[collection]
        with self.db.write() as session:
            row = session.get(model, resource_id)
            if row is None or not policy.can_see(ctx, row.project_id,
                                                 bool(getattr(row, "shared", False))):
                raise not_found(resource, resource_id)
            if row.project_id != ctx.project_id:
                policy.enforce_admin(ctx, "update_tags")
            row.tags = sorted(set(tags))
            bump(row)
            self.mirrors.notify(session, resource, row.id, row.project_id)
            return list(row.tags)

    def availability_zones(self) -> list[Body]:
        with self.db.read() as session:
            pods = session.scalars(select(Pod).where(Pod.region_name != self.region_name))
            return [{"name": p.az_name, "resource": "network", "state": "available"}
                    for p in pods if p.az_name]
