"""Helpers for tests that drive a real embedded deployment (see ``tests/conftest.py``).

:class:`Cloud` is what the session fixture ``cloud`` yields. The deployment
gets its own free 127.0.0.1 ports and a state directory under pytest's
temporary directory, so it never clashes with a demo running on the default
ports. It is started with the real CLI (``tricircle-lb up --detach``) and
always removed (``down --purge``): at the end of the session, and by an
``atexit``/SIGTERM guard if the run is cut short.
"""

from __future__ import annotations

import atexit
import configparser
import contextlib
import io
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from tricircle_lb.deploy.topology import Topology, default_topology_text, parse

BIN = Path(sys.executable).parent
TRICIRCLE_LB = str(BIN / "tricircle-lb")
OPENSTACK = str(BIN / "openstack")
UP_TIMEOUT = 300
DOWN_TIMEOUT = 300
# The load-balancer controllers' retries in test deployments (topology [loadbalancer]).
LB_JOB_ATTEMPTS, LB_JOB_BACKOFF_MAX = 8, 2


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 right now."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def write_topology(path: Path, state_dir: Path, regions: int = 2,
                   hosts_per_region: int = 2) -> dict[str, int]:
    """A test topology like the default one, on free ports; the ports by service.

    Its namespaces get a prefix of their own (``tcl-t<hex>-``), so test
    deployments never touch each other's or a running demo's.
    """
    ports = free_ports(2 + 3 * regions + 1)  # the last one: the key manager
    names = [f"Region{n}" for n in ("One", "Two", "Three", "Four")[:regions]]
    prefix = fresh_prefix()
    text = [
        "[DEFAULT]", f"state_dir = {state_dir}", "bind_host = 127.0.0.1", "",
        "[identity]", f"port = {ports[0]}", "token_expiration = 3600", "",
        "[central]", "region_name = CentralRegion", f"port = {ports[1]}", "",
        "[underlay]", f"prefix = {prefix}", "",
        "[key_manager]", f"port = {ports[-1]}", "",
        # A flow that keeps failing gives up within seconds (test_nothing_stuck.py), not
        # the minutes of the default (30 attempts, backoff up to 10 s).
        "[loadbalancer]", f"job_max_attempts = {LB_JOB_ATTEMPTS}",
        f"job_backoff_max = {LB_JOB_BACKOFF_MAX}", "",
    ]
    for i, name in enumerate(names):
        hosts = ", ".join(f"{name}-host{n + 1}" for n in range(hosts_per_region))
        text += [f"[region:{name}]", f"availability_zone = az{i + 1}",
                 f"network_port = {ports[2 + i]}",
                 f"compute_port = {ports[2 + regions + i]}",
                 f"loadbalancer_port = {ports[2 + 2 * regions + i]}",
                 f"mgmt_subnet_cidr = 192.168.{10 * (i + 1)}.0/24",
                 f"controller_host = {name}-controller", f"hosts = {hosts}", ""]
    path.write_text("\n".join(text))
    result = {"identity": ports[0], "central": ports[1], "key-manager": ports[-1]}
    result.update({f"region-{n}": ports[2 + i] for i, n in enumerate(names)})
    result.update({f"compute-{n}": ports[2 + regions + i] for i, n in enumerate(names)})
    result.update({f"loadbalancer-{n}": ports[2 + 2 * regions + i]
                   for i, n in enumerate(names)})
    return result


def fresh_prefix() -> str:
    """A namespace prefix no other deployment uses (``tcl-t<hex>-``)."""
    return f"tcl-t{secrets.token_hex(3)}-"


def private_default_topology(state_dir: Path) -> Topology:
    """The packaged default topology with a fresh namespace prefix, for tests that need
    the default's shape: ``down`` of it can never touch a user's ``tcl-`` deployment."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(default_topology_text())
    parser["underlay"]["prefix"] = fresh_prefix()
    text = io.StringIO()
    parser.write(text)
    return parse(text.getvalue(), "<default topology, private prefix>", state_dir)


def clean_env() -> dict[str, str]:
    """This process's environment without anyone's OpenStack or tricircle-lb settings."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("OS_", "TRICIRCLE_LB_"))}


