"""Operating status of a load balancer's objects from one amphora heartbeat.

Pure functions over a snapshot of the database rows (:class:`LoadBalancerTree`),
so the rules are tested without a database. They follow Octavia's health
manager (``update_db.py``) with these choices (docs/decisions/072):

- An object whose provisioning status is ``PENDING_*`` is never written: its
  flow owns it. Its reported status still counts towards its parents.
- Something the heartbeat does not mention is kept as it is unless the load
  balancer is ``ACTIVE`` (a configuration may be in flight): then a missing
  listener is ``ERROR`` and a missing pool ``OFFLINE`` (HAProxy leaves pools
  that no listener uses out of its configuration). A missing member is always
  kept: the amphora may not have applied it yet.
- Member: ``UP`` → ``ONLINE`` (``NO_MONITOR`` if its pool has no enabled health
  monitor), ``no check`` → ``NO_MONITOR``, ``DOWN`` → ``ERROR``, ``DRAIN`` →
  ``DRAINING``, ``MAINT`` → ``OFFLINE``; admin down → ``OFFLINE``.
- Pool: admin down → ``OFFLINE``; of its members that are not ``OFFLINE``,
  all ``ERROR`` → ``ERROR``, some → ``DEGRADED``, none → ``ONLINE``.
- Listener: admin down → ``OFFLINE``; HAProxy ``OPEN`` → ``ONLINE`` (``DEGRADED``
  when its default pool is ``DEGRADED`` or ``ERROR``), ``FULL`` → ``DEGRADED``,
  anything else (``STOP``) → ``ERROR``.
- Load balancer: admin down → ``OFFLINE``; ``ERROR`` when it has enabled
  listeners and none can serve (each is ``ERROR`` or its default pool is);
  ``DEGRADED`` when any object under it is ``DEGRADED`` or ``ERROR``; else
  ``ONLINE``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from tricircle_lb.loadbalancer.health.heartbeat import Heartbeat, PoolStatus
from tricircle_lb.loadbalancer.models import OperatingStatus, ProvisioningStatus

ONLINE = OperatingStatus.ONLINE.value
OFFLINE = OperatingStatus.OFFLINE.value
DEGRADED = OperatingStatus.DEGRADED.value
ERROR = OperatingStatus.ERROR.value
NO_MONITOR = OperatingStatus.NO_MONITOR.value
DRAINING = OperatingStatus.DRAINING.value
_TROUBLE = frozenset({DEGRADED, ERROR})


class Kind(StrEnum):
    LOADBALANCER = "loadbalancer"
    LISTENER = "listener"
    POOL = "pool"
    MEMBER = "member"


@dataclass(frozen=True)
class Node:
    """What the rules need of any object: its states and admin switch."""

    id: str
    provisioning_status: str
    operating_status: str
    admin_state_up: bool = True

    @property
    def pending(self) -> bool:
        return self.provisioning_status.startswith("PENDING_")


@dataclass(frozen=True)
class PoolNode(Node):
    has_monitor: bool = False
    members: tuple[Node, ...] = ()


@dataclass(frozen=True)
class ListenerNode(Node):
    default_pool_id: str | None = None


@dataclass(frozen=True)
class LoadBalancerTree(Node):
    listeners: tuple[ListenerNode, ...] = ()
    pools: tuple[PoolNode, ...] = ()


Changes = dict[tuple[Kind, str], str]
"""(kind, id) → the operating status to write; only real changes."""


def member_status(reported: str, has_monitor: bool) -> str:
    """Octavia's mapping of an HAProxy server status (``UP 1/3`` counts as ``UP``)."""
    if reported.startswith("UP"):
        return ONLINE if has_monitor else NO_MONITOR
    if reported.startswith("DOWN"):
        return ERROR
    return {"DRAIN": DRAINING, "MAINT": OFFLINE}.get(reported, NO_MONITOR)


def pool_status(member_statuses: Iterable[str]) -> str:
    """A pool from its members' statuses; ``OFFLINE`` (admin down) ones do not count."""
    counted = [s for s in member_statuses if s != OFFLINE]
    errors = sum(1 for s in counted if s == ERROR)
    if counted and errors == len(counted):
        return ERROR
    return DEGRADED if errors else ONLINE


