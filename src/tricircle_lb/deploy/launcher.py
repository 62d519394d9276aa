"""The logic behind ``tricircle-lb up|down|status|openrc`` (the CLI only renders it).

Which topology a command uses: ``--config``/``$TRICIRCLE_LB_CONFIG`` when
given; otherwise the copy kept in the state directory by the last ``up``
(so ``status``, ``down`` and a later ``up`` see the deployment as it was
started); otherwise the packaged default.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tricircle_lb.dataplane.underlay import Underlay
from tricircle_lb.deploy import bootstrap, claims, cleanup, credentials, processes
from tricircle_lb.deploy.services import (
    Kind,
    Service,
    host_namespace,
    identity_url,
    services,
    underlay_spec,
    write_configs,
)
from tricircle_lb.deploy.state import Secrets, StatePaths, read_json
from tricircle_lb.deploy.supervisor import SUPERVISOR, Supervisor, tail
from tricircle_lb.deploy.topology import (
    Topology,
    TopologyError,
    config_source,
    default_topology_text,
    load,
)

DETACH_TIMEOUT = 240.0
DOWN_TIMEOUT = 30.0
REPAIR_TIMEOUT = 120.0
Progress = Callable[[str], None]


class LauncherError(Exception):
    """A command cannot do what was asked; the message says why and what to do."""


@dataclass(frozen=True)
class Deployment:
    topology: Topology
    source: Path | None = None  # the topology file given explicitly, if any

    @property
    def paths(self) -> StatePaths:
        return StatePaths(self.topology.state_dir)

    @property
    def services(self) -> list[Service]:
        return services(self.topology)

    @classmethod
    def open(cls, config: Path | None = None, state_dir: Path | None = None) -> Deployment:
        source = config_source(config)
        try:
            topology = load(source, state_dir)
            kept = StatePaths(topology.state_dir).topology
            if source is None and kept.exists():
                topology = load(kept, topology.state_dir)
        except TopologyError as exc:
            raise LauncherError(str(exc)) from exc
        return cls(topology, source)

    def supervisor_pid(self) -> int | None:
        return processes.read_pid(self.paths.pid_file(SUPERVISOR))

    def secrets(self) -> Secrets | None:
        return Secrets.load(self.paths)

    def endpoints(self) -> list[tuple[str, str, str]]:
        """(service, region, URL) of every API, identity first."""
        rows = [("identity", "-", identity_url(self.topology))]
        rows += [(s.label.split(" (")[0], s.region or "-", s.url)
                 for s in self.services if s.kind is Kind.NETWORKING]
        rows += [("compute (Nova)", s.region or "-", f"{s.url}/v2.1")
                 for s in self.services if s.kind is Kind.COMPUTE]
        rows += [("image (Glance)", s.region or "-", f"{s.url}/image")
                 for s in self.services if s.kind is Kind.COMPUTE]
        rows += [("load balancing (Octavia)", s.region or "-", s.url)
                 for s in self.services if s.kind is Kind.LOADBALANCER]
        rows += [("key manager (Barbican)", "every region", s.url)
                 for s in self.services if s.kind is Kind.KEY_MANAGER]
        return rows


# -- up ----------------------------------------------------------------------

def prepare(dep: Deployment) -> Secrets:
    """Stop leftovers of a crashed run, check ports, write state, secrets and configs."""
    paths = dep.paths
    _stop_strays(paths)
    busy = [f"{s.name} ({s.host}:{s.port})" for s in dep.services
            if s.has_api and not _port_free(s.host, s.port)]
    if busy:
        raise LauncherError("ports already in use: " + ", ".join(busy) +
                            "; another deployment may be running (see --state-dir), or "
                            "change the ports in the topology file (--config)")
    try:
        claims.claim(dep.topology.prefix, paths.root, _namespaces)
    except claims.PrefixTaken as exc:
        raise LauncherError(str(exc)) from exc
    paths.create()
    text = _topology_text(dep, dep.source)
    if not paths.topology.exists() or paths.topology.read_text() != text:
        paths.topology.write_text(text)
    secrets = Secrets.load_or_create(paths)
    write_configs(dep.topology, secrets)
    credentials.write_clouds_yaml(dep.topology, secrets)
    paths.supervisor_state.unlink(missing_ok=True)
    return secrets


def _topology_text(dep: Deployment, source: Path | None) -> str:
    if source is not None:
        return source.read_text()
    if dep.paths.topology.exists():
        return dep.paths.topology.read_text()
    return default_topology_text()


def up_foreground(dep: Deployment, progress: Progress, on_ready: Callable[[], None]) -> int:
    secrets = prepare(dep)
    return Supervisor(dep.topology, dep.services, secrets, progress).run(on_ready)


def up_detached(dep: Deployment, progress: Progress) -> None:
    """Start the supervisor in its own session; return once the deployment is ready."""
    prepare(dep)
    paths = dep.paths
    cmd = [sys.executable, "-m", "tricircle_lb.cli", "supervise",
           "--state-dir", str(paths.root)]
    with open(paths.stdout_file(SUPERVISOR), "ab") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                close_fds=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    progress(f"supervisor started (pid {proc.pid}); waiting for every service")
    deadline = time.monotonic() + DETACH_TIMEOUT
    while True:
        state = read_json(paths.supervisor_state) or {}
        phase = state.get("phase")
        if phase == "ready":
            return
        if phase == "failed" or proc.poll() is not None:
            proc.wait()
            error = state.get("error") or tail(paths.stdout_file(SUPERVISOR))
            raise LauncherError(f"the deployment did not start: {error}\n"
                                f"logs: {paths.log}")
        if time.monotonic() > deadline:
            raise LauncherError(f"not ready after {DETACH_TIMEOUT:.0f}s; "
                                f"see {paths.log} (tricircle-lb down stops it)")
        time.sleep(0.2)


def repair(dep: Deployment, progress: Progress, timeout: float = REPAIR_TIMEOUT) -> list[str]:
    """``up`` on a running deployment: rebuild a damaged data plane now (the underlay
    and every host namespace) and wait until every agent reports its host whole
    again; a line per host that needed it."""
    damaged = _damaged_hosts(status(dep))
    if not damaged:
        return []
    progress("damaged data plane on " + ", ".join(damaged) + ": rebuilding the underlay")
    underlay = Underlay(underlay_spec(dep.topology))
    try:
        underlay.ensure()
    finally:
        underlay.close()
    progress("waiting for the agents to rebuild their hosts")
    deadline = time.monotonic() + timeout
    while still := _damaged_hosts(status(dep)):
        if time.monotonic() > deadline:
            raise LauncherError("the data plane of " + ", ".join(still) + " is still not "
                                f"whole after {timeout:.0f}s; see `tricircle-lb status` and "
                                f"the agents' logs in {dep.paths.log}")
        time.sleep(1.0)
    return [f"repaired {host}: {what}" for host, what in damaged.items()]


def _damaged_hosts(st: Status) -> dict[str, str]:
    return {h.host: ("namespace missing" if not h.namespace else h.error or
                     ("underlay unreachable" if h.underlay_reachable is False
                      else "agent not reporting"))
            for held in st.holdings for h in held.hosts if not h.data_plane_ok}


def supervise(dep: Deployment) -> int:
    """The detached supervisor's body (``tricircle-lb supervise``)."""
    secrets = dep.secrets()
    if secrets is None:
        raise LauncherError(f"no secrets in {dep.paths.root}; run tricircle-lb up")
    return Supervisor(dep.topology, dep.services, secrets).run()