@dataclass
class Cloud:
    """A running deployment and helpers to drive it with the real clients."""

    state_dir: Path
    config: Path
    ports: dict[str, int]
    admin_password: str = ""
    demo_password: str = ""
    regions: list[str] = field(default_factory=lambda: ["RegionOne", "RegionTwo"])
    _openrc: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict, repr=False)

    @property
    def identity_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['identity']}/v3"

    @property
    def central_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['central']}"

    @property
    def region_urls(self) -> dict[str, str]:
        return {r: f"http://127.0.0.1:{self.ports[f'region-{r}']}" for r in self.regions}

    @property
    def endpoints(self) -> dict[str, str]:
        return {"identity": self.identity_url, "CentralRegion": self.central_url,
                **self.region_urls}

    def url_of(self, region: str) -> str:
        """Networking URL of ``region`` (``CentralRegion`` or a region name)."""
        return self.central_url if region == "CentralRegion" else self.region_urls[region]

    def pid(self, service: str) -> int:
        """Current pid of ``identity``, ``central``, ``region-RegionOne`` … (from run/)."""
        return int((self.state_dir / "run" / f"{service}.pid").read_text().split()[0])

    def admin_token(self) -> str:
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"name": "Default"},
                "password": self.admin_password}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
        resp = httpx.post(f"{self.identity_url}/auth/tokens", json=body, timeout=30)
        resp.raise_for_status()
        return resp.headers["X-Subject-Token"]

    def admin_get(self, region: str, path: str) -> Any:
        """GET ``path`` on ``region``'s networking API as admin; the parsed JSON."""
        resp = httpx.get(f"{self.url_of(region)}{path}", timeout=30,
                         headers={"X-Auth-Token": self.admin_token()})
        resp.raise_for_status()
        return resp.json()

    @property
    def prefix(self) -> str:
        """The namespace prefix of this deployment (``tcl-t<hex>-``)."""
        for line in self.config.read_text().splitlines():
            if line.startswith("prefix = "):
                return line.removeprefix("prefix = ").strip()
        return "tcl-"

    def exec(self, region: str, *command: str, network: str | None = None,
             server: str | None = None, keep_probe: bool = True,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``tricircle-lb exec`` in an instance or on a network (probe kept by default,
        so a test's many calls share one; ``down`` removes it)."""
        target = ["--server", server] if server else ["--network", str(network)]
        line = [TRICIRCLE_LB, "exec", "--region", region, *target,
                "--config", str(self.config), "--state-dir", str(self.state_dir)]
        if keep_probe and network:
            line.append("--keep-probe")
        return subprocess.run([*line, "--", *command], capture_output=True, text=True,
                              env=clean_env(), timeout=timeout, stdin=subprocess.DEVNULL,
                              check=False)

    def host_namespace(self, host: str) -> str:
        return f"{self.prefix}h-{host}"

    def cli(self, *args: str, check: bool = True,
            timeout: float = UP_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run ``tricircle-lb ARGS --config … --state-dir …``."""
        cmd = [TRICIRCLE_LB, *args, "--config", str(self.config),
               "--state-dir", str(self.state_dir)]
        result = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(),
                                timeout=timeout, stdin=subprocess.DEVNULL,
                                check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def env(self, project: str = "admin", region: str = "RegionOne") -> dict[str, str]:
        """Environment for the real ``openstack`` CLI: exactly what ``eval $(openrc)`` sets."""
        key = (project, region)
        if key not in self._openrc:
            out = self.cli("openrc", "--project", project, "--region", region).stdout
            self._openrc[key] = {k: shlex.split(v)[0] for k, v in (
                line.removeprefix("export ").split("=", 1) for line in out.splitlines())}
        env = clean_env()
        env.update(self._openrc[key])
        return env

    def openstack_raw(self, *args: str, project: str = "admin", region: str = "RegionOne",
                      ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([OPENSTACK, *args], capture_output=True, text=True,
                              env=self.env(project, region), timeout=120,
                              stdin=subprocess.DEVNULL, check=False)

    def openstack(self, *args: str, project: str = "admin", region: str = "RegionOne") -> Any:
        """Run ``openstack ARGS -f json``; the parsed output (raises on failure)."""
        result = self.openstack_raw(*args, "-f", "json", project=project, region=region)
        if result.returncode != 0:
            raise AssertionError(f"openstack {' '.join(args)} failed "
                                 f"({result.returncode}):\n{result.stderr}")
        return json.loads(result.stdout) if result.stdout.strip() else None


def start_cloud(root: Path, regions: int = 2) -> Cloud:
    state_dir = root / "state"
    config = root / "topology.ini"
    ports = write_topology(config, state_dir, regions)
    cloud = Cloud(state_dir, config, ports,
                  regions=[n for n in ports if n.startswith("region-")])
    cloud.regions = [n.removeprefix("region-") for n in cloud.regions]
    GUARD.add(cloud)
    cloud.cli("up", "--detach")
    secrets = (state_dir / "secrets.ini").read_text()
    for line in secrets.splitlines():
        key, _, value = line.partition(" = ")
        if key == "admin_password":
            cloud.admin_password = value
        elif key == "demo_password":
            cloud.demo_password = value
    return cloud


def stop_cloud(cloud: Cloud) -> None:
    """``down --purge`` the deployment; if that fails or leaves any of its namespaces,
    sweep them here and print what ``down`` said, so a broken ``down`` shows in the
    test log and never leaks into the machine."""
    prefix = cloud.prefix
    try:
        result = cloud.cli("down", "--purge", check=False, timeout=DOWN_TIMEOUT)
        said = f"exit {result.returncode}:\n{result.stdout}\n{result.stderr}"
    except Exception as exc:  # a timeout or a crash: sweep regardless
        said = repr(exc)
    finally:
        GUARD.discard(cloud)
    left = [n for n in _namespaces() if n.startswith(prefix)]
    if not prefix.startswith("tcl-t"):  # never a test's own prefix: sweep nothing
        return
    if left or "exit 0:" not in said:
        _sweep(prefix)
        # Past pytest's capture, so the run's log shows it even when every test passed.
        print(f"\n!! down --purge of {cloud.state_dir} left {len(left)} namespaces "
              f"{left[:5]}; swept {prefix}. down said: {said[-2000:]}", file=sys.__stderr__)


def _namespaces() -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                            check=False).stdout
    return [line.split()[0] for line in listed.splitlines() if line.strip()]


def _sweep(prefix: str) -> None:
    """What ``down`` removes outside the state directory, for one test prefix."""
    from tricircle_lb.dataplane.teardown import teardown_all
    from tricircle_lb.deploy.claims import CLAIMS_DIR
    from tricircle_lb.guest.cgroups import remove_deployment

    teardown_all(prefix)
    remove_deployment(prefix)
    (CLAIMS_DIR / prefix).unlink(missing_ok=True)


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.5,
             what: str = "condition") -> Any:
    """``predicate()``'s first true value; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        time.sleep(interval)


class _Guard:
    """Stops deployments left running when the test run is killed or exits early."""

    def __init__(self) -> None:
        self.clouds: list[Cloud] = []
        self.installed = False
        self.owner = os.getpid()

    def add(self, cloud: Cloud) -> None:
        self.clouds.append(cloud)
        if not self.installed:
            self.installed = True
            atexit.register(self.stop_all)
            with contextlib.suppress(ValueError):  # not the main thread
                signal.signal(signal.SIGTERM, self._on_sigterm)

    def discard(self, cloud: Cloud) -> None:
        if cloud in self.clouds:
            self.clouds.remove(cloud)

    def stop_all(self) -> None:
        if os.getpid() != self.owner:
            return
        for cloud in list(self.clouds):
            stop_cloud(cloud)

    def _on_sigterm(self, signum: int, _frame: FrameType | None) -> None:
        if os.getpid() != self.owner:  # a forked copy of the test run: only end it
            os._exit(128 + signum)
        self.stop_all()
        raise SystemExit(128 + signum)


GUARD = _Guard()
