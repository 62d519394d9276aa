"""The supervisor: starts every service, keeps it running, stops it on request.

Start order, each step waiting for the previous one:

1. identity, until ``/healthcheck`` answers; then the identity bootstrap
   (projects, users, regions, catalog) — the networking services log in as
   the service user, so it must exist before they take requests;
2. the key manager (OpenStack Barbican), until ``/healthcheck`` answers;
3. central networking, until healthy;
4. every region's local networking (started together), until healthy;
5. the networking bootstrap (pods, management networks, security groups,
   health-manager ports), which needs central and the regions.

Then ``run/state.json`` says ``ready`` and the supervisor watches its
children: one that exits is started again after a backoff (0.5 s doubling up
to 10 s; reset once it has run for 30 s). SIGTERM or SIGINT stops every child
(SIGTERM, then SIGKILL after a timeout) in reverse start order.

Children run in their own session, so a Ctrl-C on the terminal reaches only
the supervisor (which then stops them in order), and with
``PR_SET_PDEATHSIG`` so they do not outlive a supervisor that was killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

import httpx

from tricircle_lb.dataplane.underlay import Underlay
from tricircle_lb.deploy import bootstrap, processes
from tricircle_lb.deploy.services import Kind, Service, underlay_spec
from tricircle_lb.deploy.state import Secrets, StatePaths, read_json, write_json
from tricircle_lb.deploy.topology import Topology

LOG = logging.getLogger(__name__)

HEALTH_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0
BACKOFF_BASE = 0.5
BACKOFF_MAX = 10.0
STABLE_AFTER = 30.0
SUPERVISOR = "supervisor"

Progress = Callable[[str], None]


class StartError(Exception):
    """A service did not come up, or the bootstrap failed; the deployment is stopped."""


class Stopping(Exception):
    """SIGTERM/SIGINT arrived while starting."""


@dataclass
class Child:
    service: Service
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    restarts: int = 0
    extra: dict[str, str] = field(default_factory=dict)


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Supervisor:
    def __init__(self, topology: Topology, services: list[Service], secrets: Secrets,
                 progress: Progress | None = None) -> None:
        self.topology = topology
        self.paths = StatePaths(topology.state_dir)
        self.secrets = secrets
        self.children = [Child(s) for s in services]
        self.progress = progress or (lambda _msg: None)
        self._stopping = False

    # -- lifecycle -----------------------------------------------------------

    def run(self, on_ready: Callable[[], None] | None = None) -> int:
        """Start everything, supervise until signalled; the exit status."""
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        processes.write_pid(self.paths.pid_file(SUPERVISOR), os.getpid())
        self._state("starting")
        try:
            try:
                self._start_all()
            except Stopping:
                LOG.info("stop requested while starting")
                return 0
            except StartError as exc:
                LOG.error("start failed: %s", exc)
                self._state("failed", error=str(exc))
                return 1
            self._state("ready")
            LOG.info("deployment ready")
            if on_ready is not None:
                on_ready()
            self._watch()
            return 0
        finally:
            self._stop_all()
            if self._read_phase() != "failed":
                self._state("stopped")
            self.paths.pid_file(SUPERVISOR).unlink(missing_ok=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        LOG.info("received %s, stopping", signal.Signals(signum).name)
        self._stopping = True

    def _start_all(self) -> None:
        identity = [c for c in self.children if c.service.kind is Kind.IDENTITY]
        key_manager = [c for c in self.children if c.service.kind is Kind.KEY_MANAGER]
        central = [c for c in self.children if c.service.name == "central"]
        regions = [c for c in self.children
                   if c.service.kind is Kind.NETWORKING and c.service.name != "central"]
        compute = [c for c in self.children if c.service.kind is Kind.COMPUTE]
        agents = [c for c in self.children if c.service.kind is Kind.AGENT]
        balancers = [c for c in self.children if c.service.kind is Kind.LOADBALANCER]
        for group in (identity, key_manager, central, regions, compute, agents, balancers):
            if not group:
                continue
            if group is agents:
                self.progress("building the underlay (host namespaces, VTEPs, trunks)")
                Underlay(underlay_spec(self.topology)).ensure()
            for child in group:
                where = f" on {child.service.url}" if child.service.has_api else ""
                self.progress(f"starting {child.service.label}{where}")
                self._spawn(child)
            for child in group:
                if child.service.has_api:
                    self._wait_healthy(child)
            if group is identity:
                self.progress("bootstrapping identity (projects, users, regions, catalog)")
                self._retrying("identity bootstrap", lambda: bootstrap.identity(
                    self.topology, self.secrets, [c.service for c in self.children]))
            if group is agents:
                self.progress("waiting for every host agent to report")
                self._retrying("host agents", lambda: bootstrap.wait_agents(
                    self.topology, self.secrets), timeout=HEALTH_TIMEOUT)
        if regions:
            self.progress("creating pods and the management networks of every region")
            self._retrying("networking bootstrap",
                           lambda: bootstrap.networking(self.topology, self.secrets))
        if compute:
            self._retrying("compute quotas",
                           lambda: bootstrap.compute_quotas(self.topology, self.secrets))

    def _retrying(self, what: str, step: Callable[[], None], timeout: float = 60.0) -> None:
        """Run an idempotent bootstrap step, retrying while services settle."""
        deadline = time.monotonic() + timeout
        delay = 0.5
        while True:
            self._check_stop()
            try:
                step()
                return
            except bootstrap.Retryable as exc:
                if time.monotonic() > deadline:
                    raise StartError(f"{what} failed: {exc}") from exc
                LOG.warning("%s: %s; retrying in %.1fs", what, exc, delay)
            except bootstrap.BootstrapError as exc:
                raise StartError(f"{what} failed: {exc}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _watch(self) -> None:
        while not self._stopping:
            now = time.monotonic()
            for child in self.children:
                proc = child.process
                if proc is not None and proc.poll() is not None:
                    ran = now - child.started_at
                    child.failures = 1 if ran > STABLE_AFTER else child.failures + 1
                    delay = min(BACKOFF_BASE * 2 ** (child.failures - 1), BACKOFF_MAX)
                    LOG.warning("%s exited with status %s after %.1fs; restarting in %.1fs",
                                child.service.name, proc.returncode, ran, delay,
                                extra={"fields": {"service_name": child.service.name,
                                                  "returncode": proc.returncode}})
                    child.process = None
                    child.restart_at = now + delay
                elif proc is None and child.restart_at is not None and now >= child.restart_at:
                    child.restart_at = None
                    child.restarts += 1
                    self._spawn(child)
            time.sleep(0.2)

    def _stop_all(self) -> None:
        running = [c for c in reversed(self.children)
                   if c.process is not None and c.process.poll() is None]
        if running:
            self.progress("stopping " + ", ".join(c.service.name for c in running))
        processes.terminate([c.process.pid for c in running if c.process is not None],
                            STOP_TIMEOUT)
        for child in self.children:
            if child.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.process.wait(timeout=1)
            child.process = None
            self.paths.pid_file(child.service.name).unlink(missing_ok=True)

    # -- children ------------------------------------------------------------

    def _spawn(self, child: Child) -> None:
        service = child.service
        cmd = [sys.executable, "-m", "tricircle_lb.cli", "serve", service.kind.value,
               "--config-file", str(service.config_file)]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.paths.stdout_file(service.name), "ab") as out:
            child.process = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=env, start_new_session=True, close_fds=True,
                preexec_fn=_die_with_parent,  # the supervisor runs no threads
            )
        child.started_at = time.monotonic()
        processes.write_pid(self.paths.pid_file(service.name), child.process.pid)
        LOG.info("started %s (pid %d)", service.name, child.process.pid,
                 extra={"fields": {"service_name": service.name, "pid": child.process.pid}})

    def _wait_healthy(self, child: Child) -> None:
        service = child.service
        deadline = time.monotonic() + HEALTH_TIMEOUT
        with httpx.Client(timeout=2.0) as client:
            while True:
                self._check_stop()
                proc = child.process
                if proc is None or proc.poll() is not None:
                    code = proc.returncode if proc is not None else "?"
                    raise StartError(
                        f"{service.name} exited with status {code} while starting; "
                        f"last output:\n{tail(self.paths.stdout_file(service.name))}")
                try:
                    if client.get(service.health_url).status_code == 200:
                        LOG.info("%s is healthy", service.name)
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise StartError(f"{service.name} did not answer {service.health_url} "
                                     f"within {HEALTH_TIMEOUT:.0f}s")
                time.sleep(0.2)

    def _check_stop(self) -> None:
        if self._stopping:
            raise Stopping()

    # -- state file ----------------------------------------------------------

    def _state(self, phase: str, error: str = "") -> None:
        data: dict[str, object] = {"phase": phase, "pid": os.getpid(), "time": time.time()}
        if error:
            data["error"] = error
        write_json(self.paths.supervisor_state, data)

    def _read_phase(self) -> str | None:
        data = read_json(self.paths.supervisor_state)
        return str(data.get("phase")) if data else None


def tail(path: os.PathLike[str] | str, lines: int = 20) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return "(no output)"
    return "\n".join(data.splitlines()[-lines:]) or "(no output)"
