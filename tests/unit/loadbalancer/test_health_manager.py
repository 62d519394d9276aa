"""Health manager: statuses and statistics in a real SQLite database, heartbeats
over real UDP on 127.0.0.1, failure detection and Prometheus figures."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from tricircle_lb.db import Database
from tricircle_lb.loadbalancer.config import HealthManagerConfig
from tricircle_lb.loadbalancer.health.haproxy_stats import build_message
from tricircle_lb.loadbalancer.health.heartbeat import (
    Heartbeat,
    HeartbeatSender,
    ListenerStats,
    ListenerStatus,
    PoolStatus,
)
from tricircle_lb.loadbalancer.health.manager import HealthManager, Totals, accumulate
from tricircle_lb.loadbalancer.health.status import pool_status
from tricircle_lb.loadbalancer.models import (
    Amphora,
    HealthMonitor,
    LbBase,
    Listener,
    ListenerStatistics,
    LoadBalancer,
    Member,
    Pool,
    utcnow,
)

KEY = "test-heartbeat-key"
SRC = ("127.0.0.1", 40000)
CONFIG = HealthManagerConfig(heartbeat_key=KEY, heartbeat_interval=0.2, heartbeat_timeout=3.0,
                             health_check_interval=0.1)


@dataclass
class Lb:
    """One ACTIVE load balancer: listener → pool (three members), one amphora."""

    db: Database
    lb: str
    listener: str
    pool: str
    members: list[str]
    amphora: str
    key: str  # the amphora's own agent key (decision 076)
    failed: list[str] = field(default_factory=list)

    def manager(self, config: HealthManagerConfig = CONFIG, **kw: Any) -> HealthManager:
        return HealthManager(self.db, config, self.failed.append, **kw)

    def heartbeat(self, members: dict[str, str], seq: int = 1, *, listener: str = "OPEN",
                  stats: ListenerStats | None = None, recv_time: float | None = None,
                  amphora: str | None = None) -> Heartbeat:
        return Heartbeat(
            amphora_id=amphora or self.amphora, seq=seq, recv_time=recv_time,
            listeners={self.listener: ListenerStatus(listener, stats or ListenerStats(),
                                                     (self.pool,))},
            pools={self.pool: PoolStatus("UP", members)})

    def up(self, *down: int, status: str = "DOWN") -> dict[str, str]:
        return {m: status if i in down else "UP" for i, m in enumerate(self.members)}

    def status(self, model: type[Any], oid: str) -> str:
        with self.db.read() as s:
            obj = s.get(model, oid)
            assert obj is not None
            return str(obj.operating_status)

    def statuses(self) -> tuple[str, str, str, list[str]]:
        return (self.status(LoadBalancer, self.lb), self.status(Listener, self.listener),
                self.status(Pool, self.pool), [self.status(Member, m) for m in self.members])

    def set(self, model: type[Any], oid: str, **values: Any) -> None:
        with self.db.write() as s:
            obj = s.get(model, oid)
            for k, v in values.items():
                setattr(obj, k, v)


def add_lb(db: Database, *, monitor: bool = True, lb_status: str = "ACTIVE") -> Lb:
    with db.write() as s:
        lb = LoadBalancer(project_id="p", provisioning_status=lb_status,
                          operating_status="ONLINE")
        s.add(lb)
        s.flush()
        pool = Pool(project_id="p", loadbalancer_id=lb.id, protocol="HTTP",
                    lb_algorithm="ROUND_ROBIN", provisioning_status="ACTIVE")
        s.add(pool)
        s.flush()
        listener = Listener(project_id="p", loadbalancer_id=lb.id, protocol="HTTP",
                            protocol_port=80, default_pool_id=pool.id,
                            provisioning_status="ACTIVE")
        members = [Member(project_id="p", pool_id=pool.id, address=f"10.0.0.{i}",
                          protocol_port=80, provisioning_status="ACTIVE") for i in range(3)]
        amp = Amphora(loadbalancer_id=lb.id, status="ALLOCATED", role="STANDALONE")
        s.add_all([listener, *members, amp])
        if monitor:
            s.add(HealthMonitor(project_id="p", pool_id=pool.id, type="HTTP", delay=1,
                                timeout=1, max_retries=1, provisioning_status="ACTIVE"))
        s.flush()
        assert amp.agent_key
        return Lb(db, lb.id, listener.id, pool.id, [m.id for m in members], amp.id,
                  amp.agent_key)


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'lb.db'}")
    LbBase.metadata.create_all(database.engine)
    yield database
    database.dispose()


@pytest.fixture()
def lb(db: Database) -> Lb:
    return add_lb(db)


# -- operating status -----------------------------------------------------------

def test_all_up_is_online_and_records_the_heartbeat(lb: Lb) -> None:
    lb.set(LoadBalancer, lb.lb, operating_status="OFFLINE")
    lb.manager().handle(lb.heartbeat(lb.up()), SRC)
    assert lb.statuses() == ("ONLINE", "ONLINE", "ONLINE", ["ONLINE"] * 3)
    with lb.db.read() as s:
        amp = s.get(Amphora, lb.amphora)
        assert amp is not None and amp.last_heartbeat is not None
        assert abs(amp.last_heartbeat - utcnow()) < timedelta(seconds=5)


def test_without_monitor_members_are_no_monitor(db: Database) -> None:
    lb = add_lb(db, monitor=False)
    lb.manager().handle(lb.heartbeat(lb.up(0, status="no check")), SRC)
    assert lb.statuses()[2:] == ("ONLINE", ["NO_MONITOR"] * 3)


def test_one_down_degrades_pool_listener_and_lb(lb: Lb) -> None:
    lb.manager().handle(lb.heartbeat(lb.up(1)), SRC)
    assert lb.statuses() == ("DEGRADED", "DEGRADED", "DEGRADED", ["ONLINE", "ERROR", "ONLINE"])


def test_all_down_is_error_and_recovery_is_online(lb: Lb) -> None:
    hm = lb.manager()
    hm.handle(lb.heartbeat(lb.up(0, 1, 2), seq=1), SRC)
    assert lb.statuses() == ("ERROR", "DEGRADED", "ERROR", ["ERROR"] * 3)
    hm.handle(lb.heartbeat(lb.up(), seq=2), SRC)
    assert lb.statuses() == ("ONLINE", "ONLINE", "ONLINE", ["ONLINE"] * 3)


def test_drain_maint_and_admin_down(lb: Lb) -> None:
    lb.set(Member, lb.members[2], admin_state_up=False)
    members = {lb.members[0]: "DRAIN", lb.members[1]: "MAINT", lb.members[2]: "MAINT"}
    lb.manager().handle(lb.heartbeat(members), SRC)
    assert lb.statuses() == ("ONLINE", "ONLINE", "ONLINE", ["DRAINING", "OFFLINE", "OFFLINE"])


def test_pending_objects_are_not_touched(lb: Lb) -> None:
    # A member being created (not in HAProxy yet) and one being updated (reported DOWN).
    lb.set(Member, lb.members[0], provisioning_status="PENDING_CREATE", operating_status="OFFLINE")
    lb.set(Member, lb.members[1], provisioning_status="PENDING_UPDATE", operating_status="ONLINE")
    lb.set(LoadBalancer, lb.lb, provisioning_status="PENDING_UPDATE", operating_status="ONLINE")
    members = {lb.members[1]: "DOWN", lb.members[2]: "UP"}
    lb.manager().handle(lb.heartbeat(members), SRC)
    # The pending member's DOWN still degrades its pool; pending rows keep their values.
    assert lb.statuses() == ("ONLINE", "DEGRADED", "DEGRADED", ["OFFLINE", "ONLINE", "ONLINE"])


def test_missing_listener_of_active_lb_is_error_missing_member_kept(lb: Lb) -> None:
    lb.set(Member, lb.members[0], operating_status="ONLINE")
    hb = Heartbeat(amphora_id=lb.amphora, seq=1,
                   pools={lb.pool: PoolStatus("UP", {lb.members[1]: "UP", lb.members[2]: "UP"})})
    hm = lb.manager()
    t0 = time.time()
    hm.handle(hb, SRC)
    assert lb.statuses() == ("ERROR", "ERROR", "ONLINE", ["ONLINE"] * 3)
    # As in Octavia, such a heartbeat is no sign of health: HAProxy lost a listener,
    # and a failover rebuilds the amphora.
    hm.handle(replace(hb, seq=2, recv_time=t0 + 50), SRC)
    assert hm.check_once(t0 + 55) == [lb.amphora]
    with lb.db.read() as s:
        amp = s.get(Amphora, lb.amphora)
        assert amp is not None and amp.last_heartbeat is None


def test_an_amphora_started_again_empty_is_restored_once(lb: Lb) -> None:
    """Its host lost it and started it again: its agent counts from 0 again (below the
    last heartbeat seen) and serves none of the listeners. Reported for a restore,
    once, until it serves again."""
    asked: list[str] = []
    hm = lb.manager(on_unconfigured=lambda amp: asked.append(amp) or True)
    hm.handle(lb.heartbeat(lb.up(), seq=50), SRC)  # serving
    empty = Heartbeat(amphora_id=lb.amphora, seq=0, pools={})
    hm.handle(empty, SRC)
    hm.handle(replace(empty, seq=1), SRC)
    assert asked == [lb.amphora]
    hm.handle(lb.heartbeat(lb.up(), seq=2), SRC)  # restored: serves its listener
    hm.handle(replace(empty, seq=0), SRC)  # lost again
    assert asked == [lb.amphora, lb.amphora]


def test_an_amphora_missing_listeners_without_a_restart_is_not_restored(lb: Lb) -> None:
    """A new amphora whose configuration is still on its way, or one that lost a
    listener while running, is Octavia's case (failover after the timeout), not a
    restore."""
    asked: list[str] = []
    hm = lb.manager(on_unconfigured=lambda amp: asked.append(amp) or True)
    hm.handle(Heartbeat(amphora_id=lb.amphora, seq=0, pools={}), SRC)  # first seen
    hm.handle(Heartbeat(amphora_id=lb.amphora, seq=1, pools={}), SRC)
    hm.handle(lb.heartbeat(lb.up(), seq=2), SRC)
    hm.handle(Heartbeat(amphora_id=lb.amphora, seq=3, pools={}), SRC)  # lost a listener
    assert asked == []


def test_a_busy_load_balancer_is_asked_again_at_the_next_heartbeat(lb: Lb) -> None:
    answers = iter([False, True])
    asked: list[str] = []
    hm = lb.manager(on_unconfigured=lambda amp: asked.append(amp) or next(answers))
    hm.handle(lb.heartbeat(lb.up(), seq=100), SRC)
    for seq in (0, 1, 2):
        hm.handle(Heartbeat(amphora_id=lb.amphora, seq=seq, pools={}), SRC)
    assert asked == [lb.amphora, lb.amphora]


def test_missing_listener_of_pending_lb_is_kept(lb: Lb) -> None:
    lb.set(LoadBalancer, lb.lb, provisioning_status="PENDING_UPDATE")
    lb.set(Listener, lb.listener, operating_status="ONLINE")
    lb.manager().handle({"ver": 1, "id": lb.amphora, "seq": 1}, SRC)  # the wire dict works too
    assert lb.status(Listener, lb.listener) == "ONLINE"


def test_heartbeat_of_unknown_or_unallocated_amphora_is_ignored(lb: Lb) -> None:
    hm = lb.manager()
    hm.handle(lb.heartbeat(lb.up(1), amphora="no-such-amphora"), SRC)
    lb.set(Amphora, lb.amphora, status="PENDING_DELETE")
    hm.handle(lb.heartbeat(lb.up(1)), SRC)
    assert lb.statuses() == ("ONLINE", "OFFLINE", "OFFLINE", ["NO_MONITOR"] * 3)
    assert hm.ignored == 2
    with lb.db.read() as s:
        amp = s.get(Amphora, lb.amphora)
        assert amp is not None and amp.last_heartbeat is None


def test_from_haproxy_show_stat(lb: Lb) -> None:
    """The agent's real message builder: backend ``<pool>:<listener>``, weight 0 drains."""
    be = f"{lb.pool}:{lb.listener}"
    csv = "\n".join([
        "# pxname,svname,scur,stot,bin,bout,ereq,status,weight,type,",
        f"{lb.listener},FRONTEND,1,9,100,200,0,OPEN,,0,",
        f"{be},{lb.members[0]},0,3,0,0,,UP,1,2,",
        f"{be},{lb.members[1]},0,3,0,0,,DOWN 1/2,1,2,",
        f"{be},{lb.members[2]},0,3,0,0,,UP,0,2,",
        f"{be},BACKEND,0,9,100,200,,UP,2,1,",
    ])
    lb.manager().handle(build_message(lb.amphora, 1, csv), SRC)
    assert lb.statuses() == ("DEGRADED", "DEGRADED", "DEGRADED",
                             ["ONLINE", "ERROR", "DRAINING"])