def _namespaces() -> list[str]:
    from tricircle_lb.dataplane.netlink import NETNS_DIR

    try:
        return os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


# -- down --------------------------------------------------------------------

def down(dep: Deployment, purge: bool) -> list[str]:
    """Stop everything ``up`` started; with ``purge`` also delete the state directory."""
    paths = dep.paths
    done: list[str] = []
    pid = dep.supervisor_pid()
    if pid is not None:
        processes.terminate([pid], DOWN_TIMEOUT)
        done.append(f"stopped the supervisor (pid {pid})")
    done += _stop_strays(paths)
    prefix = dep.topology.prefix
    if claims.owns(prefix, paths.root):
        done += cleanup.cleanup(dep.topology)
        claims.release(prefix, paths.root)
    elif (other := claims.owner(prefix)) is not None and paths.root.exists():
        done.append(f"left the namespaces {prefix}… alone: they belong to the "
                    f"deployment in {other}")
    if paths.run.exists():
        for pid_file in paths.run.glob("*.pid"):
            pid_file.unlink(missing_ok=True)
        paths.supervisor_state.unlink(missing_ok=True)
    if purge and paths.root.exists():
        _check_purgeable(paths)
        shutil.rmtree(paths.root)
        done.append(f"deleted {paths.root}")
    return done


