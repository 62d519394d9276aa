"""``tricircle-lb demo``: the spec's scenario on the embedded deployment, end to end.

1. net1/subnet1 (10.0.10.0/24) at central, net2/subnet2 (10.0.20.0/24) living
   in the second region; backend1 and backend2 (first region, net1), backend3
   (second region, net1: the spec's Fig. 1) and backend4 (second region,
   net2: Fig. 2), each a small web server answering its name.
2. lb1 in the first region, VIP on subnet1, HTTP listener on 80, a
   ROUND_ROBIN pool of the four backends; requests to the VIP from a probe
   on net1 show who answered. This is the core: the demo fails without it.
3. lb2 with an ACTIVE_STANDBY flavor; its MASTER amphora is killed while
   requests flow, and the table shows traffic carrying on. A failure here is
   reported, not fatal.

Every step reuses what a previous run made; :func:`cleanup` removes it all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tricircle_lb.deploy import demo_ha
from tricircle_lb.deploy import demo_resources as res
from tricircle_lb.deploy.bootstrap import BootstrapError, admin_client
from tricircle_lb.deploy.demo_api import Apis, DemoError, wait_for
from tricircle_lb.deploy.demo_traffic import Answer, Tally, requests
from tricircle_lb.deploy.demo_view import DemoView, answers_table, failover_table
from tricircle_lb.deploy.launcher import Deployment
from tricircle_lb.deploy.probe import probe
from tricircle_lb.deploy.topology import Topology

# The backends answer every request with their host name (= server name).
WEB_SERVER = """#!/bin/sh
cat > /tmp/demo-web-$(hostname).py <<'PY'
import http.server, socket
NAME = socket.gethostname().encode() + b"\\n"
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(NAME)))
        self.end_headers()
        self.wfile.write(NAME)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("", 80), Handler).serve_forever()