def listener_status(reported: str, default_pool: str | None) -> str:
    """A listener from its HAProxy frontend status and its default pool's status."""
    if reported == "FULL":
        return DEGRADED
    if reported != "OPEN":
        return ERROR
    return DEGRADED if default_pool in _TROUBLE else ONLINE


class _Resolver:
    """Collects each object's effective status and the changes to write."""

    def __init__(self) -> None:
        self.effective: dict[tuple[Kind, str], str] = {}
        self.changes: Changes = {}

    def settle(self, kind: Kind, node: Node, derived: str | None) -> str:
        """``derived`` is None when the heartbeat says nothing: keep the stored value."""
        status = node.operating_status if derived is None else derived
        self.effective[(kind, node.id)] = status
        if not node.pending and status != node.operating_status:
            self.changes[(kind, node.id)] = status
        return status


def missing_listeners(lb: LoadBalancerTree, hb: Heartbeat) -> set[str]:
    """Listeners an ``ACTIVE``, enabled load balancer's amphora should serve but does
    not report. Octavia takes such a heartbeat as no sign of health: an amphora whose
    HAProxy lost listeners (or died) is then failed over, which rebuilds it."""
    if lb.provisioning_status != ProvisioningStatus.ACTIVE.value or not lb.admin_state_up:
        return set()
    gone = (ProvisioningStatus.PENDING_DELETE.value, ProvisioningStatus.DELETED.value)
    return {li.id for li in lb.listeners
            if li.admin_state_up and li.provisioning_status not in gone} - hb.listeners.keys()


def derive(lb: LoadBalancerTree, hb: Heartbeat) -> Changes:
    """The operating status changes one heartbeat of ``lb``'s amphora implies."""
    lb_active = lb.provisioning_status == ProvisioningStatus.ACTIVE.value
    # Octavia's v2 messages key pools "<pool id>:<listener id>"; ours by pool id.
    reported_pools = {key.partition(":")[0]: p for key, p in hb.pools.items()}
    r = _Resolver()
    pools = {p.id: _pool(r, p, reported_pools.get(p.id), lb_active) for p in lb.pools}
    serving: list[bool] = []
    for li in lb.listeners:
        reported = hb.listeners.get(li.id)
        default_pool = pools.get(li.default_pool_id) if li.default_pool_id else None
        if not li.admin_state_up:
            derived: str | None = OFFLINE
        elif reported is None:
            derived = ERROR if lb_active else None
        else:
            derived = listener_status(reported.status, default_pool)
        status = r.settle(Kind.LISTENER, li, derived)
        if li.admin_state_up:
            serving.append(status != ERROR and default_pool != ERROR)
    r.settle(Kind.LOADBALANCER, lb, _loadbalancer(lb, serving, r.effective.values()))
    return r.changes


def _pool(r: _Resolver, pool: PoolNode, reported: PoolStatus | None, lb_active: bool) -> str:
    members: Mapping[str, str] = reported.members if reported is not None else {}
    statuses: list[str] = []
    for m in pool.members:
        seen = members.get(m.id)
        if not m.admin_state_up:
            derived: str | None = OFFLINE
        else:
            derived = None if seen is None else member_status(seen, pool.has_monitor)
        status = r.settle(Kind.MEMBER, m, derived)
        # A member the amphora does not know yet (pending) says nothing about the pool.
        if not (m.pending and derived is None):
            statuses.append(status)
    if not pool.admin_state_up:
        return r.settle(Kind.POOL, pool, OFFLINE)
    if reported is None:
        return r.settle(Kind.POOL, pool, OFFLINE if lb_active else None)
    return r.settle(Kind.POOL, pool, pool_status(statuses))


def _loadbalancer(lb: LoadBalancerTree, serving: list[bool], children: Iterable[str]) -> str:
    if not lb.admin_state_up:
        return OFFLINE
    if serving and not any(serving):
        return ERROR
    return DEGRADED if any(s in _TROUBLE for s in children) else ONLINE
