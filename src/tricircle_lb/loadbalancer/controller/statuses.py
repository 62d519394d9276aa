"""The end of every flow: pending objects become ACTIVE (or ERROR), and rows
pending deletion go, in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from tricircle_lb.loadbalancer.models import (
    LoadBalancer,
    OperatingStatus,
    Pool,
    ProvisioningStatus,
)

PENDING = (ProvisioningStatus.PENDING_CREATE.value, ProvisioningStatus.PENDING_UPDATE.value,
           ProvisioningStatus.PENDING_DELETE.value)
_DELETE = ProvisioningStatus.PENDING_DELETE.value


def _children(lb: LoadBalancer) -> Iterator[Any]:
    """Leaves first, so a row is deleted before what it hangs from."""
    for listener in lb.listeners:
        for policy in listener.l7policies:
            yield from policy.rules
            yield policy
    for pool in lb.pools:
        yield from pool.members
        if pool.healthmonitor is not None:
            yield pool.healthmonitor
    for pool in lb.pools:
        yield pool
    yield from lb.listeners


def mark_active(session: Session, lb: LoadBalancer) -> None:
    """The amphorae serve the rows: make pending objects ACTIVE, delete the deleted."""
    for obj in list(_children(lb)):
        if obj.provisioning_status == _DELETE:
            _detach(lb, obj)
            session.delete(obj)
            continue
        if obj.provisioning_status in PENDING:
            obj.provisioning_status = ProvisioningStatus.ACTIVE.value
            if obj.operating_status == OperatingStatus.OFFLINE.value and obj.admin_state_up \
                    and not hasattr(obj, "address") and _serves(lb, obj):
                # Listeners, pools, policies serve now; members wait for health data.
                # A pool no listener uses stays OFFLINE, as in Octavia.
                obj.operating_status = OperatingStatus.ONLINE.value
            elif not obj.admin_state_up:
                obj.operating_status = OperatingStatus.OFFLINE.value
    lb.provisioning_status = ProvisioningStatus.ACTIVE.value
    if lb.operating_status == OperatingStatus.OFFLINE.value and lb.admin_state_up:
        lb.operating_status = OperatingStatus.ONLINE.value


def _serves(lb: LoadBalancer, obj: Any) -> bool:
    """False for a pool that is no listener's default and no L7 policy's target."""
    if not isinstance(obj, Pool):
        return True
    return any(li.default_pool_id == obj.id
               or any(p.redirect_pool_id == obj.id for p in li.l7policies)
               for li in lb.listeners)


def mark_error(lb: LoadBalancer) -> None:
    """The flow gave up: nothing stays PENDING_*."""
    for obj in _children(lb):
        if obj.provisioning_status in PENDING:
            obj.provisioning_status = ProvisioningStatus.ERROR.value
    if lb.provisioning_status in PENDING:
        lb.provisioning_status = ProvisioningStatus.ERROR.value


def _detach(lb: LoadBalancer, obj: Any) -> None:
    # A deleted pool is no listener's default and no policy's target any more.
    for listener in lb.listeners:
        if listener.default_pool_id == obj.id:
            listener.default_pool_id = None
        for policy in listener.l7policies:
            if policy.redirect_pool_id == obj.id:
                policy.redirect_pool_id = None