PY
exec python3 /tmp/demo-web-$(hostname).py
"""
SUBNETS = {"subnet1": "10.0.10.0/24", "subnet2": "10.0.20.0/24"}
# The backends' group, as a user makes it: `openstack security group create web`,
# `security group rule create --protocol tcp --dst-port 80 web`, `--protocol icmp web`.
WEB_GROUP = "web"
WEB_RULES: tuple[tuple[str, int | None], ...] = (("tcp", 80), ("icmp", None))
WARMUP_TIMEOUT = 120.0
KILL_AFTER = 3.0


@dataclass(frozen=True)
class Backend:
    name: str
    region: int   # index into the topology's regions
    network: str
    host: int     # index into the region's instance hosts


BACKENDS = (Backend("backend1", 0, "net1", 0), Backend("backend2", 0, "net1", 1),
            Backend("backend3", 1, "net1", 0), Backend("backend4", 1, "net2", 1))


@dataclass(frozen=True)
class Scenario:
    """What the core part made that the rest needs."""

    vip: str
    net1_id: str
    subnet1_id: str
    addresses: dict[str, str]  # backend name: its address


@dataclass
class HaResult:
    status: str = "skipped"  # ok | failed | skipped
    message: str = ""
    answered: int = 0
    failed: int = 0
    outage_s: float = 0.0
    killed_amphora: str = ""


@dataclass
class DemoResult:
    ok: bool = False
    error: str = ""
    vip: str = ""
    answers: dict[str, int] = field(default_factory=dict)
    regions: dict[str, str] = field(default_factory=dict)
    ha: HaResult = field(default_factory=HaResult)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def run(dep: Deployment, view: DemoView, count: int = 8,
        failover_seconds: float = 15.0) -> DemoResult:
    """Run the scenario; the result says what worked (``ok``: lb1 and four backends)."""
    topology = dep.topology
    secrets = dep.secrets()
    if secrets is None:
        raise DemoError(f"no deployment in {dep.paths.root}: run `tricircle-lb up` first")
    if len(topology.regions) < 2:
        raise DemoError("the demo needs two regions")
    result = DemoResult()
    with admin_client(topology, secrets) as (client, token):
        apis = Apis.of(topology, client, token)
        try:
            made = _core(topology, apis, view, result)
            with probe(topology, secrets, topology.regions[0].name, made.net1_id) as p:
                _traffic(view, p.namespace, made.vip, count, result)
                result.ok = set(result.answers) >= set(result.regions)
                _ha(topology, apis, view, p.namespace, made, failover_seconds, result)
        except (DemoError, BootstrapError) as exc:
            result.error = str(exc)
    view.next_steps(next_commands(dep, result.vip))
    return result


def _core(topology: Topology, apis: Apis, view: DemoView, result: DemoResult) -> Scenario:
    """Networks, backends, lb1 and its members."""
    one, two = topology.regions[0], topology.regions[1]
    with view.step(f"net1/subnet1 {SUBNETS['subnet1']} at {topology.central.region_name}"):
        net1 = res.ensure_network(apis.central, "net1")
        subnet1 = res.ensure_subnet(apis.central, "subnet1", net1["id"], SUBNETS["subnet1"])
    with view.step(f"net2/subnet2 {SUBNETS['subnet2']} living in {two.name}"):
        local = apis.region(two.name).network
        net2 = res.ensure_network(local, "net2")
        subnet2 = res.ensure_subnet(local, "subnet2", net2["id"], SUBNETS["subnet2"])
    lb = apis.region(one.name).lb
    # lb1's amphora boots while the backends do.
    lb1 = res.start_loadbalancer(lb, "lb1", subnet1["id"])
    nets = {"net1": net1["id"], "net2": net2["id"]}
    servers: dict[str, dict[str, Any]] = {}
    with view.step(f"security group {WEB_GROUP}: HTTP (tcp 80) and ping in, for the backends"):
        # The backends' `default` group lets in only its own members; the amphorae
        # reach the backends' web servers through this one.
        res.ensure_security_group(apis.central, WEB_GROUP, WEB_RULES)
    with view.step("backend1, backend2 (" + one.name + ", net1), backend3 (" + two.name +
                   ", net1), backend4 (" + two.name + ", net2)"):
        for b in BACKENDS:
            region = topology.regions[b.region]
            hosts = region.hosts or region.all_hosts
            zone = f"{region.availability_zone}:{hosts[b.host % len(hosts)]}"
            api = apis.region(region.name)
            servers[b.name] = res.start_server(api.compute, api.image, b.name, nets[b.network],
                                               zone, WEB_SERVER, (WEB_GROUP,))
        for b in BACKENDS:
            servers[b.name] = res.wait_server(
                apis.region(topology.regions[b.region].name).compute, servers[b.name])
            result.regions[b.name] = topology.regions[b.region].name
    with view.step(f"lb1 in {one.name} (VIP on subnet1), amphora booted and serving"):
        lb1 = res.wait_active(lb, lb1["id"], "lb1")
        result.vip = lb1["vip_address"]
    with view.step("listener1 (HTTP 80), pool1 (ROUND_ROBIN), the four backends as members"):
        listener = res.ensure_listener(lb, lb1, "listener1", 80)
        pool = res.ensure_pool(lb, lb1, listener, "pool1")
        subnets = {"net1": subnet1["id"], "net2": subnet2["id"]}
        for b in BACKENDS:
            res.ensure_member(lb, lb1, pool, b.name, res.server_address(servers[b.name]),
                              subnets[b.network])
    return Scenario(result.vip, net1["id"], subnet1["id"],
                    {name: res.server_address(server) for name, server in servers.items()})


def _warm_up(namespace: str, vip: str, backends: set[str]) -> None:
    """Wait until each backend has answered once through the VIP (web servers starting)."""
    seen: set[str] = set()

    def all_seen() -> bool | None:
        seen.update(a.body for a in requests(namespace, f"http://{vip}/", count=8) if a.ok)
        return True if backends <= seen else None
    try:
        wait_for(all_seen, WARMUP_TIMEOUT, "the backends answering", interval=0.5)
    except DemoError as exc:
        raise DemoError(f"only {', '.join(sorted(seen)) or 'no backend'} answered: "
                        f"{exc}") from exc


def _traffic(view: DemoView, namespace: str, vip: str, count: int,
             result: DemoResult) -> None:
    with view.step("waiting for the four backends' web servers to answer through the VIP"):
        _warm_up(namespace, vip, set(result.regions))
    seen: list[Answer] = []
    with view.showing(lambda: answers_table(seen, result.regions, vip)) as refresh:
        for answer in requests(namespace, f"http://{vip}/", count=count):
            seen.append(answer)
            refresh()
    result.answers = {b: sum(1 for a in seen if a.ok and a.body == b) for b in result.regions
                      if any(a.ok and a.body == b for a in seen)}


def _ha(topology: Topology, apis: Apis, view: DemoView, namespace: str, made: Scenario,
        seconds: float, result: DemoResult) -> None:
    """lb2 (ACTIVE_STANDBY), then kill its MASTER under traffic. Failures are reported."""
    one = topology.regions[0]
    api = apis.region(one.name)
    try:
        with view.step("lb2: ACTIVE_STANDBY flavor, two amphorae (MASTER and BACKUP)"):
            flavor = demo_ha.ensure_ha_flavor(api.lb)
            lb2 = res.start_loadbalancer(api.lb, "lb2", made.subnet1_id, flavor["id"])
            lb2 = res.wait_active(api.lb, lb2["id"], "lb2")
            listener = res.ensure_listener(api.lb, lb2, "listener2", 80)
            pool = res.ensure_pool(api.lb, lb2, listener, "pool2")
            # Members on subnet1 only (both regions): one VIP network for the VRRP pair.
            members = [b.name for b in BACKENDS if b.network == "net1"]
            for name in members:
                res.ensure_member(api.lb, lb2, pool, name, made.addresses[name],
                                  made.subnet1_id)
        vip = lb2["vip_address"]
        with view.step("lb2 serving"):
            _warm_up(namespace, vip, set(members))
        amphora = demo_ha.master(api.lb, lb2["id"])
        target = demo_ha.amphora_namespace(api.compute, topology.prefix, amphora)
        result.ha.killed_amphora = amphora["id"]
        _failover(view, namespace, vip, target, seconds, result.ha)
    except (DemoError, BootstrapError) as exc:
        result.ha.status, result.ha.message = "failed", str(exc)
        view.note(f"high availability part not done: {exc}", "bold yellow")


def _failover(view: DemoView, namespace: str, vip: str, target: str, seconds: float,
              ha: HaResult) -> None:
    tally = Tally()
    killed_at: float | None = None
    view.note(f"killing every process of the MASTER amphora ({target}) after "
              f"{KILL_AFTER:.0f}s of traffic")
    with view.showing(lambda: failover_table(tally, killed_at, vip)) as refresh:
        for answer in requests(namespace, f"http://{vip}/", duration=seconds):
            tally.add(answer)
            if killed_at is None and answer.at >= KILL_AFTER:
                demo_ha.kill_namespace(target)
                killed_at = answer.at
            refresh()
    ha.answered, ha.failed, ha.outage_s = tally.ok, tally.failed, round(tally.outage, 3)
    recovered = killed_at is not None and tally.last_ok > killed_at
    ha.status = "ok" if recovered else "failed"
    ha.message = ("traffic carried on after the MASTER died" if recovered
                  else "no answer after the MASTER died")
    view.note(ha.message, "bold green" if recovered else "bold red")


def next_commands(dep: Deployment, vip: str) -> list[str]:
    one = dep.topology.regions[0].name
    opts = ("" if dep.paths.root == Path("/var/lib/tricircle-lb")
            else f" --state-dir {dep.paths.root}")
    os1 = f"openstack --os-region-name {one}"
    return [
        f'eval "$(tricircle-lb openrc{opts})"',
        f"{os1} loadbalancer list",
        f"{os1} loadbalancer status show lb1",
        f"{os1} loadbalancer amphora list --loadbalancer lb1",
        f"{os1} loadbalancer member list pool1",
        f"openstack --os-region-name {dep.topology.central.region_name} network list",
        f"{os1} port list --device-owner compute:shadow",
        f"tricircle-lb exec{opts} --region {one} --network net1 -- curl -s "
        f"http://{vip or '<VIP>'}/",
        f"tricircle-lb status{opts}",
        f"tricircle-lb demo --cleanup{opts}",
    ]


def cleanup(dep: Deployment) -> list[str]:
    """Remove everything the demo made (by name and mark); safe to run twice."""
    secrets = dep.secrets()
    if secrets is None:
        raise DemoError(f"no deployment in {dep.paths.root}")
    topology = dep.topology
    done: list[str] = []
    with admin_client(topology, secrets) as (client, token):
        apis = Apis.of(topology, client, token)
        lb = apis.region(topology.regions[0].name).lb
        for name in ("lb2", "lb1"):
            done += res.delete_loadbalancer(lb, name)
        for b in BACKENDS:
            if b.region < len(topology.regions):
                compute = apis.region(topology.regions[b.region].name).compute
                done += res.delete_server(compute, b.name)
        done += demo_ha.delete_ha_flavor(lb)
        for name in ("net1", "net2"):
            done += res.delete_network(apis.central, name)
        done += res.delete_security_group(apis.central, WEB_GROUP)
    return done