def test_pool_status_rules() -> None:
    assert pool_status([]) == "ONLINE"
    assert pool_status(["OFFLINE", "ERROR"]) == "ERROR"
    assert pool_status(["DRAINING", "NO_MONITOR"]) == "ONLINE"
    assert pool_status(["ERROR", "DRAINING"]) == "DEGRADED"


# -- statistics -------------------------------------------------------------------

def stored(lb: Lb) -> tuple[int, int, int, int, int]:
    with lb.db.read() as s:
        r = s.get(ListenerStatistics, (lb.listener, lb.amphora))
        assert r is not None
        return (r.bytes_in, r.bytes_out, r.active_connections, r.total_connections,
                r.request_errors)


def test_totals_survive_haproxy_restart_and_manager_restart(lb: Lb) -> None:
    hm = lb.manager(flush_interval=0)
    readings = [ListenerStats(conns=3, totconns=10, rx=100, tx=1000, ereq=1),
                ListenerStats(conns=4, totconns=15, rx=150, tx=1500, ereq=1),
                # HAProxy reloaded: its counters began again at zero.
                ListenerStats(conns=1, totconns=2, rx=20, tx=200, ereq=0)]
    for seq, raw in enumerate(readings, 1):
        hm.handle(lb.heartbeat(lb.up(), seq, stats=raw), SRC)
    assert stored(lb) == (170, 1700, 1, 17, 1)
    # A new manager process: the first reading is only a baseline (no double count).
    hm2 = lb.manager(flush_interval=0)
    hm2.handle(lb.heartbeat(lb.up(), 1, stats=readings[2]), SRC)
    assert stored(lb) == (170, 1700, 1, 17, 1)
    hm2.handle(lb.heartbeat(lb.up(), 2, stats=ListenerStats(0, 5, 50, 500, 2)), SRC)
    assert stored(lb) == (200, 2000, 0, 20, 3)


