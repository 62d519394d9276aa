"""Per-project quotas: a ``Quota`` row overrides the configured defaults
(``[quotas]``); ``None`` in a row means the default, ``-1`` unlimited.

Usage counts the project's rows of the kind that are not ``DELETED``: a
``PENDING_DELETE`` object still holds its quota until the controller removes
it, as in Octavia.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tricircle_lb.common.errors import Forbidden
from tricircle_lb.loadbalancer import models
from tricircle_lb.loadbalancer.config import DEFAULT_QUOTAS

KINDS: dict[str, Any] = {
    "loadbalancer": models.LoadBalancer, "listener": models.Listener, "pool": models.Pool,
    "healthmonitor": models.HealthMonitor, "member": models.Member,
    "l7policy": models.L7Policy, "l7rule": models.L7Rule,
}
# How Octavia names each kind in "Quota has been met for resources: …".
LABELS = {
    "loadbalancer": "LoadBalancer", "listener": "Listener", "pool": "Pool",
    "healthmonitor": "HealthMonitor", "member": "Member", "l7policy": "L7Policy",
    "l7rule": "L7Rule",
}


def limits(session: Session, project_id: str,
           defaults: Mapping[str, int] = DEFAULT_QUOTAS) -> dict[str, int]:
    """The project's effective limit of every kind."""
    row = session.get(models.Quota, project_id)
    result = {}
    for kind in KINDS:
        own = getattr(row, kind) if row is not None else None
        result[kind] = own if own is not None else defaults.get(kind, -1)
    return result


def usage(session: Session, project_id: str, kind: str) -> int:
    model = KINDS[kind]
    query = select(func.count()).select_from(model).where(
        model.project_id == project_id,
        model.provisioning_status != models.ProvisioningStatus.DELETED.value)
    return int(session.scalar(query) or 0)


def check(session: Session, project_id: str, resource_kind: str, adding: int = 1,
          defaults: Mapping[str, int] = DEFAULT_QUOTAS) -> None:
    """403 if ``adding`` more objects of ``resource_kind`` would exceed the
    project's quota. Handlers call ``api.common.check_quota``, which passes the
    configured defaults."""
    limit = limits(session, project_id, defaults)[resource_kind]
    if limit < 0:
        return
    if usage(session, project_id, resource_kind) + adding > limit:
        raise Forbidden(f"Quota has been met for resources: {LABELS[resource_kind]}")
