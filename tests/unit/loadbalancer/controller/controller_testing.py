"""Test helpers: RegionOne's controller flows against real networking, fake compute
and amphorae.

The load-balancer API of the harness (``lb_testing``) writes rows and hands
off jobs; :class:`Rig` runs those jobs with a :class:`~tricircle_lb.jobs.Worker`
over the real networking driver and the fakes, on a queue whose clock a test
moves forward (backoff elapsed, a dead worker's lease expired).
:class:`CrashAfter` stands for ``kill -9``: a call does its work, then the
flow dies without running any of its own error handling.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from lb_testing import LbCloud
from networking_testing import ok
from sqlalchemy import select

from tricircle_lb.jobs import JobQueue, Worker
from tricircle_lb.jobs.models import utcnow
from tricircle_lb.loadbalancer import models
from tricircle_lb.loadbalancer.controller import sweeper
from tricircle_lb.loadbalancer.controller.amphora_ops import AmphoraOps
from tricircle_lb.loadbalancer.controller.flows import Flows
from tricircle_lb.loadbalancer.drivers.amphora import AmphoraClient
from tricircle_lb.loadbalancer.drivers.compute import ComputeDriver
from tricircle_lb.loadbalancer.drivers.fakes import Call, FakeAmphora, FakeCompute
from tricircle_lb.loadbalancer.drivers.network import NetworkDriver

Body = dict[str, Any]
HM_PORT = "octavia-health-manager-RegionOne-listen-port"
LBS = "/v2/lbaas/loadbalancers"
BACKOFF = 60.0


class Crash(BaseException):
    """The process died here: no ``except Exception`` of the flow or the worker sees it."""


class CrashAfter:
    """``target`` whose ``nth`` call of ``method`` does its work and then crashes."""

    def __init__(self, target: Any, method: str, nth: int = 1) -> None:
        self.target = target
        self.method = method
        self.nth = nth
        self.seen = 0

    def __getattr__(self, name: str) -> Any:
        if name in ("with_key", "with_timeout"):  # the agent client for one amphora
            return lambda *args: self
        attr = getattr(self.target, name)
        if name != self.method:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            self.seen += 1
            if self.seen == self.nth:
                raise Crash(f"after {self.method} #{self.nth}")
            return result
        return call


class Clock:
    """The worker's now: real time plus what the test skipped."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        now: datetime = utcnow()
        return now + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@dataclass