def test_statistics_writes_are_batched(lb: Lb) -> None:
    hm = lb.manager(flush_interval=3600)
    hm.handle(lb.heartbeat(lb.up(), 1, stats=ListenerStats(1, 1, 10, 10, 0)), SRC)
    hm.handle(lb.heartbeat(lb.up(), 2, stats=ListenerStats(1, 2, 20, 20, 0)), SRC)
    assert stored(lb) == (10, 10, 1, 1, 0)  # only the first heartbeat was written
    hm.handle(lb.heartbeat(lb.up(1), 3, stats=ListenerStats(1, 3, 30, 30, 0)), SRC)
    assert stored(lb) == (30, 30, 1, 3, 0)  # a status change flushes everything


def test_accumulate_detects_reset_from_any_counter() -> None:
    t = accumulate(Totals(), ListenerStats(), ListenerStats(1, 10, 100, 100, 0))
    t = accumulate(t, ListenerStats(1, 10, 100, 100, 0), ListenerStats(1, 11, 50, 120, 0))
    assert t == Totals(bytes_in=150, bytes_out=220, active_connections=1,
                       total_connections=21, request_errors=0)


# -- failure detection ------------------------------------------------------------

def test_silent_amphora_fires_once_until_it_reports_again(lb: Lb) -> None:
    hm = lb.manager()
    t0 = time.time()
    hm.handle(lb.heartbeat(lb.up(), 1, recv_time=t0), SRC)
    assert hm.check_once(t0 + 1) == []
    later = t0 + 60
    assert hm.check_once(later) == [lb.amphora]
    assert hm.check_once(later + 10) == []  # its failover is pending
    assert lb.failed == [lb.amphora]
    hm.handle(lb.heartbeat(lb.up(), 2, recv_time=later + 11), SRC)
    assert hm.check_once(later + 12) == []
    assert hm.check_once(later + 30) == [lb.amphora]


