"""State and helpers every part of the central plugin shares."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import Conflict
from tricircle_lb.db import Database
from tricircle_lb.networking import policy
from tricircle_lb.networking.config import NetworkingConfig
from tricircle_lb.networking.errors import not_found
from tricircle_lb.networking.models import NetBase, Network, Quota, StandardAttrs, Subnet

if TYPE_CHECKING:
    from tricircle_lb.networking.central.mirrors import MirrorSync
    from tricircle_lb.networking.models import SecurityGroup

Row = TypeVar("Row", bound=NetBase)
Body = dict[str, Any]

# Default security groups get a deterministic id per project, so two
# concurrent first uses cannot create two of them.
DEFAULT_SG_NAMESPACE = uuid.UUID("4f6b1d1c-6c1d-4a53-9a51-2f0a4f1c7a10")


def new_id() -> str:
    return str(uuid.uuid4())


def default_sg_id(project_id: str) -> str:
    return str(uuid.uuid5(DEFAULT_SG_NAMESPACE, project_id))


def bump(row: StandardAttrs) -> None:
    row.revision_number = (row.revision_number or 0) + 1


class CentralBase:
    mirrors: MirrorSync

    def __init__(self, db: Database, cfg: NetworkingConfig) -> None:
        self.db = db
        self.cfg = cfg
        self.region_name = cfg.region_name

    def ensure_default_sg(self, session: Session, project_id: str) -> SecurityGroup:
        raise NotImplementedError  # provided by SecurityGroupOps

    def _visible(self, session: Session, ctx: Context, model: type[Row], resource_id: str,
                 resource: str) -> Row:
        row = session.get(model, resource_id)
        if row is None:
            raise not_found(resource, resource_id)
        project_id = getattr(row, "project_id", "")
        shared = bool(getattr(row, "shared", False))
        if isinstance(row, Network | NetBase) and not policy.can_see(ctx, project_id, shared):
            raise not_found(resource, resource_id)
        return row

    def _network(self, session: Session, ctx: Context, network_id: str) -> Network:
        return self._visible(session, ctx, Network, network_id, "network")

    def _subnet(self, session: Session, ctx: Context, subnet_id: str) -> Subnet:
        """The subnet if the caller may see it (its own, or on a shared network), else 404."""
        row = session.get(Subnet, subnet_id)
        if row is None:
            raise not_found("subnet", subnet_id)
        net = session.get(Network, row.network_id)
        shared = bool(net and net.shared)
        if not policy.can_see(ctx, row.project_id, shared):
            raise not_found("subnet", subnet_id)
        return row

    def _check_quota(self, session: Session, project_id: str, resource: str,
                     model: type[NetBase], adding: int = 1) -> None:
        limit = session.scalar(select(Quota.limit).where(Quota.project_id == project_id,
                                                         Quota.resource == resource))
        if limit is None:
            limit = self.cfg.default_quotas.get(resource, -1)
        if limit < 0:
            return
        count = session.scalar(select(func.count()).select_from(model).where(
            model.__table__.c.project_id == project_id))
        if (count or 0) + adding > limit:
            raise Conflict(f"Quota exceeded for resources: ['{resource}'].",
                           kind="OverQuota")