class Rig:
    cloud: LbCloud
    compute: FakeCompute
    agent: FakeAmphora
    calls: list[Call]
    queue: JobQueue[models.Job]
    clock: Clock
    ops: AmphoraOps
    subnet1: Body  # the VIP subnet, 10.0.1.0/24 on net1
    subnet2: Body  # a member subnet on another network, 10.0.20.0/24 on net2

    @property
    def state(self) -> Any:
        return self.cloud.lb_apps["RegionOne"].state

    # The controller ---------------------------------------------------------------
    def flows(self, network: NetworkDriver | None = None, compute: ComputeDriver | None = None,
              agent: AmphoraClient | None = None) -> Flows:
        """The controller's flows; any of the three systems may be swapped (CrashAfter)."""
        ops = AmphoraOps(self.ops.db, self.ops.cfg, self.ops.hm,
                         network or self.ops.network, compute or self.compute,
                         agent or self.agent)
        return Flows(self.state.db, ops)

    def crashing(self, system: str, method: str, nth: int = 1) -> Flows:
        """Flows whose ``system`` (network, compute or agent) dies after ``method`` #nth."""
        targets = {"network": self.ops.network, "compute": self.compute, "agent": self.agent}
        crash = CrashAfter(targets[system], method, nth)
        return self.flows(**{system: cast(Any, crash)})

    def run(self, flows: Flows | None = None) -> int:
        """Run every job that is due now; how many runs there were."""
        worker = Worker(self.state.db, self.queue, (flows or self.flows()).handlers())
        count = 0
        while worker.run_once():
            count += 1
        return count

    def later(self) -> None:
        """Time passes beyond a retry's backoff: a job that failed is due again."""
        self.clock.advance(BACKOFF + 1)

    def restart(self) -> None:
        """Time passes beyond a lease: a job a dead worker held is due again."""
        self.clock.advance(self.queue.config.lease_time + 1)

    def jobs(self) -> list[models.Job]:
        with self.state.db.read() as session:
            return list(session.scalars(select(models.Job).order_by(models.Job.created_at)))

    # The API ------------------------------------------------------------------------
    def api(self, method: str, path: str, status: int, body: Body | None = None,
            token: str = "demo-token") -> Any:
        return ok(self.cloud.lb(token=token).request(method, path, json=body), status)

    def create_lb(self, **attrs: Any) -> Body:
        attrs.setdefault("vip_subnet_id", self.subnet1["id"])
        lb: Body = self.api("POST", LBS, 201, {"loadbalancer": attrs})["loadbalancer"]
        return lb

    def show(self, lb_id: str) -> Body:
        lb: Body = self.api("GET", f"{LBS}/{lb_id}", 200)["loadbalancer"]
        return lb

    def active_lb(self) -> Body:
        """A load balancer the controller made ACTIVE."""
        lb = self.create_lb(name="lb1")
        self.run()
        assert self.show(lb["id"])["provisioning_status"] == "ACTIVE"
        return lb

    def pool(self, lb_id: str) -> Body:
        """An HTTP listener on 80 whose default pool (ROUND_ROBIN) is returned, ACTIVE."""
        listener = self.api("POST", "/v2/lbaas/listeners", 201, {"listener": {
            "loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80}})["listener"]
        self.run()
        pool: Body = self.api("POST", "/v2/lbaas/pools", 201, {"pool": {
            "listener_id": listener["id"], "protocol": "HTTP",
            "lb_algorithm": "ROUND_ROBIN"}})["pool"]
        self.run()
        return pool

    def member(self, pool_id: str, subnet: Body, address: str) -> Body:
        member: Body = self.api("POST", f"/v2/lbaas/pools/{pool_id}/members", 201, {"member": {
            "address": address, "protocol_port": 8080, "subnet_id": subnet["id"]}})["member"]
        return member

    def statuses(self, lb_id: str) -> list[str]:
        """Provisioning status of the load balancer and of everything under it."""
        with self.state.db.read() as session:
            lb = session.get(models.LoadBalancer, lb_id)
            assert lb is not None
            return [lb.provisioning_status, *(o.provisioning_status for o in _under(lb))]

    # What exists --------------------------------------------------------------------
    def amphorae(self, lb_id: str | None = None) -> list[models.Amphora]:
        """Amphora rows, oldest first (of ``lb_id`` if given)."""
        query = select(models.Amphora).order_by(models.Amphora.created_at)
        if lb_id is not None:
            query = query.where(models.Amphora.loadbalancer_id == lb_id)
        with self.state.db.read() as session:
            return list(session.scalars(query))

    def central_ports(self, **params: str) -> list[Body]:
        ports: list[Body] = ok(self.cloud.client("CentralRegion").get(
            "/v2.0/ports", params=params))["ports"]
        return ports

    def port_names(self) -> Counter[str]:
        """How many ports central holds under each name."""
        return Counter(p["name"] for p in self.central_ports())


def _under(lb: models.LoadBalancer) -> Iterator[Any]:
    for listener in lb.listeners:
        yield listener
        for policy in listener.l7policies:
            yield policy
            yield from policy.rules
    for pool in lb.pools:
        yield pool
        yield from pool.members
        if pool.healthmonitor is not None:
            yield pool.healthmonitor


def build_rig(cloud: LbCloud) -> Rig:
    """What the deployment's bootstrap makes for RegionOne, two tenant subnets, and
    RegionOne's controller over real networking with fake compute and agents."""
    central = cloud.client("CentralRegion")
    mgmt = cloud.network("lb-mgmt-net1", availability_zone_hints=["RegionOne"])
    cloud.subnet(mgmt["id"], "192.168.0.0/24")
    ok(central.post("/v2.0/security-groups", json={"security_group": {
        "name": "lb-mgmt-sec-grp"}}), 201)
    ok(central.post("/v2.0/ports", json={"port": {"name": HM_PORT, "network_id": mgmt["id"]}}),
       201)
    subnets = [cloud.subnet(cloud.network(name, token="demo-token")["id"], cidr,
                            token="demo-token")
               for name, cidr in (("net1", "10.0.1.0/24"), ("net2", "10.0.20.0/24"))]
    state = cloud.lb_apps["RegionOne"].state
    cfg = replace(state.config, mgmt_network_name="lb-mgmt-net1",
                  health_manager_port_name=HM_PORT, amp_active_timeout=1.0)
    calls: list[Call] = []
    compute, agent = FakeCompute(calls=calls), FakeAmphora(calls=calls)
    clock = Clock()
    # Retries wait a minute of the test's clock, so they run only when a test says so.
    queue = JobQueue(models.Job, replace(state.queue.config, backoff_base=BACKOFF,
                                         backoff_max=BACKOFF), clock=clock)
    ops = AmphoraOps(state.db, cfg, state.hm_config, state.network, compute, agent)
    sweeper.watch(queue, state.db)  # as background.start does
    return Rig(cloud, compute, agent, calls, queue, clock, ops, *subnets)