def test_amphora_row_change_rearms_the_report(lb: Lb) -> None:
    hm = lb.manager()
    far = time.time() + 3600
    assert hm.check_once(far) == [lb.amphora]  # never heard from
    assert hm.check_once(far) == []
    lb.set(Amphora, lb.amphora, updated_at=utcnow() - timedelta(seconds=30))
    assert hm.check_once(far) == [lb.amphora]


def test_never_heard_amphora_gets_a_grace_period(lb: Lb) -> None:
    hm = lb.manager()
    assert hm.check_once(time.time() + 1) == []
    assert hm.check_once(time.time() + CONFIG.heartbeat_timeout + 2) == [lb.amphora]


def test_pending_or_error_lb_is_not_failed_over(db: Database) -> None:
    a = add_lb(db, lb_status="PENDING_UPDATE")
    b = add_lb(db, lb_status="ERROR")
    hm = HealthManager(db, CONFIG, a.failed.append)
    assert hm.check_once(time.time() + 3600) == []
    a.set(Amphora, b.amphora, status="DELETED")
    a.set(LoadBalancer, a.lb, provisioning_status="ACTIVE")
    assert hm.check_once(time.time() + 3600) == [a.amphora]


def test_failover_threshold_stops_mass_failover(db: Database) -> None:
    lbs = [add_lb(db) for _ in range(3)]
    failed: list[str] = []
    cfg = HealthManagerConfig(heartbeat_key=KEY, heartbeat_timeout=3.0, failover_threshold=3)
    far = time.time() + 3600
    assert HealthManager(db, cfg, failed.append).check_once(far) == []
    assert failed == []
    lbs[0].set(Amphora, lbs[0].amphora, status="DELETED")
    assert sorted(HealthManager(db, cfg, failed.append).check_once(far)) == sorted(
        x.amphora for x in lbs[1:])


