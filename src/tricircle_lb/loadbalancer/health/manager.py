"""The region's health manager: amphora heartbeats in, statuses, statistics and
failovers out (Octavia's health manager; docs/decisions/072-health-manager.md).

Threads: :meth:`HealthManager.serve` (the UDP receive loop) calls
:meth:`~HealthManager.handle`; :meth:`~HealthManager.run_checks` calls
:meth:`~HealthManager.check_once`; a Prometheus scrape reads the latest figures.
They share in-memory state under one lock; database I/O happens outside it.

Database writes are kept rare (SQLite has one writer): operating status only
when it changes, ``Amphora.last_heartbeat`` and ``ListenerStatistics`` at most
every ``flush_interval`` seconds per amphora. Failure detection reads heartbeat
times from memory, so it does not depend on those flushes. As in Octavia, a
heartbeat of an ``ACTIVE`` load balancer's amphora that lacks an enabled listener
updates statuses but does not count as a sign of life: if HAProxy stays broken,
the amphora is failed over and rebuilt.

Statistics: the amphora sends HAProxy's counters since HAProxy started. Per
listener and amphora the manager keeps the last raw reading and adds the
difference to stored totals; a reading where any counter went down means HAProxy
restarted or reloaded, and then the whole reading is new traffic. So stored
totals never go backwards. After a restart of the manager the first reading of
a listener that already has a row is taken as the new baseline (traffic since
the last flush is lost rather than counted twice).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, selectinload

from tricircle_lb.db import Database
from tricircle_lb.loadbalancer import datagrams, keys
from tricircle_lb.loadbalancer.config import HealthManagerConfig
from tricircle_lb.loadbalancer.health.heartbeat import (
    MAX_PACKET_SIZE,
    Heartbeat,
    InvalidHeartbeat,
    ListenerStats,
    ReceiverCounters,
    ReplayGuard,
    decode,
)
from tricircle_lb.loadbalancer.health.status import (
    Changes,
    Kind,
    ListenerNode,
    LoadBalancerTree,
    Node,
    PoolNode,
    derive,
    missing_listeners,
)
from tricircle_lb.loadbalancer.models import (
    Amphora,
    AmphoraStatus,
    Listener,
    ListenerStatistics,
    LoadBalancer,
    Member,
    Pool,
    ProvisioningStatus,
)

LOG = logging.getLogger(__name__)

DEFAULT_FLUSH_INTERVAL: Final = 5.0
_MODELS: Final[dict[Kind, type[LoadBalancer | Listener | Pool | Member]]] = {
    Kind.LOADBALANCER: LoadBalancer, Kind.LISTENER: Listener, Kind.POOL: Pool,
    Kind.MEMBER: Member,
}
_ZERO: Final = ListenerStats()
_PENDING: Final = tuple(s.value for s in ProvisioningStatus if s.startswith("PENDING_"))


@dataclass(frozen=True)
class Totals:
    """A listener's statistics on one amphora, as stored (counters never go down)."""

    bytes_in: int = 0
    bytes_out: int = 0
    active_connections: int = 0
    total_connections: int = 0
    request_errors: int = 0


def accumulate(totals: Totals, last: ListenerStats, raw: ListenerStats) -> Totals:
    """``totals`` plus the traffic between readings ``last`` and ``raw``."""
    if (raw.totconns < last.totconns or raw.rx < last.rx or raw.tx < last.tx
            or raw.ereq < last.ereq):
        last = _ZERO  # HAProxy restarted: its counters began again at zero
    return Totals(
        bytes_in=totals.bytes_in + raw.rx - last.rx,
        bytes_out=totals.bytes_out + raw.tx - last.tx,
        active_connections=raw.conns,
        total_connections=totals.total_connections + raw.totconns - last.totconns,
        request_errors=totals.request_errors + raw.ereq - last.ereq,
    )


@dataclass
class _Ledger:
    totals: Totals
    last: ListenerStats
    dirty: bool = True


@dataclass
class _Amphora:
    """What the manager remembers of one amphora that reports."""

    loadbalancer_id: str
    last_seen: float
    heartbeat: Heartbeat
    last_flush: float = float("-inf")
    stats: dict[str, _Ledger] = field(default_factory=dict)


def _epoch(value: datetime | None) -> float:
    """Seconds since the epoch of a stored timestamp (naive means UTC)."""
    if value is None:
        return float("-inf")
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def _stamp(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC).replace(microsecond=0, tzinfo=None)


