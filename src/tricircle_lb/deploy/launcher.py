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
from dataclasses import dataclass
from pathlib import Path

import httpx

from tricircle_lb.deploy import bootstrap, cleanup, credentials, processes
from tricircle_lb.deploy.services import (
    Kind,
    Service,
    identity_url,
    services,
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


def supervise(dep: Deployment) -> int:
    """The detached supervisor's body (``tricircle-lb supervise``)."""
    secrets = dep.secrets()
    if secrets is None:
        raise LauncherError(f"no secrets in {dep.paths.root}; run tricircle-lb up")
    return Supervisor(dep.topology, dep.services, secrets).run()


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
    done += cleanup.cleanup(dep.topology)
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
class Holdings:
    region: str
    networks: int | None
    subnets: int | None
    ports: int | None
    error: str = ""
    shadow_ports: int | None = None
    servers: int | None = None
    agents: str = "-"  # alive/expected


@dataclass(frozen=True)
class Status:
    state_dir: Path
    supervisor_pid: int | None
    phase: str
    services: list[ServiceStatus]
    holdings: list[Holdings]

    @property
    def running(self) -> bool:
        return self.supervisor_pid is not None


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
    return Status(paths.root, pid, phase, result, _holdings(dep, result))


def _holdings(dep: Deployment, statuses: list[ServiceStatus]) -> list[Holdings]:
    nets = [s for s in statuses if s.service.kind is Kind.NETWORKING]
    secrets = dep.secrets()
    if secrets is None or not any(s.healthy for s in statuses):
        return [Holdings(s.service.region or "", None, None, None, "down") for s in nets]
    try:
        with bootstrap.admin_client(dep.topology, secrets) as (client, token):
            computes = {s.service.region: s for s in statuses
                        if s.service.kind is Kind.COMPUTE}
            return [_count(client, token, dep, s, computes.get(s.service.region))
                    for s in nets]
    except bootstrap.BootstrapError as exc:
        return [Holdings(s.service.region or "", None, None, None, str(exc)[:80])
                for s in nets]


def _count(client: httpx.Client, token: str, dep: Deployment, s: ServiceStatus,
           compute: ServiceStatus | None) -> Holdings:
    region = s.service.region or ""
    if not s.healthy:
        return Holdings(region, None, None, None, "down")
    api = bootstrap.Api(client, s.service.url, token)
    try:
        counts = [len(api.call("GET", f"/v2.0/{c}").get(c, []))
                  for c in ("networks", "subnets", "ports")]
        if region == dep.topology.central.region_name:
            return Holdings(region, counts[0], counts[1], counts[2])
        shadows = len(api.call("GET", "/v2.0/ports",
                               params={"device_owner": "compute:shadow"})["ports"])
        alive = sum(a["alive"] for a in api.call("GET", "/v2.0/agents")["agents"])
        servers = None
        if compute is not None and compute.healthy:
            nova = bootstrap.Api(client, f"{compute.service.url}/v2.1", token)
            servers = len(nova.call("GET", "/servers", params={"all_tenants": "1"})["servers"])
    except bootstrap.BootstrapError as exc:
        return Holdings(region, None, None, None, str(exc)[:80])
    expected = len(dep.topology.region(region).all_hosts)
    return Holdings(region, counts[0], counts[1], counts[2], shadow_ports=shadows,
                    servers=servers, agents=f"{alive}/{expected}")


# -- openrc ------------------------------------------------------------------

def openrc(dep: Deployment, project: str, region: str | None) -> str:
    try:
        return credentials.openrc(dep.topology, project, region)
    except credentials.CredentialsError as exc:
        raise LauncherError(str(exc)) from exc