def test_failed_callback_is_retried(lb: Lb) -> None:
    calls: list[str] = []

    def flaky(amp_id: str) -> None:
        calls.append(amp_id)
        if len(calls) == 1:
            raise RuntimeError("database is busy")

    hm = HealthManager(lb.db, CONFIG, flaky)
    far = time.time() + 3600
    assert hm.check_once(far) == []
    assert hm.check_once(far) == [lb.amphora]
    assert calls == [lb.amphora, lb.amphora]


# -- real UDP, signatures, metrics -------------------------------------------------

def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


@pytest.fixture()
def served(lb: Lb) -> Iterator[tuple[HealthManager, int, CollectorRegistry]]:
    registry = CollectorRegistry()
    hm = lb.manager(metrics_registry=registry, flush_interval=0)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    stop = threading.Event()
    thread = threading.Thread(target=hm.serve, args=(sock, stop), daemon=True)
    thread.start()
    try:
        yield hm, sock.getsockname()[1], registry
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def test_udp_heartbeats_update_status_and_bad_signatures_are_dropped(
        lb: Lb, served: tuple[HealthManager, int, CollectorRegistry]) -> None:
    hm, port, _ = served
    with HeartbeatSender("127.0.0.1", port, "wrong-key") as forger:
        forger.send(lb.heartbeat(lb.up(0, 1, 2), seq=1))
    wait_for(lambda: hm.counters.invalid == 1)
    with HeartbeatSender("127.0.0.1", port, lb.key) as sender:
        sender.send(lb.heartbeat(lb.up(1), seq=5))
        wait_for(lambda: lb.status(Pool, lb.pool) == "DEGRADED")
        sender.send(lb.heartbeat(lb.up(), seq=4))  # a replay of an older one
        wait_for(lambda: hm.counters.replayed == 1)
    assert lb.statuses() == ("DEGRADED", "DEGRADED", "DEGRADED", ["ONLINE", "ERROR", "ONLINE"])
    assert hm.counters.accepted == 1


def test_a_heartbeat_is_verified_with_the_key_of_the_amphora_it_names(
        db: Database, served: tuple[HealthManager, int, CollectorRegistry]) -> None:
    """Issue 10: amphora B, compromised, cannot speak for amphora A: a heartbeat naming A
    signed with B's key (or the deployment's) is dropped and counted; so is one naming
    an amphora nobody knows. A's own key passes."""
    hm, port, _ = served
    a, b = add_lb(db), add_lb(db)
    assert a.key != b.key
    forged = [(b.key, a.heartbeat(a.up(0, 1, 2), seq=1)),
              (KEY, a.heartbeat(a.up(0, 1, 2), seq=2)),
              (b.key, a.heartbeat(a.up(), seq=3, amphora="no-such-amphora"))]
    for key, heartbeat in forged:
        with HeartbeatSender("127.0.0.1", port, key) as forger:
            forger.send(heartbeat)
    wait_for(lambda: hm.counters.invalid == 3)
    assert hm.counters.accepted == 0
    untouched = a.statuses()
    assert untouched[3] == ["NO_MONITOR"] * 3
    with HeartbeatSender("127.0.0.1", port, a.key) as sender:
        sender.send(a.heartbeat(a.up(1), seq=4))
    wait_for(lambda: a.status(Pool, a.pool) == "DEGRADED")
    assert hm.counters.accepted == 1