class HealthManager:
    """Receives heartbeats, keeps operating status and statistics, detects failed
    amphorae and hands each to ``on_failed`` (which starts its failover)."""

    def __init__(self, db: Database, config: HealthManagerConfig,
                 on_failed: Callable[[str], None],
                 metrics_registry: CollectorRegistry | None = None, *,
                 flush_interval: float = DEFAULT_FLUSH_INTERVAL,
                 on_unconfigured: Callable[[str], bool] | None = None) -> None:
        self.db = db
        self.config = config
        self.on_failed = on_failed
        # An amphora whose agent started again and serves none of its listeners: its
        # host lost it and started it again (restore it rather than wait to fail it over).
        # It answers whether it acted; if not, the next heartbeat asks again.
        self.on_unconfigured = on_unconfigured
        self._restarted: set[str] = set()  # started again empty, not serving since
        self._unconfigured: set[str] = set()  # of those, reported (once until it serves)
        self.flush_interval = flush_interval
        self.counters = ReceiverCounters()
        self.ignored = 0  # valid heartbeats from amphorae that are not ALLOCATED
        # An agent counts ``seq`` from 0 again when it restarts; its second heartbeat
        # comes more than one interval after the last one of its old process.
        self._replay = ReplayGuard(restart_gap=config.heartbeat_interval)
        self._started = time.time()
        self._lock = threading.Lock()
        self._amps: dict[str, _Amphora] = {}
        self._fired: dict[str, datetime] = {}  # amphora id → its row's updated_at at firing
        self._warned: set[str] = set()
        # Amphora id → its agent key; a key never changes, so it is read once.
        self._keys: dict[str, str] = {}
        if metrics_registry is not None:
            metrics_registry.register(_HealthCollector(self))

    # -- receiving ---------------------------------------------------------------

    def serve(self, sock: socket.socket, stop: threading.Event,
              still_valid: Callable[[], bool] | None = None) -> None:
        """Receive heartbeats on ``sock`` (:func:`datagrams.serve`)."""
        datagrams.serve(sock, stop, still_valid, self.receive, MAX_PACKET_SIZE + 1,
                        "health manager")

    def receive(self, data: bytes, source: tuple[str, int]) -> bool:
        """Verify one datagram and handle it; False if it was dropped."""
        self.counters.received += 1
        try:
            hb = decode(data, self.key_of, recv_time=time.time())
        except InvalidHeartbeat as e:
            self.counters.invalid += 1
            LOG.warning("dropping heartbeat from %s: %s", source[0], e.reason)
            return False
        if not self._replay.accept(hb.amphora_id, hb.seq, time.monotonic()):
            self.counters.replayed += 1
            LOG.warning("dropping replayed heartbeat of amphora %s (seq %d) from %s",
                        hb.amphora_id, hb.seq, source[0])
            return False
        self.counters.accepted += 1
        try:
            self.handle(hb, source)
        except Exception:
            self.counters.callback_errors += 1
            LOG.exception("health update of amphora %s failed", hb.amphora_id)
        return True

    def key_of(self, amphora_id: str) -> str | None:
        """The key a heartbeat claiming to be ``amphora_id`` must be signed with: that
        amphora's own (the deployment's for one booted before keys per amphora); None
        for an amphora this region never had (the heartbeat is dropped)."""
        with self._lock:
            cached = self._keys.get(amphora_id)
        if cached is not None:
            return cached
        with self.db.read() as session:
            row = session.execute(sa.select(Amphora.agent_key).where(
                Amphora.id == amphora_id)).first()
        if row is None:
            return None
        key = keys.agent_key(row.agent_key, self.config.heartbeat_key)
        with self._lock:
            self._keys[amphora_id] = key
        return key

    def handle(self, message: Heartbeat | Mapping[str, Any], source: tuple[str, int]) -> None:
        """Apply one verified heartbeat (a :class:`Heartbeat` or its wire dict)."""
        hb = message if isinstance(message, Heartbeat) else Heartbeat.from_dict(
            dict(message), recv_time=message.get("recv_time"))
        now = hb.recv_time if hb.recv_time is not None else time.time()
        with self.db.read() as session:
            amp = session.get(Amphora, hb.amphora_id)
            if amp is None or amp.status != AmphoraStatus.ALLOCATED.value:
                self._ignore(hb.amphora_id, source, amp.status if amp else "unknown")
                return
            lb = self._load_tree(session, amp.loadbalancer_id)
            changes = derive(lb, hb) if lb is not None else {}
            known = {li.id for li in lb.listeners} if lb is not None else set()
            missing = missing_listeners(lb, hb) if lb is not None else set()
            stored = self._stored_stats(session, hb, known)
            peers = list(session.scalars(sa.select(Amphora.id).where(
                Amphora.loadbalancer_id == amp.loadbalancer_id, Amphora.id != amp.id,
                Amphora.status == AmphoraStatus.ALLOCATED.value)))
        if missing:
            LOG.warning("amphora %s does not report listeners %s: not counted as alive",
                        hb.amphora_id, ", ".join(sorted(missing)))
        with self._lock:
            # seq counts heartbeats since the amphora agent started: one lower than the
            # last one seen means its agent started again (its host lost it). Serving
            # none of its listeners since, it lost its configuration with it.
            previous = self._amps.get(hb.amphora_id)
            if not missing:
                self._restarted.discard(hb.amphora_id)
                self._unconfigured.discard(hb.amphora_id)
            elif previous is not None and hb.seq < previous.heartbeat.seq \
                    and not known & hb.listeners.keys():
                self._restarted.add(hb.amphora_id)
            bare = hb.amphora_id in self._restarted
        if bare:
            self._report_unconfigured(hb.amphora_id)
        with self._lock:
            if missing and any(now - self._amps[p].last_seen <= self.config.heartbeat_timeout
                               for p in peers if p in self._amps):
                # A failed standby (or a MASTER whose HAProxy died and whose peer took
                # the VIP) does not speak for the load balancer while its peer serves.
                changes = {}
            state = self._track(hb, now, lb.id if lb is not None else "", alive=not missing)
            for lid in known & hb.listeners.keys():
                self._count(state, lid, hb.listeners[lid].stats, stored)
            flush = bool(changes) or now - state.last_flush >= self.flush_interval
            if flush:
                state.last_flush = now
                dirty = {lid: led.totals for lid, led in state.stats.items() if led.dirty}
                for lid in dirty:
                    state.stats[lid].dirty = False
        if flush:
            self._write(hb.amphora_id, now if not missing else None, changes, dirty)

    def deaf(self) -> None:
        """Heartbeats could not reach this manager until now (its socket's namespace
        was lost): no amphora is blamed for silence before now plus the timeout."""
        with self._lock:
            self._started = time.time()

    def _report_unconfigured(self, amphora_id: str) -> None:
        if self.on_unconfigured is None or amphora_id in self._unconfigured:
            return
        self._unconfigured.add(amphora_id)
        try:
            acted = self.on_unconfigured(amphora_id)
        except Exception:
            LOG.exception("could not restore amphora %s", amphora_id)
            acted = False
        if not acted:
            self._unconfigured.discard(amphora_id)

    def _ignore(self, amphora_id: str, source: tuple[str, int], status: str) -> None:
        self.ignored += 1
        log = LOG.debug if amphora_id in self._warned else LOG.warning
        self._warned.add(amphora_id)
        log("ignoring heartbeat of amphora %s from %s: it is %s, not ALLOCATED",
            amphora_id, source[0], status)

    def _track(self, hb: Heartbeat, now: float, lb_id: str, *, alive: bool) -> _Amphora:
        """Remember the heartbeat (caller holds the lock); one that shows the amphora
        alive ends any pending failure report of it."""
        self._warned.discard(hb.amphora_id)
        state = self._amps.get(hb.amphora_id)
        if state is None or state.loadbalancer_id != lb_id:
            state = self._amps[hb.amphora_id] = _Amphora(lb_id, float("-inf"), hb)
        state.heartbeat = hb
        if alive:
            state.last_seen = now
            self._fired.pop(hb.amphora_id, None)
        return state

    def _count(self, state: _Amphora, lid: str, raw: ListenerStats,
               stored: Mapping[str, Totals]) -> None:
        ledger = state.stats.get(lid)
        if ledger is None:
            if lid in stored:  # counted before this process started: a new baseline
                state.stats[lid] = _Ledger(replace(stored[lid], active_connections=raw.conns),
                                           raw)
            else:
                state.stats[lid] = _Ledger(accumulate(Totals(), _ZERO, raw), raw)
            return
        ledger.totals = accumulate(ledger.totals, ledger.last, raw)
        ledger.last = raw
        ledger.dirty = True

    def _stored_stats(self, session: Session, hb: Heartbeat,
                      known: set[str]) -> dict[str, Totals]:
        """Stored totals of listeners this process has not counted yet."""
        with self._lock:
            state = self._amps.get(hb.amphora_id)
            counted = set(state.stats) if state else set()
        missing = (known & hb.listeners.keys()) - counted
        if not missing:
            return {}
        rows = session.scalars(sa.select(ListenerStatistics).where(
            ListenerStatistics.amphora_id == hb.amphora_id,
            ListenerStatistics.listener_id.in_(missing)))
        return {r.listener_id: Totals(r.bytes_in, r.bytes_out, r.active_connections,
                                      r.total_connections, r.request_errors) for r in rows}

    @staticmethod
    def _load_tree(session: Session, lb_id: str | None) -> LoadBalancerTree | None:
        if lb_id is None:
            return None
        lb = session.scalar(sa.select(LoadBalancer).where(LoadBalancer.id == lb_id).options(
            selectinload(LoadBalancer.listeners),
            selectinload(LoadBalancer.pools).selectinload(Pool.members),
            selectinload(LoadBalancer.pools).selectinload(Pool.healthmonitor)))
        if lb is None or lb.provisioning_status == ProvisioningStatus.DELETED.value:
            return None

        def node(o: LoadBalancer | Listener | Pool | Member) -> dict[str, Any]:
            return {"id": o.id, "provisioning_status": o.provisioning_status,
                    "operating_status": o.operating_status, "admin_state_up": o.admin_state_up}

        return LoadBalancerTree(
            **node(lb),
            listeners=tuple(ListenerNode(**node(li), default_pool_id=li.default_pool_id)
                            for li in lb.listeners),
            pools=tuple(PoolNode(
                **node(p),
                has_monitor=p.healthmonitor is not None and p.healthmonitor.admin_state_up,
                members=tuple(Node(**node(m)) for m in p.members)) for p in lb.pools))

    def _write(self, amphora_id: str, alive_at: float | None, changes: Changes,
               stats: Mapping[str, Totals]) -> None:
        """One transaction: status changes, the heartbeat time, dirty statistics.
        Rows are re-read so a concurrent API change (now ``PENDING_*``) wins."""
        with self.db.write() as session:
            for (kind, oid), status in changes.items():
                model = _MODELS[kind]
                session.execute(sa.update(model).where(
                    model.id == oid, model.provisioning_status.notin_(_PENDING),
                ).values(operating_status=status))
                LOG.info("%s %s: operating status %s", kind, oid, status)
            amp = session.get(Amphora, amphora_id)
            if amp is not None and alive_at is not None:
                amp.last_heartbeat = _stamp(alive_at)
            for lid, totals in stats.items():
                if session.get(Listener, lid) is None:
                    continue  # deleted meanwhile; its statistics went with it
                row = session.get(ListenerStatistics, (lid, amphora_id))
                if row is None:
                    row = ListenerStatistics(listener_id=lid, amphora_id=amphora_id)
                    session.add(row)
                for column, value in asdict(totals).items():  # same names as the table
                    setattr(row, column, value)

    # -- failure detection -------------------------------------------------------

    def check_once(self, now: float | None = None) -> list[str]:
        """Report amphorae silent for longer than ``heartbeat_timeout`` to
        ``on_failed``, once each; returns the ids reported."""
        now = time.time() if now is None else now
        with self.db.read() as session:
            rows = session.execute(
                sa.select(Amphora.id, Amphora.updated_at, Amphora.last_heartbeat)
                .join(LoadBalancer, Amphora.loadbalancer_id == LoadBalancer.id)
                .where(Amphora.status == AmphoraStatus.ALLOCATED.value,
                       LoadBalancer.provisioning_status == ProvisioningStatus.ACTIVE.value)
            ).all()
            allocated = set(session.scalars(sa.select(Amphora.id).where(
                Amphora.status == AmphoraStatus.ALLOCATED.value)))
        stale: list[tuple[str, datetime]] = []
        with self._lock:
            self._forget_all_but(allocated)
            for amp_id, amp_updated, last_heartbeat in rows:
                state = self._amps.get(amp_id)
                # Grace from the latest of: a heartbeat, a change of the amphora (a flow
                # just built or changed it), this manager's start. Not the load
                # balancer's row: this manager's own status writes change it.
                seen = max(state.last_seen if state else float("-inf"),
                           _epoch(last_heartbeat), _epoch(amp_updated), self._started)
                if now - seen > self.config.heartbeat_timeout:
                    stale.append((amp_id, amp_updated))
            threshold = self.config.failover_threshold
            if threshold > 0 and len(stale) >= threshold:
                LOG.error("%d amphorae are silent (failover_threshold %d): the management "
                          "network is probably broken, failing over none of them: %s",
                          len(stale), threshold, ", ".join(a for a, _ in stale))
                return []
            due = [(a, v) for a, v in stale if self._fired.get(a) != v]
            self._fired.update(due)
        fired: list[str] = []
        for amp_id, _version in due:
            LOG.warning("amphora %s sent no heartbeat for %.0f s: failing it over",
                        amp_id, self.config.heartbeat_timeout)
            try:
                self.on_failed(amp_id)
            except Exception:
                LOG.exception("could not start the failover of amphora %s", amp_id)
                with self._lock:
                    self._fired.pop(amp_id, None)  # try again at the next check
                continue
            fired.append(amp_id)
        return fired

    def run_checks(self, stop: threading.Event) -> None:
        """Call :meth:`check_once` every ``health_check_interval`` until ``stop``."""
        while not stop.wait(self.config.health_check_interval):
            try:
                self.check_once()
            except Exception:
                LOG.exception("health check failed")

    def _forget_all_but(self, allocated: set[str]) -> None:
        """Drop what is remembered of amphorae no longer ALLOCATED (caller holds the lock)."""
        for amp_id in set(self._amps) - allocated:
            del self._amps[amp_id]
            self._replay.forget(amp_id)
        for amp_id in set(self._fired) - allocated:
            del self._fired[amp_id]
        for amp_id in set(self._keys) - allocated:  # read again if it ever reports
            del self._keys[amp_id]
        self._restarted &= allocated
        self._unconfigured &= allocated

    def snapshot(self) -> list[tuple[str, str, Heartbeat, dict[str, Totals]]]:
        """(amphora id, load balancer id, latest heartbeat, totals per listener)."""
        with self._lock:
            return [(amp_id, s.loadbalancer_id, s.heartbeat,
                     {lid: led.totals for lid, led in s.stats.items()})
                    for amp_id, s in self._amps.items()]