def _stop_strays(paths: StatePaths) -> list[str]:
    """Stop processes recorded in the run directory (left by a killed supervisor)."""
    if not paths.run.exists():
        return []
    found: list[tuple[str, int]] = []
    for pid_file in sorted(paths.run.glob("*.pid")):
        pid = processes.read_pid(pid_file)
        if pid is not None and pid != os.getpid():
            found.append((pid_file.stem, pid))
        else:
            pid_file.unlink(missing_ok=True)
    processes.terminate([pid for _, pid in found])
    for name, _ in found:
        paths.pid_file(name).unlink(missing_ok=True)
    return [f"stopped {name} (pid {pid})" for name, pid in found]


def _check_purgeable(paths: StatePaths) -> None:
    """Refuse to delete a directory that does not look like a state directory."""
    root = paths.root.resolve()
    ours = {"topology.ini", "secrets.ini", "etc", "log", "run"}
    entries = {p.name for p in root.iterdir()}
    if root == Path("/") or root == Path.home() or (entries and not entries & ours):
        raise LauncherError(f"{root} does not look like a tricircle-lb state directory; "
                            "not deleting it")


# -- status ------------------------------------------------------------------

@dataclass(frozen=True)
class ServiceStatus:
    service: Service
    pid: int | None
    healthy: bool


@dataclass(frozen=True)
class AmphoraInfo:
    id: str
    loadbalancer_id: str
    role: str
    status: str
    host: str
    lb_network_ip: str


@dataclass(frozen=True)
class HostStatus:
    """One host: its agent, and its data plane as the agent last saw it (and as this
    machine sees it now: an embedded host's namespace lives here)."""

    host: str
    agent_alive: bool
    namespace: bool  # the host's namespace exists right now
    underlay_reachable: bool | None = None  # None: not reported (yet)
    error: str = ""  # the agent's last reconcile error
    repair: str = ""  # what the agent rebuilt lately, e.g. "rebuilt host namespace"
    repaired_ago: int | None = None  # seconds

    @property
    def data_plane_ok(self) -> bool:
        return (self.agent_alive and self.namespace and self.underlay_reachable is not False
                and not self.error)


@dataclass(frozen=True)
class Holdings:
    region: str
    networks: int | None
    subnets: int | None
    ports: int | None
    error: str = ""
    shadow_ports: int | None = None
    servers: int | None = None
    agents: str = "-"  # alive/expected
    hosts: tuple[HostStatus, ...] = ()
    amphorae: tuple[AmphoraInfo, ...] = ()


@dataclass(frozen=True)
class StretchedNetwork:
    """A network with bound ports in more than one region (the spec's Fig. 1 and 2)."""

    id: str
    name: str
    regions: tuple[str, ...]
    shadow_ports: dict[str, int]  # region: shadow ports of the network there


@dataclass(frozen=True)
class Status:
    state_dir: Path
    supervisor_pid: int | None
    phase: str
    services: list[ServiceStatus]
    holdings: list[Holdings]
    stretched: list[StretchedNetwork] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.supervisor_pid is not None


@dataclass
class _RegionPorts:
    """Per network of one region: its name, whether a local port is bound, shadow ports."""

    names: dict[str, str] = field(default_factory=dict)
    bound: set[str] = field(default_factory=set)
    shadows: dict[str, int] = field(default_factory=dict)


def status(dep: Deployment) -> Status:
    paths = dep.paths
    pid = dep.supervisor_pid()
    state = read_json(paths.supervisor_state) or {}
    phase = str(state.get("phase", "stopped")) if pid is not None else "stopped"
    result: list[ServiceStatus] = []
    with httpx.Client(timeout=2.0) as client:
        for svc in dep.services:
            pid_of = processes.read_pid(paths.pid_file(svc.name))
            healthy = False
            if not svc.has_api:
                healthy = pid_of is not None  # agents: alive is their region's word below
            else:
                with contextlib.suppress(httpx.HTTPError):
                    healthy = client.get(svc.health_url).status_code == 200
            result.append(ServiceStatus(svc, pid_of, healthy))
    holdings, ports = _holdings(dep, result)
    return Status(paths.root, pid, phase, result, holdings, _stretched(ports))


def _holdings(dep: Deployment, statuses: list[ServiceStatus],
              ) -> tuple[list[Holdings], dict[str, _RegionPorts]]:
    nets = [s for s in statuses if s.service.kind is Kind.NETWORKING]
    secrets = dep.secrets()
    if secrets is None or not any(s.healthy for s in statuses):
        return [Holdings(s.service.region or "", None, None, None, "down") for s in nets], {}
    ports: dict[str, _RegionPorts] = {}
    try:
        with bootstrap.admin_client(dep.topology, secrets) as (client, token):
            def of(kind: Kind, region: str | None) -> ServiceStatus | None:
                return next((s for s in statuses if s.service.kind is kind
                             and s.service.region == region and s.healthy), None)
            held = [_count(client, token, dep, s, of(Kind.COMPUTE, s.service.region),
                           of(Kind.LOADBALANCER, s.service.region), ports) for s in nets]
            return held, ports
    except bootstrap.BootstrapError as exc:
        return [Holdings(s.service.region or "", None, None, None, str(exc)[:80])
                for s in nets], {}