def test_an_amphora_booted_before_keys_per_amphora_uses_the_deployment_key(
        lb: Lb, served: tuple[HealthManager, int, CollectorRegistry]) -> None:
    """Its row has no key (migration 0004 leaves NULL): its agent was given the
    deployment's heartbeat key, which is what its heartbeats are checked with."""
    hm, port, _ = served
    lb.set(Amphora, lb.amphora, agent_key=None)
    with HeartbeatSender("127.0.0.1", port, lb.key) as old_key:
        old_key.send(lb.heartbeat(lb.up(), seq=1))
    wait_for(lambda: hm.counters.invalid == 1)
    with HeartbeatSender("127.0.0.1", port, KEY) as sender:
        sender.send(lb.heartbeat(lb.up(1), seq=2))
    wait_for(lambda: lb.status(Pool, lb.pool) == "DEGRADED")


def test_prometheus_figures(lb: Lb, served: tuple[HealthManager, int, CollectorRegistry]) -> None:
    hm, port, registry = served
    with HeartbeatSender("127.0.0.1", port, lb.key) as sender:
        sender.send(lb.heartbeat(lb.up(2), seq=1,
                                 stats=ListenerStats(conns=2, totconns=7, rx=11, tx=22, ereq=1)))
        wait_for(lambda: hm.counters.accepted == 1 and hm.snapshot() != [])
    ids = {"loadbalancer": lb.lb, "listener": lb.listener, "amphora": lb.amphora}
    figures = {name: registry.get_sample_value(name, ids) for name in (
        "octavia_listener_current_sessions", "octavia_listener_sessions_total",
        "octavia_listener_bytes_in_total", "octavia_listener_bytes_out_total",
        "octavia_listener_request_errors_total")}
    assert list(figures.values()) == [2, 7, 11, 22, 1]
    member = {**ids, "pool": lb.pool}
    assert [registry.get_sample_value("octavia_member_status", {**member, "member": m})
            for m in lb.members] == [1, 1, 0]
    assert registry.get_sample_value("tricircle_health_heartbeats_total",
                                     {"outcome": "accepted"}) == 1
    assert "# TYPE octavia_listener_bytes_in_total counter" in generate_latest(registry).decode()

def test_forgets_amphorae_that_are_gone(lb: Lb) -> None:
    hm = lb.manager()
    hm.handle(lb.heartbeat(lb.up()), SRC)
    assert [a for a, *_ in hm.snapshot()] == [lb.amphora]
    lb.set(Amphora, lb.amphora, status="DELETED")
    assert hm.check_once() == []
    assert hm.snapshot() == []



def test_a_failed_peer_does_not_flap_the_pair_and_is_failed_over(lb: Lb) -> None:
    with lb.db.write() as s:
        peer = Amphora(loadbalancer_id=lb.lb, status="ALLOCATED", role="BACKUP")
        s.add(peer)
        s.flush()
        peer_id = peer.id
    hm = lb.manager()
    t0 = time.time()
    for i in range(10):  # the VIP holder serves; its peer's HAProxy is dead
        hm.handle(lb.heartbeat(lb.up(), i + 1, recv_time=t0 + i), SRC)
        hm.handle(Heartbeat(amphora_id=peer_id, seq=i + 1, recv_time=t0 + i), SRC)
        assert lb.statuses()[:2] == ("ONLINE", "ONLINE")
    # The load balancer's own row kept still, and the dead peer is failed over.
    assert hm.check_once(t0 + 9 + CONFIG.heartbeat_timeout) == [peer_id]


def test_a_deaf_manager_blames_no_amphora_for_its_own_silence(lb: Lb) -> None:
    hm = lb.manager()
    t0 = time.time()
    hm.handle(lb.heartbeat(lb.up(), seq=1, recv_time=t0), SRC)
    hm.deaf()  # its namespace was lost and made anew: it heard nothing meanwhile
    deaf_at = time.time()
    assert hm.check_once(deaf_at + CONFIG.heartbeat_timeout - 0.5) == []
    assert hm.check_once(deaf_at + CONFIG.heartbeat_timeout + 0.5) == [lb.amphora]