class _HealthCollector(Collector):
    """The latest heartbeat figures, named as Octavia's Prometheus exporter names them."""

    def __init__(self, manager: HealthManager) -> None:
        self.manager = manager

    def collect(self) -> Iterator[Metric]:
        lst = ["loadbalancer", "listener", "amphora"]
        current = GaugeMetricFamily("octavia_listener_current_sessions",
                                    "Current sessions of the listener.", labels=lst)
        sessions = CounterMetricFamily("octavia_listener_sessions",
                                       "Total sessions of the listener.", labels=lst)
        bytes_in = CounterMetricFamily("octavia_listener_bytes_in",
                                       "Bytes received by the listener.", labels=lst)
        bytes_out = CounterMetricFamily("octavia_listener_bytes_out",
                                        "Bytes sent by the listener.", labels=lst)
        errors = CounterMetricFamily("octavia_listener_request_errors",
                                     "Request errors of the listener.", labels=lst)
        members = GaugeMetricFamily(
            "octavia_member_status", "1 if HAProxy reports the member UP (or unchecked).",
            labels=["loadbalancer", "listener", "pool", "member", "amphora"])
        for amp_id, lb_id, hb, totals in self.manager.snapshot():
            for lid, t in totals.items():
                labels = [lb_id, lid, amp_id]
                current.add_metric(labels, t.active_connections)
                sessions.add_metric(labels, t.total_connections)
                bytes_in.add_metric(labels, t.bytes_in)
                bytes_out.add_metric(labels, t.bytes_out)
                errors.add_metric(labels, t.request_errors)
            for pool_key, pool in hb.pools.items():
                pool_id = pool_key.partition(":")[0]
                users = [lid for lid, li in hb.listeners.items() if pool_id in li.pools] or [""]
                for lid in users:
                    for mid, status in pool.members.items():
                        up = status.startswith("UP") or status == "no check"
                        members.add_metric([lb_id, lid, pool_id, mid, amp_id], 1 if up else 0)
        yield from (current, sessions, bytes_in, bytes_out, errors, members)
        c = self.manager.counters
        beats = CounterMetricFamily("tricircle_health_heartbeats",
                                    "Heartbeat datagrams by outcome.", labels=["outcome"])
        for outcome, value in (("accepted", c.accepted), ("invalid", c.invalid),
                               ("replayed", c.replayed), ("failed", c.callback_errors),
                               ("ignored", self.manager.ignored)):
            beats.add_metric([outcome], value)
        yield beats