def _count(client: httpx.Client, token: str, dep: Deployment, s: ServiceStatus,
           compute: ServiceStatus | None, lb: ServiceStatus | None,
           ports_by_region: dict[str, _RegionPorts]) -> Holdings:
    region = s.service.region or ""
    if not s.healthy:
        return Holdings(region, None, None, None, "down")
    api = bootstrap.Api(client, s.service.url, token)
    try:
        networks, subnets, ports = (api.call("GET", f"/v2.0/{c}").get(c, [])
                                    for c in ("networks", "subnets", "ports"))
        if region == dep.topology.central.region_name:
            return Holdings(region, len(networks), len(subnets), len(ports))
        seen = ports_by_region[region] = _RegionPorts({n["id"]: n["name"] for n in networks})
        for port in ports:
            if port.get("device_owner") == "compute:shadow":
                net = port["network_id"]
                seen.shadows[net] = seen.shadows.get(net, 0) + 1
            elif port.get("binding:host_id"):
                seen.bound.add(port["network_id"])
        agents = {a["host"]: a for a in api.call("GET", "/v2.0/agents")["agents"]}
        alive = {h for h, a in agents.items() if a["alive"]}
        servers: list[dict[str, Any]] | None = None
        if compute is not None:
            nova = bootstrap.Api(client, f"{compute.service.url}/v2.1", token)
            servers = nova.call("GET", "/servers/detail", params={"all_tenants": "1"})[
                "servers"]
        amphorae = _amphorae(client, token, lb, servers or [])
    except bootstrap.BootstrapError as exc:
        return Holdings(region, None, None, None, str(exc)[:80])
    hosts = dep.topology.region(region).all_hosts
    return Holdings(region, len(networks), len(subnets), len(ports),
                    shadow_ports=sum(seen.shadows.values()),
                    servers=None if servers is None else len(servers),
                    agents=f"{len(alive & set(hosts))}/{len(hosts)}",
                    hosts=tuple(_host_status(dep, h, h in alive, agents.get(h))
                                for h in hosts), amphorae=amphorae)


def _host_status(dep: Deployment, host: str, alive: bool,
                 agent: dict[str, Any] | None) -> HostStatus:
    reported = ((agent or {}).get("configurations") or {}).get("data_plane") or {}
    namespace = host_namespace(dep.topology, host) in _namespaces()
    return HostStatus(host, alive, namespace,
                      underlay_reachable=reported.get("underlay_reachable"),
                      error=str(reported.get("last_error") or ""),
                      repair=str(reported.get("last_repair") or ""),
                      repaired_ago=reported.get("repaired_ago"))


def _amphorae(client: httpx.Client, token: str, lb: ServiceStatus | None,
              servers: list[dict[str, Any]]) -> tuple[AmphoraInfo, ...]:
    if lb is None:
        return ()
    host_of = {s["id"]: s.get("OS-EXT-SRV-ATTR:host") or "" for s in servers}
    found = bootstrap.Api(client, lb.service.url, token).call(
        "GET", "/v2/octavia/amphorae")["amphorae"]
    return tuple(AmphoraInfo(a["id"], a.get("loadbalancer_id") or "", a.get("role") or "",
                             a.get("status") or "", host_of.get(a.get("compute_id"), ""),
                             a.get("lb_network_ip") or "") for a in found)


def _stretched(ports: dict[str, _RegionPorts]) -> list[StretchedNetwork]:
    """Networks with bound ports in more than one region, and their shadow ports."""
    result = []
    for net in sorted({n for p in ports.values() for n in p.bound}):
        regions = tuple(r for r, p in ports.items() if net in p.bound)
        if len(regions) > 1:
            name = next(p.names[net] for p in ports.values() if net in p.names)
            result.append(StretchedNetwork(net, name, regions, {
                r: p.shadows.get(net, 0) for r, p in ports.items() if net in p.names}))
    return result


# -- openrc ------------------------------------------------------------------

def openrc(dep: Deployment, project: str, region: str | None) -> str:
    try:
        return credentials.openrc(dep.topology, project, region)
    except credentials.CredentialsError as exc:
        raise LauncherError(str(exc)) from exc
